/* add(a, b) and the version of the Python it was compiled against: proves the headers match. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "pyruntimes_cext", NULL, -1, methods};

PyMODINIT_FUNC PyInit_pyruntimes_cext(void) {
    PyObject *m = PyModule_Create(&module);
    if (m) PyModule_AddStringConstant(m, "compiled_for", PY_VERSION);
    return m;
}
