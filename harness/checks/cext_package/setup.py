from setuptools import Extension, setup

# One source, two modules: pyruntimes_cext declares that it runs without the GIL (on a
# free-threaded build), pyruntimes_cext_gil does not (importing it turns the GIL back on there).
setup(ext_modules=[
    Extension("pyruntimes_cext", ["pyruntimes_cext.c"],
              define_macros=[("MODULE_NAME", '"pyruntimes_cext"'), ("INIT_FUNCTION", "PyInit_pyruntimes_cext")]),
    Extension("pyruntimes_cext_gil", ["pyruntimes_cext.c"],
              define_macros=[("MODULE_NAME", '"pyruntimes_cext_gil"'), ("INIT_FUNCTION", "PyInit_pyruntimes_cext_gil"),
                             ("NEEDS_THE_GIL", "1")]),
])
