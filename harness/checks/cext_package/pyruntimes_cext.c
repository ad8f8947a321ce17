/* add(a, b) and the version of the Python it was compiled against: proves the headers match.
 *
 * On a free-threaded build (Py_GIL_DISABLED, PEP 703) a module must say that it is safe without
 * the GIL, or importing it turns the GIL back on for the whole process (with a RuntimeWarning):
 * this one says so; pyruntimes_cext_gil.c, the same module without it, shows the other case. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, MODULE_NAME, NULL, -1, methods};

PyMODINIT_FUNC INIT_FUNCTION(void) {
    PyObject *m = PyModule_Create(&module);
    if (m) PyModule_AddStringConstant(m, "compiled_for", PY_VERSION);
#if defined(Py_GIL_DISABLED) && !defined(NEEDS_THE_GIL)
    /* Single-phase init's way to declare Py_mod_gil = Py_MOD_GIL_NOT_USED (3.13+). */
    if (m && PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
