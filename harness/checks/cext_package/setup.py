from setuptools import Extension, setup

setup(ext_modules=[Extension("pyruntimes_cext", ["pyruntimes_cext.c"])])
