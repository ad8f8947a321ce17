/* The embedding check's program (harness/checks/embed_check.py): an application that embeds the runtime
 * under test, as mod_wsgi, uWSGI or a PyO3 binary does.
 *
 * Built twice in the stack's build image, run in its run image:
 *   embed-linked   linked against lib/libpython3.X.so with the flags `python3-config --embed` gives;
 *   embed-dlopen   (-DVIA_DLOPEN) links no libpython: it loads the stable-ABI lib/libpython3.so
 *                  given as argv[1] at run time, as embedders that support several versions do,
 *                  and finds the API through it (dlsym searches the library's dependencies).
 * Both are told where the runtime is by PYTHONHOME, as embedders are told (harness/checks/embed_check.py). */
#include <stdio.h>
#include <stdlib.h>

static const char *CODE =
    "import sys, json, decimal, sqlite3, ssl, zlib\n"
    "print('embedded', sys.version.split()[0], sys.prefix, json.dumps(str(decimal.Decimal('0.1') * 3)))\n";

#ifdef VIA_DLOPEN
#include <dlfcn.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: embed-dlopen PATH/libpython3.so\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
    void (*initialize)(int) = (void (*)(int))dlsym(lib, "Py_InitializeEx");
    int (*run)(const char *, void *) = (int (*)(const char *, void *))dlsym(lib, "PyRun_SimpleStringFlags");
    int (*finalize)(void) = (int (*)(void))dlsym(lib, "Py_FinalizeEx");
    if (!initialize || !run || !finalize) { fprintf(stderr, "dlsym: %s\n", dlerror()); return 1; }
    initialize(0);
    if (run(CODE, NULL) != 0) return 1;
    return finalize() == 0 ? 0 : 1;
}
#else
#define PY_SSIZE_T_CLEAN
#include <Python.h>

int main(void) {
    Py_InitializeEx(0);
    if (PyRun_SimpleString(CODE) != 0) return 1;
    return Py_FinalizeEx() == 0 ? 0 : 1;
}
#endif
