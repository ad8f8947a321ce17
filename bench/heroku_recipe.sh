#!/usr/bin/env bash
# The comparison build of bench/speed.py: CPython as Heroku's recipe builds it
# (heroku/heroku-buildpack-python, builds/build_python_runtime.sh, read 2026-11): written here from
# its description, not copied, so that "ours vs Heroku's" is measured on the same stack, the same
# source and the same machine. What makes it Heroku's:
#   - configure: --enable-optimizations --with-lto (PGO with upstream's default training task, LTO),
#     --enable-shared --without-static-libpython (the interpreter runs from libpython3.X.so, found
#     through LD_LIBRARY_PATH at run time), --disable-test-modules (3.11+), --with-ensurepip=no,
#     --enable-loadable-sqlite-extensions, --enable-option-checking=fatal, --build=<dpkg triple>;
#   - make: EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)" (placed after OPT: -O2 wins over -O3),
#     LDFLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,--strip-all".
# Inputs as for builds/build-python.sh: SOURCE_TARBALL, PYTHON_VERSION, MAKE_JOBS; installs into
# /tmp/python (Heroku's prefix), a bind mount. Prints "::cpu::" as our build script does.
set -euo pipefail
: "${SOURCE_TARBALL:?}" "${PYTHON_VERSION:?}" "${MAKE_JOBS:=1}"
export SOURCE_DATE_EPOCH=946684800
mkdir -p /tmp/src && cd /tmp/src
tar --extract --file "$SOURCE_TARBALL" --strip-components=1
args=(--build="$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)" --prefix=/tmp/python --enable-loadable-sqlite-extensions
      --enable-optimizations --enable-option-checking=fatal --enable-shared --with-ensurepip=no --with-lto
      --without-static-libpython)
minor=${PYTHON_VERSION#3.}; minor=${minor%%.*}
# Heroku's script adds it for every version but 3.10 (it builds none older); 3.9 has no such option.
[ "$minor" -ge 11 ] && args+=(--disable-test-modules)
./configure "${args[@]}"
make -j "$MAKE_JOBS" EXTRA_CFLAGS="$(dpkg-buildflags --get CFLAGS)" LDFLAGS="$(dpkg-buildflags --get LDFLAGS) -Wl,--strip-all"
make install
times >/tmp/times.txt  # not `times | awk`: a pipeline's subshell has no children of its own
awk 'function seconds(t) { split(t, part, "m"); return part[1] * 60 + substr(part[2], 1, length(part[2]) - 1) }
    NR == 2 { printf "::cpu:: {\"user_seconds\": %.1f, \"system_seconds\": %.1f}\n", seconds($1), seconds($2) }' /tmp/times.txt
