#!/usr/bin/env bash
# Build one CPython runtime inside a stack's build image.
#
# The harness runs this in a container with no network and no credentials. Inputs (all read-only):
#   SOURCE_TARBALL   the checksum-verified upstream tarball, mounted from the host's cache
#   PYTHON_VERSION   X.Y.Z, from the formula
#   BUILD_PROFILE    "release" (PGO + LTO: what gets deployed) or "quick" (neither: for validation)
#   JOBSERVER_FD     fd of the run's shared GNU make jobserver (harness/jobserver.py): every build
#                    of a run draws from one pool of as many slots as cores
#   MAKE_JOBS        without JOBSERVER_FD (by hand, in `make buildenv`): a private make -j
#   CONFIGURE_EXTRA  extra configure arguments from the formula, one per line
#   SOURCE_DATE_EPOCH  the source's release date (the newest mtime in its tarball): the date the
#                    runtime reports (sys.version), the same for every build of that source
#   PROFILE_IN       release builds, optional: the profile of an earlier build of the same inputs
#                    (the tar PROFILE_OUT names), used instead of a training run: a rebuild
#   PATCHES          optional: patch files (one path per line) applied to the source in order, -p1
#   ABI_SUFFIX       optional: a variant's ABI flag ("t": free-threaded, with --disable-gil in
#                    CONFIGURE_EXTRA; builds/variants.toml)
#   VARIANT_CFLAGS   optional: a variant's target options for CPython's own code (-march=x86-64-v3;
#                    builds/variants.toml), added to CFLAGS_NODIST: never handed to users' extensions
#   CROSS_ARCH       optional: a Debian architecture other than the image's (arm64 in an amd64
#                    image) to cross-compile for; the image has the cross compiler and the target's
#                    -dev packages (stack.toml [cross]). 3.11+ (configure's --with-build-python).
# Output: the installed, pruned tree in $PREFIX, a bind mount of a host folder; release builds also
#   PROFILE_OUT      the profiles the build used (PGO's *.gcda, BOLT's python.fdata), as a tar
#                    packed the same way every time: what a rebuild of the same bytes needs
#
# Lines starting with "::phase::" tell the harness which phase is running.
set -euo pipefail

: "${SOURCE_TARBALL:?}" "${PYTHON_VERSION:?}" "${BUILD_PROFILE:?}" "${MAKE_JOBS:=1}"
PREFIX=${PREFIX:-/build/python}
# A fixed path: it ends up in debug info and __file__ of build-time objects; a random one would
# make two builds of the same inputs differ.
SRC_DIR=/tmp/python-src
mkdir -p "$SRC_DIR"
PYTHON_MINOR=${PYTHON_VERSION%.*}
# The ABI's name: X.Y and a variant's flag (ABI_SUFFIX "t": a free-threaded build, configure's
# --disable-gil, installs bin/python3.13t, lib/python3.13t/ and libpython3.13t.so; PEP 703).
PYTHON_ABI=$PYTHON_MINOR${ABI_SUFFIX:-}

phase() { echo "::phase:: $1"; }
run_make() {
    if [ -n "${JOBSERVER_FD:-}" ]; then
        # No -j here: a -j on the command line would make this make start a jobserver of its own.
        env MAKEFLAGS="-j --jobserver-auth=$JOBSERVER_FD,$JOBSERVER_FD" make "$@"
    else
        make -j "$MAKE_JOBS" "$@"
    fi
}

# Cross-compiling (issue 14): an arm64 pair built on an amd64 machine. Compiling is most of a
# build's time, and an arm64 gcc run under QEMU is 13x slower than the native one, Debian's x86-64
# cross compiler 1.07x (bench/emulation.py): so the compiler runs natively, and only what must run
# the target's own code (the PGO training) runs under emulation. TARGET_ARCH is what the binaries
# are for: the image's own architecture, unless CROSS_ARCH names another.
TARGET_ARCH=$(dpkg --print-architecture)
CROSS_HOST=""
if [ -n "${CROSS_ARCH:-}" ] && [ "$CROSS_ARCH" != "$TARGET_ARCH" ]; then
    TARGET_ARCH=$CROSS_ARCH
    CROSS_HOST=$(dpkg-architecture --host-arch "$CROSS_ARCH" --query DEB_HOST_GNU_TYPE 2>/dev/null)
    if [ "${PYTHON_MINOR#3.}" -lt 11 ]; then
        echo "CROSS_ARCH: cross builds need 3.11+ (configure's --with-build-python); build $PYTHON_VERSION under emulation"
        exit 1
    fi
    if [ ! -f "/opt/pyruntimes/cross/$CROSS_HOST.config.site" ]; then
        echo "CROSS_ARCH=$CROSS_ARCH: no builds/cross/$CROSS_HOST.config.site with configure's answers for that target"
        exit 1
    fi
fi
# Tools that read or write the target's binaries: binutils' are per target.
STRIP=${CROSS_HOST:+$CROSS_HOST-}strip

# Builds of the same inputs should give the same bytes: GCC takes __DATE__/__TIME__ (which
# CPython puts in sys.version, `python -VV`) from SOURCE_DATE_EPOCH when it is set
# (reproducible-builds.org). The harness passes the source's own release date, a fact about the
# pinned input: true, and the same for every build (a fixed 2000-01-01 read as a bug).
[[ "${SOURCE_DATE_EPOCH:-}" =~ ^[1-9][0-9]*$ ]] \
    || { echo "SOURCE_DATE_EPOCH: the source's release date in seconds (harness/sources.py: release_epoch)"; exit 1; }
export SOURCE_DATE_EPOCH

phase extract
# The source as the formula gives it: the tarball, then its patches (upstream fixes released after
# it: builds/patches/), each of which must apply whole, or the build stops.
unpack_source() {
    tar --extract --file "$SOURCE_TARBALL" --strip-components=1 --directory "$1"
    if [ -n "${PATCHES:-}" ]; then
        while read -r patch_file; do
            patch --directory "$1" --strip=1 --forward --batch --quiet <"$patch_file" \
                || { echo "$(basename "$patch_file") does not apply to $PYTHON_VERSION's source"; exit 1; }
            if [ "$1" = "$SRC_DIR" ]; then echo "applied $(basename "$patch_file")"; fi
        done <<<"$PATCHES"
    fi
}
unpack_source "$SRC_DIR"
cd "$SRC_DIR"

# A cross build runs CPython's own build tools (freezing, sysconfig, setup.py, compileall, the
# bytecode below) with a python of the same version that runs here: configure's
# --with-build-python. Built from the same source and never installed (the build tree's python
# finds its modules in that tree: pybuilddir.txt). It is a tool, so it is built for build time:
# at -O1, without the extension modules no build step imports (measured for 3.13.15 on 2 cores:
# 51 s instead of 107 s; the bytecode it writes is the same).
BUILD_PYTHON=""
if [ -n "$CROSS_HOST" ]; then
    phase build-python
    BUILD_PYTHON_DIR=/tmp/python-for-build
    mkdir -p "$BUILD_PYTHON_DIR"
    unpack_source "$BUILD_PYTHON_DIR"
    unneeded=()
    for module in _decimal _ctypes _sqlite3 _ssl _hashlib _curses _curses_panel readline _dbm _gdbm _tkinter \
                  _codecs_cn _codecs_hk _codecs_jp _codecs_kr _codecs_tw _codecs_iso2022 _multibytecodec _lzma _bz2 \
                  _uuid xxlimited xxlimited_35 _elementtree pyexpat _sha3 _blake2; do
        unneeded+=("py_cv_module_$module=n/a")
    done
    (cd "$BUILD_PYTHON_DIR" && OPT="-DNDEBUG -O1" ./configure --quiet --with-ensurepip=no --disable-test-modules "${unneeded[@]}" \
        && run_make) >/tmp/build-python.log 2>&1 \
        || { tail -n 30 /tmp/build-python.log; echo "the build python (for the cross build) did not build"; exit 1; }
    BUILD_PYTHON=$BUILD_PYTHON_DIR/python
fi

phase configure
CONFIGURE_ARGS=(
    "--prefix=$PREFIX"
    # Name the target triple instead of guessing it from the host CPU (as Heroku and
    # docker-library/python do), so the result does not depend on the machine it was built on.
    "--build=$(dpkg-architecture --query DEB_BUILD_GNU_TYPE)"
    # A typo in an option must fail the build, not be ignored.
    "--enable-option-checking=fatal"
    # libpython3.X.so and libpython3.so, for embedders (PyO3, pycall, mod_wsgi). The interpreter
    # itself does not use it: it is relinked with the core linked in, after make (see below).
    "--enable-shared"
    # sqlite3.Connection.enable_load_extension(), which apps using SpatiaLite or sqlite-vec need.
    "--enable-loadable-sqlite-extensions"
    # pyexpat against the stack's libexpat, which receives the stack's security updates,
    # rather than CPython's vendored copy.
    "--with-system-expat"
    # pip is installed per app (python -m ensurepip / venv); the bundled wheel stays in the tree.
    "--with-ensurepip=no"
)
if [ "${PYTHON_MINOR#3.}" -ge 10 ]; then
    CONFIGURE_ARGS+=(
        # No libpython3.X.a installed (3.10+, bpo-43103; before, the prune phase deletes it). The
        # interpreter's relink below has make build one in the build tree all the same.
        "--without-static-libpython"
        # The test suite is deleted after install anyway; not building it saves time and space
        # (3.10+, bpo-27640). Fixed to work together with PGO in 3.11 (python/cpython#29315).
        "--disable-test-modules"
    )
fi
if [ "$BUILD_PROFILE" = release ]; then
    CONFIGURE_ARGS+=("--enable-optimizations" "--with-lto")
fi
if [ -n "$CROSS_HOST" ]; then
    CONFIGURE_ARGS+=("--host=$CROSS_HOST" "--with-build-python=$BUILD_PYTHON")
    export CONFIG_SITE=/opt/pyruntimes/cross/$CROSS_HOST.config.site
    # The target's .pc files (multiarch), not the machine's.
    export PKG_CONFIG_LIBDIR=/usr/lib/$CROSS_HOST/pkgconfig:/usr/share/pkgconfig
fi
# BOLT, LLVM's post-link optimiser, lays the interpreter's machine code out by a profile of its own
# run (hot paths together, cold ones apart): "1-5 %" per What's New in 3.12, used by
# python-build-standalone on x86-64. 3.13+ release builds, when the stack's build image has it
# (stack.toml: bolt-NN): CPython's Makefile rules for it are those of 3.13 (BOLT_BINARIES,
# profile-bolt-stamp). The newest BOLT the image has is used. CPython's configure skips
# _PyEval_EvalFrameDefault and the sre matchers by default (python/cpython#128511): LLVM 19 cannot
# rewrite computed gotos in position-independent code, which 21.1 can (llvm/llvm-project#120267).
# Our interpreter is position-dependent (LINKCC below), and there BOLT 19 rewrites the eval loop,
# the hottest function of all: tried on 3.13.5 (issue 13), instrumented, trained and applied, the
# BOLTed interpreter passed the build's compileall and test_grammar, test_descr, test_gc and
# test_multiprocessing_forkserver as the unBOLTed one does. So only the sre matchers are skipped,
# and with 21+ nothing (as python/cpython#140250 proposes upstream; untried here since the fix below).
# x86-64 only: CPython's BOLT flags are x86-64's, untried on AArch64.
BOLT=""
if [ "$BUILD_PROFILE" = release ] && [ "${PYTHON_MINOR#3.}" -ge 13 ] && [ "$TARGET_ARCH" = amd64 ]; then
    # No BOLT in the image is no error: `ls` fails on a glob that matches nothing (set -e, pipefail).
    BOLT=$(ls -d /usr/lib/llvm-*/bin/llvm-bolt 2>/dev/null | sort -V | tail -n 1 || true)
fi
bolt_json=null
if [ -n "$BOLT" ]; then
    bolt_version=$("$BOLT" --version | sed -n 's/.*LLVM version \([0-9][0-9.]*\).*/\1/p' | head -n 1)
    CONFIGURE_ARGS+=("--enable-bolt" "LLVM_BOLT=$BOLT" "MERGE_FDATA=${BOLT%/llvm-bolt}/merge-fdata")
    if [ "${bolt_version%%.*}" -ge 21 ]; then
        CONFIGURE_ARGS+=("BOLT_COMMON_FLAGS=-update-debug-sections")
    else
        CONFIGURE_ARGS+=("BOLT_COMMON_FLAGS=-update-debug-sections -skip-funcs=sre_ucs1_match/1,sre_ucs2_match/1,sre_ucs4_match/1")
    fi
    bolt_json="\"LLVM $bolt_version\""
fi
if [ -n "${CONFIGURE_EXTRA:-}" ]; then
    mapfile -t extra <<<"$CONFIGURE_EXTRA"
    CONFIGURE_ARGS+=("${extra[@]}")
fi

# The distribution's hardening flags (docker-library/python#810, Heroku does the same), plus
# bindnow, which Debian leaves out of its defaults (dpkg-buildflags(1): "-Wl,-z,relro" alone).
# relro without now is partial RELRO: the GOT's PLT slots stay writable for lazy binding. With
# "-Wl,-z,relro -Wl,-z,now" the loader binds every symbol at load time and seals the whole GOT
# read-only; python-build-standalone's validation rejects any ELF file that "does not request
# immediate symbol binding" (astral-sh/python-build-standalone#1166, #837). Configure's LDFLAGS
# reach every link: the interpreter, libpython, and the extension modules, whether the Makefile
# links them (Modules/Setup.stdlib, 3.11+) or setup.py does (the rest, until 3.12 removed it: the
# Makefile hands it LDSHARED with these flags). The elf_hardening check (harness/checks/elf_hardening.py) holds
# every ELF file of the archive to it.
#
# optimize=-lto: Ubuntu's dpkg (Heroku's stacks) turns LTO on by default on amd64 and arm64
# (Dpkg::Vendor::Ubuntu), which would make every build an LTO build, the quick ones included, and
# hand -flto=auto to users' extensions through sysconfig. LTO is the release profile's, via configure.
export DEB_BUILD_MAINT_OPTIONS="hardening=+bindnow optimize=-lto"
# The target's flags (they differ by architecture: -fcf-protection is x86's), also when cross-compiling.
buildflags() { DEB_HOST_ARCH=$TARGET_ARCH dpkg-buildflags --get "$1"; }
LDFLAGS="$(buildflags LDFLAGS)"
# dpkg's CFLAGS, sorted by where they belong. configure puts CFLAGS *after* CPython's own OPT
# ("-DNDEBUG -g -fwrapv -O3 -Wall"), so dpkg's "-g -O2" would win and build the interpreter at -O2
# (as Heroku's recipe does): optimisation level and -g are left to CPython. CFLAGS are also what
# sysconfig hands every extension users compile later, so only code-generation flags that protect
# them too go there (-fstack-protector-strong, -fstack-clash-protection, -fcf-protection); the
# build-only ones go to CFLAGS_NODIST, which builds CPython and its modules and nothing else:
# -ffile-prefix-map (names this build's folder), warnings turned errors, and -frecord-gcc-switches,
# which writes each compilation's options into the binaries (.GCC.command.line), where the
# build_flags check (harness/flags_check.py) reads back what the code was really compiled with.
# With LTO the code is made at link time, and only a link given -frecord-gcc-switches records its
# options ("GNU GIMPLE ..."), so the links get it too (LDFLAGS_NODIST).
OPTIMIZATION=-O3  # what CPython's OPT asks for; the build_flags check holds the binaries to it
CFLAGS="" CFLAGS_NODIST="-frecord-gcc-switches"
set -f  # the flags are words, not patterns
for flag in $(buildflags CFLAGS); do
    case "$flag" in
        -O*|-g) ;;
        -f*prefix-map=*|-W*) CFLAGS_NODIST+=" $flag" ;;
        *) CFLAGS+=" ${flag}" ;;
    esac
done
# dpkg's CPPFLAGS: _FORTIFY_SOURCE at the stack's level (bookworm's and trixie's dpkg: =2; Debian
# builds its python3.X so, and Debian's python3.11 imports 15 __*_chk functions where ours imported
# none), and -Wdate-time. CPython's own code only (CFLAGS_NODIST): in sysconfig's CPPFLAGS they
# would reach every extension users compile, and glibc warns "_FORTIFY_SOURCE requires compiling
# with optimization" on each file of a -O0 debug build. The elf_hardening check reads the __*_chk
# imports back from every ELF file. Its cost, measured (bench/RESULTS.md, speed-hardening): 4 % on
# pyperformance's geometric mean for 3.13.15 on debian-12, up to 9 % on eval-loop-bound benchmarks
# (richards, nbody, go), through the code LTO makes of the eval loop (callgrind: +5 % instructions
# in _PyEval_EvalFrameDefault, whose own source calls no fortifiable function); two unfortified
# builds differ by 1 %. Kept: the protection the stack's own packages have (Debian's python3.X
# included), asked for by issue 28; which inlined function costs it is not yet known.
for flag in $(buildflags CPPFLAGS); do
    CFLAGS_NODIST+=" $flag"
done
set +f
CFLAGS="${CFLAGS# }"
# The stack protector of CPython's own code: canaries in functions with character arrays
# (-fstack-protector), as Debian builds its python3.X (debian/rules swaps dpkg's
# -fstack-protector-strong for it), rather than in every function that has any array or takes the
# address of a local. 3.13's core passes results out through pointers to locals everywhere
# (PyDict_GetItemRef(d, k, &value), PyObject_GetOptionalAttr(o, n, &result)), so -strong puts
# canaries in 2,164 functions of our 3.13.5 interpreter, Debian's 77 (objdump, loads of %fs:0x28).
# CFLAGS_NODIST comes after CFLAGS on CPython's command lines, so this one wins there, while
# sysconfig's CFLAGS keep -strong for the extensions users compile.
if [[ " $CFLAGS " == *" -fstack-protector-strong "* ]]; then
    CFLAGS_NODIST+=" -fstack-protector"
fi
# A variant's target options (-march=x86-64-v3): CPython's own code only, as sysconfig's CFLAGS
# must build extensions that run wherever the default build does.
for flag in ${VARIANT_CFLAGS:-}; do
    [[ "$flag" =~ ^-m(arch|tune)=[a-z0-9][a-z0-9.-]*$ && "$flag" != *=native ]] ||
        { echo "VARIANT_CFLAGS: $flag is not -march=/-mtune= of a named target" >&2; exit 2; }
    CFLAGS_NODIST+=" $flag"
done
# What the elf_hardening check holds every ELF file to, stated: the fortify level, and whether the
# stack's flags ask for control-flow and stack-clash protection (trixie's dpkg does:
# -fcf-protection -fstack-clash-protection), which every recorded compilation must then show.
fortify=null cf_protection=false stack_clash=false
[[ " $CFLAGS_NODIST " =~ \ -D_FORTIFY_SOURCE=([0-9])\  ]] && fortify=${BASH_REMATCH[1]}
[[ " $CFLAGS " == *" -fcf-protection"[\ =]* ]] && cf_protection=true
[[ " $CFLAGS " == *" -fstack-clash-protection "* ]] && stack_clash=true
lto=false pgo=false
[ "$BUILD_PROFILE" = release ] && lto=true pgo=true

# Extension modules linked into the core instead of loaded from lib-dynload, as Debian's python3
# links about 25 of them (`python3 -c 'import sys; print(sys.builtin_module_names)'` in its image)
# and python-build-standalone all of them. Measured (bench/RESULTS.md, issue 13): with these modules
# shared, the benchmarks that lag Debian's interpreter most are theirs (xml_etree_* 0.69 to 0.82,
# json_loads 0.83), while callgrind counts only 3 % more instructions: the time goes to calls
# between a shared module and the core, each through the PLT and the GOT, which LTO cannot inline
# across. Chosen: what servers run per request (json, pickle, datetime, struct, socket, select,
# zlib, binascii, the XML parser, asyncio and contextvars) and the small modules the standard
# library imports on its way (heapq, bisect, random, math, array, ...). Left shared: the big and
# rarely hot ones (unicodedata 0.7 MB, _decimal, the CJK codecs, _ssl, _sqlite3, _ctypes), since
# every built-in module is in the archive twice, in the interpreter and in libpython3.X.so.
# How: a *static* rule in Modules/Setup.local for each, which makesetup reads before
# Modules/Setup.stdlib ("first rule wins", Modules/makesetup), so the shared rule is skipped.
# The rule is the module's own line of Modules/Setup.stdlib.in (sources), and configure's
# MODULE_<NAME>_CFLAGS/LDFLAGS still apply (e.g. -lexpat for pyexpat with --with-system-expat).
# 3.11+ only: before, setup.py builds the modules, with flags of its own (3.9 and 3.10 are past
# their end of life). The build_flags check proves each one is built in and not in lib-dynload.
BUILTIN_MODULES=()
if [ "${PYTHON_MINOR#3.}" -ge 11 ]; then
    BUILTIN_MODULES=(_asyncio _bisect _contextvars _csv _datetime _elementtree _heapq _json _pickle
                     _posixsubprocess _queue _random _socket _statistics _struct array binascii cmath
                     fcntl math pyexpat select zlib)
    echo '*static*' >>Modules/Setup.local
    for module in "${BUILTIN_MODULES[@]}"; do
        rule=$(grep -E "^@MODULE_[A-Z0-9_]+_TRUE@$module " Modules/Setup.stdlib.in) \
            || { echo "no rule for $module in Modules/Setup.stdlib.in: drop it from BUILTIN_MODULES"; exit 1; }
        echo "${rule#@*@}" >>Modules/Setup.local
    done
fi
builtin_json=$(printf '"%s", ' "${BUILTIN_MODULES[@]}")
builtin_json="[${builtin_json%, }]"
[ ${#BUILTIN_MODULES[@]} -eq 0 ] && builtin_json="[]"
echo "::flags:: {\"optimization\": \"$OPTIMIZATION\", \"lto\": $lto, \"pgo\": $pgo, \"cflags\": \"$CFLAGS\", \"cflags_nodist\": \"$CFLAGS_NODIST\", \"ldflags\": \"$LDFLAGS\", \"builtin_modules\": $builtin_json, \"bolt\": $bolt_json, \"pie\": false, \"fortify_source\": $fortify, \"cf_protection\": $cf_protection, \"stack_clash\": $stack_clash}"
# Modules left out on purpose, marked "n/a" so configure does not report them as missing:
#   _tkinter needs Tcl/Tk and X11, which server run images do not have.
#   nis needs libnsl, which run images do not have; deprecated in 3.11, removed in 3.13 (PEP 594).
export py_cv_module__tkinter=n/a py_cv_module_nis=n/a
# Before 3.11, setup.py builds these modules and knows nothing of py_cv_module_*; a *disabled*
# section in Modules/Setup.local is how to leave them out there (read by makesetup).
if [ "${PYTHON_MINOR#3.}" -lt 11 ]; then
    printf '*disabled*\n_tkinter\nnis\n' >>Modules/Setup.local
fi

# The flags go to configure alone, which bakes them into the Makefile: exported, make would add a
# second copy of LDFLAGS and CFLAGS_NODIST from the environment.
CFLAGS="$CFLAGS" CFLAGS_NODIST="$CFLAGS_NODIST" LDFLAGS="$LDFLAGS" LDFLAGS_NODIST="-frecord-gcc-switches" \
    ./configure "${CONFIGURE_ARGS[@]}"

if [ -n "$BOLT" ]; then
    # --enable-bolt has every link keep its relocations (-Wl,--emit-relocs in the Makefile's
    # CONFIGURE_LDFLAGS_NODIST). BOLT needs them in the interpreter only, and strip leaves them in
    # (.rela.text and the like: 1.7 MB in libpython3.13.so alone, measured), so they are taken out
    # here and given to the interpreter's link alone (STATIC_PYTHON, below).
    sed -i 's/ -Wl,--emit-relocs//' Makefile
    # -trap-old-code: BOLT leaves the original code section in place, with the old copies of the
    # functions it moved; this fills those copies with traps, which compress to nothing, and a
    # jump into a stale copy stops at once instead of running old code.
    # -lite=0: in its default lite mode BOLT moves only the functions the training ran and leaves
    # the others where they were, and their jumps into moved ones are not all rewritten. GCC's
    # identical-code folding leaves thunks such as sock_traverse, `jmp generic_traverse` as a 2-byte
    # jump with no relocation, which BOLT cannot retarget: with -trap-old-code, the forkserver
    # process of compileall's workers died of SIGTRAP there (a socket object's tp_traverse, run by
    # the GC; found in a core dump of 3.13.5 with BOLT 19), and without it the old copy runs. With
    # -lite=0 BOLT rewrites every function, so no stale code is left to reach.
    # No -icf=1 (CPython's): BOLT folds functions of identical code whether or not their addresses
    # are compared (CPython compares slot functions, e.g. tp_new == object_new), and GCC's own
    # -fipa-icf has folded what is safe to fold already.
    BOLT_APPLY_FLAGS="$(sed -n 's/^BOLT_APPLY_FLAGS *:= *//p' Makefile | sed 's/ -icf=1//') -lite=0 -trap-old-code"
fi

phase compile
MAKE_VARS=()
if [ -n "$CROSS_HOST" ]; then
    # configure leaves RUNSHARED empty for a cross build, reckoning that the target's programs cannot
    # run here. Under binfmt_misc they do (harness/emulation.py), and the PGO training runs the
    # instrumented interpreter, which needs the build tree's libpython3.X.so.
    MAKE_VARS+=("RUNSHARED=LD_LIBRARY_PATH=$SRC_DIR")
fi
if [ "$BUILD_PROFILE" = release ]; then
    # The PGO training run: CPython's own --pgo selection of tests, run by the instrumented
    # interpreter. Since 3.12 a failing training test fails the whole build (3.11's Makefile ran it
    # with "|| true"). A test that fails because a stack library is not what the test expects
    # (bookworm's expat 2.5.0 carries the reparse-deferral backport, and 3.13.15's test_xml_etree
    # fails on it) says nothing about the build; the verification checks test the result. So the
    # training goes through this wrapper, which leaves its verdict in /tmp/pgo-training.json and
    # exits 0 when tests merely failed: a run that crashed, ran no test or left no profile data
    # (*.gcda) is a release build without a profile, and fails (at once from 3.12; 3.11 runs the
    # task with "|| true", so the check after make catches it). The summary goes to the log as a
    # "::pgo::" line, which the harness puts in the archive's record.
    cat >/tmp/pgo-training.py <<'EOF'
import glob, json, os, re, subprocess, sys

# The same training serves PGO (GCC's *.gcda counters) and BOLT (the instrumented interpreter's
# *.fdata, one per process): TRAINING_FOR names which, for the summary's line and file.
kind = os.environ.get("TRAINING_FOR", "pgo")
profile_pattern = {"pgo": "**/*.gcda", "bolt": "*.bolt.*.fdata"}[kind]

# regrtest's own report is read line by line as it goes by (its --junit-xml is no use here:
# after test_xml_etree_c swaps the ElementTree module, 3.11's writer fails with "append()
# argument must be xml.etree.ElementTree.Element, not Element" and exits 1 with no file).
runner = subprocess.Popen([sys.executable, "-m", "test", "--pgo", "--timeout=1200"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
started, failed, tests_run = set(), [], None
for line in runner.stdout:
    sys.stdout.write(line)
    sys.stdout.flush()  # to the log as it happens: under emulation a test file can take minutes
    progress = re.search(r"\[\s*\d+/\d+(?:/\d+)?\] (test_\w+)", line)  # "[17/44] test_float"
    if progress:
        started.add(progress.group(1))
    for name in re.findall(r"\b(test_\w+) failed\b", line):  # "test test_embed failed", "-- test_embed failed"
        if name not in failed:
            failed.append(name)
    total = re.match(r"Total tests: run=([\d,]+)", line)  # 3.12+
    if total:
        tests_run = int(total.group(1).replace(",", ""))
status = runner.wait()
summary = {"exit_status": status, "test_files_run": len(started), "tests_run": tests_run, "failed": failed,
           "profile_files": len(glob.glob(profile_pattern, recursive=True))}
# regrtest: 0 all passed, 2 some tests failed; anything else (a signal, an interrupt, no test
# run, a crash of the runner) means the profile cannot be trusted.
if status not in (0, 2):
    summary["problem"] = f"the training run ended with status {status}"
elif not started:
    summary["problem"] = "the training run ran no test"
elif not summary["profile_files"]:
    summary["problem"] = f"the training run left no profile data ({profile_pattern})"
summary["ok"] = "problem" not in summary
with open(f"/tmp/{kind}-training.json", "w") as out:
    json.dump(summary, out)
print(f"::{kind}:: " + json.dumps(summary), flush=True)
sys.exit(0 if summary["ok"] else 1)  # 3.12+ stop here; 3.11's "|| true" goes on to the check below
EOF
    MAKE_VARS+=(PROFILE_TASK=/tmp/pgo-training.py)

    # Release builds are reproducible from their profile. The training run is not deterministic
    # (timings, threads, hash seeds make its counters differ from run to run, and with them the
    # optimised code), so the profile a build used is an output (PROFILE_OUT, below), published
    # beside the archive, and an input of a rebuild: given PROFILE_IN, its counters go where the
    # training would have left them, and CPython's own "the training has run" stamp
    # (profile-run-stamp, which profile-opt depends on) is set, so make goes straight to the
    # optimised build. The same source, script, image and profile then give the same bytes.
    if [ -n "${PROFILE_IN:-}" ]; then
        mkdir -p /tmp/profile-in
        tar --extract --file "$PROFILE_IN" --directory /tmp/profile-in
        if [ ! -d /tmp/profile-in/pgo ]; then
            echo "PROFILE_IN holds no PGO profile (no pgo/ folder): it is not a profile this script wrote"
            exit 1
        fi
        if [ -d /tmp/profile-in/bolt ] && [ -z "$BOLT" ]; then
            echo "PROFILE_IN holds a BOLT profile, and this image has no BOLT: it was made by another build image"
            exit 1
        fi
        cp -R /tmp/profile-in/pgo/. "$SRC_DIR"/
        touch profile-run-stamp
        given=$(find /tmp/profile-in/pgo -name '*.gcda' | wc -l)
        echo "{\"ok\": true, \"profile_given\": true, \"profile_files\": $given}" >/tmp/pgo-training.json
        echo "::pgo:: $(cat /tmp/pgo-training.json)"
    fi
fi
# With BOLT, make's default goal would BOLT the interpreter linked against libpython, which the
# link phase replaces; the goal before BOLT (profile-opt) here, and BOLT after the link phase.
MAKE_GOAL=()
[ -n "$BOLT" ] && MAKE_GOAL=(profile-opt)
run_make "${MAKE_VARS[@]}" "${MAKE_GOAL[@]}"
if [ "$BUILD_PROFILE" = release ] && ! grep -q '"ok": true' /tmp/pgo-training.json 2>/dev/null; then
    echo "PGO training did not produce a usable profile: $(cat /tmp/pgo-training.json 2>/dev/null || echo 'it never ran')"
    exit 1
fi
# The interpreter, relinked with the core linked in (as Debian's python3 and python-build-standalone
# ship it; upstream from 3.15 as --enable-static-libpython-for-interpreter, python/cpython#133313),
# while lib/libpython3.X.so stays for embedders. Run from the shared library, every call between
# core functions and every access to a core global goes through the PLT and the GOT, and the
# interpreter depends on finding the library: measured here, 7 % slower on pyperformance
# (bench/RESULTS.md), and `python -m venv --copies` broke (its copied bin/python looked for
# libpython in the venv). The same objects, archived, are linked whole (--whole-archive: extension
# modules need every C-API symbol, not only those python.c uses; LINKFORSHARED's -export-dynamic
# exports them), and with LTO the link sees the whole program again, so nothing in it needs to be
# interposable. The static archive is not installed (--without-static-libpython above).
#
# lib/libpython3.so, the stable-ABI shim that embedders may load, finds lib/libpython3.X.so through
# an $ORIGIN RUNPATH, wherever the archive is extracted; only it needs one, so only it is relinked
# with it, and it stays out of sysconfig (extensions that pip builds later must not inherit it).
# Given to the whole build in LDFLAGS_NODIST instead, PGO's recursive make calls expand "$ORIGIN"
# once more and leave a cwd-relative "RIGIN/../lib" RUNPATH in every extension module. Quoting:
# make turns $$ into $, the recipe's shell keeps '...'.
#
# The shim first: the interpreter depends on it in the Makefile, and `make install` would relink an
# interpreter older than it the default way, against libpython3.X.so.
phase link
if [ -e libpython3.so ]; then
    rm -f libpython3.so
    make libpython3.so LDFLAGS_NODIST="-Wl,-rpath,'\$\$ORIGIN/../lib'"
fi
rm -f python
# The rule's prerequisites name the archive so that make builds it: 3.11+ through LINK_PYTHON_DEPS,
# 3.10 through LIBRARY_DEPS (which --without-static-libpython empties of it), 3.9 names it itself.
# LINKCC: the interpreter is a position-dependent executable (-no-pie), as Debian links its own
# python3.X (debian/rules: DEB_BUILD_MAINT_OPTIONS=hardening=-pie; `readelf -h /usr/bin/python3.13`
# says EXEC) and as CPython's --enable-bolt does ("required to get good performance"). With LTO the
# link compiles the whole interpreter again, for a fixed address (GCC's lto1 drops PIC for an
# executable output), so a type guard is `cmp $&PyFloat_Type, %rax` instead of a lea and a cmp,
# a global is one load instead of two: measured with callgrind on 3.13.5 (bench/speed_profile.py),
# the PIE interpreter ran 7.6 to 8.1 % more instructions per loop than Debian's on nbody, richards
# and spectral_norm, nearly all in _PyEval_EvalFrameDefault. What it gives up is ASLR for the
# interpreter's own code and data (the heap, stack, libraries and libpython3.X.so stay randomised);
# full RELRO, the non-executable stack and the rest of elf_hardening hold as before. The build
# states it ("pie": false on its ::flags:: line) and the build_flags check reads the ELF type back.
LINKCC='$(PURIFY) $(CC) -no-pie'
[ -n "$BOLT" ] && LINKCC+=' -Wl,--emit-relocs'
STATIC_PYTHON=(LINK_PYTHON_DEPS='$(LIBRARY)' LIBRARY_DEPS='$(LIBRARY)' LINKCC="$LINKCC"
               BLDLIBRARY='-Wl,--whole-archive $(LIBRARY) -Wl,--no-whole-archive')
make python "${STATIC_PYTHON[@]}"

if [ -n "$BOLT" ] && [ -n "${PROFILE_IN:-}" ]; then
    phase bolt
    # A rebuild: BOLT's profile is given. The last step of CPython's profile-bolt-stamp rule
    # (below), with its flags as configure wrote them into the Makefile.
    if [ ! -f /tmp/profile-in/bolt/python.fdata ]; then
        echo "PROFILE_IN holds no BOLT profile (bolt/python.fdata), and this image has BOLT: it was made by another build"
        exit 1
    fi
    cp /tmp/profile-in/bolt/python.fdata python.fdata
    cp python python.prebolt
    read -r -a bolt_apply_flags <<<"$BOLT_APPLY_FLAGS"
    "$BOLT" python.prebolt -o python.bolt -data=python.fdata "${bolt_apply_flags[@]}"
    mv python.bolt python
    touch profile-bolt-stamp
    echo "::bolt:: {\"ok\": true, \"profile_given\": true, \"profile_files\": 1}"
elif [ -n "$BOLT" ]; then
    phase bolt
    # CPython's own rule (profile-bolt-stamp): instrument, run the same training as PGO, merge
    # the profiles, optimise. On the static interpreter alone: it runs the training, so only it has
    # a profile; libpython3.X.so, for embedders, stays as the linker made it. The training's
    # summary goes to the log as a "::bolt::" line (record: bolt_training).
    TRAINING_FOR=bolt make profile-bolt-stamp BOLT_BINARIES='$(BUILDPYTHON)' BOLT_APPLY_FLAGS="$BOLT_APPLY_FLAGS" \
        "${MAKE_VARS[@]}" \
        "${STATIC_PYTHON[@]}"
    if ! grep -q '"ok": true' /tmp/bolt-training.json 2>/dev/null; then
        echo "BOLT training did not produce a usable profile: $(cat /tmp/bolt-training.json 2>/dev/null || echo 'it never ran')"
        exit 1
    fi
fi

if [ "$BUILD_PROFILE" = release ] && [ -n "${PROFILE_OUT:-}" ]; then
    phase profile
    # The profiles this build used, in a tar that depends on their bytes alone (names sorted,
    # owners, dates and modes fixed, no pax headers with access times): pgo/ keeps each counter
    # file at its path in the build tree, where GCC looks for it; bolt/python.fdata is BOLT's.
    # A rebuild given it (PROFILE_IN) writes the same tar again.
    rm -rf /tmp/profile && mkdir -p /tmp/profile/pgo
    find . -name '*.gcda' -print0 | tar --create --null --files-from - --file - | tar --extract --file - --directory /tmp/profile/pgo
    if [ -n "$BOLT" ]; then
        mkdir -p /tmp/profile/bolt && cp python.fdata /tmp/profile/bolt/python.fdata
    fi
    tar --create --file "$PROFILE_OUT" --directory /tmp/profile --sort=name --format=gnu \
        --mtime=@0 --owner=0 --group=0 --numeric-owner --mode='a=rX,u+w' .
fi

phase install
make install

phase prune
# Tests, idle tests and static libraries are not needed at run time (docker-library/python
# deletes the same). With --disable-test-modules most are gone already.
find "$PREFIX" -depth -type d \( -name test -o -name tests -o -name idle_test \) -exec rm -rf {} +
find "$PREFIX" -type f -name '*.a' -delete
# tkinter and what needs it (IDLE, turtle and its demos): _tkinter is left out on purpose (see
# configure above), so these cannot be imported anyway; 0.9 MB of a 3.11 archive.
rm -rf "$PREFIX/lib/python$PYTHON_ABI"/{idlelib,tkinter,turtledemo,turtle.py}
# Scripts whose shebang names the build prefix would break once the archive is moved.
# python3-config is a shell script that finds its prefix at run time, so it stays.
for script in "$PREFIX"/bin/*; do
    if [ -f "$script" ] && [ ! -L "$script" ] && head -c 2 "$script" | grep -q '#!' \
        && head -n 1 "$script" | grep -qF "$PREFIX"; then
        echo "removing $script: its shebang holds the build prefix"
        rm -f "$script"
    fi
done
# ...and the version-less links (2to3, idle3, pydoc3) that pointed at them.
find "$PREFIX/bin" -xtype l -print -delete
# Debug symbols: most of the tree's bytes, no use at run time.
"$STRIP" --strip-unneeded "$PREFIX"/bin/python"$PYTHON_ABI" "$PREFIX"/lib/libpython*.so* \
    "$PREFIX"/lib/python"$PYTHON_ABI"/lib-dynload/*.so
# `python`, like venvs and the official images; relative, so the tree stays relocatable.
ln -sfn python3 "$PREFIX/bin/python"

phase bytecode
# make install writes timestamp-checked .pyc at three optimisation levels. The archive's mtimes
# are normalised, which would make every timestamp .pyc stale; unchecked-hash .pyc stay valid
# and skip the source stat at import (PEP 552). One level: -O / -OO are rare on servers.
find "$PREFIX" -type f -name '*.pyc' -delete
# Bytecode is the same whichever python of this version writes it; a cross build's own runs only
# under emulation, so the build python writes it there.
TREE_PYTHON=${BUILD_PYTHON:-$PREFIX/bin/python3}
"$TREE_PYTHON" -m compileall -q -f --invalidation-mode unchecked-hash --workers "$MAKE_JOBS" \
    "$PREFIX/lib/python$PYTHON_ABI" >/dev/null

# ensurepip's bundled wheels, rewritten with their members stored instead of deflated: the same
# names, bytes, dates and RECORD (pip installs them alike; the venv_with_pip check proves it), but
# the archive's zstd now sees their contents. Measured on 3.13.5's pip 25.1.1: 1.77 MB of the
# archive as CPython ships it, 1.20 MB stored (5.8 MB uncompressed): the difference that keeps a
# 3.13 archive with both a static interpreter and libpython3.13.so under 10 MB. The SBOM hashes the
# wheels as the archive holds them.
"$TREE_PYTHON" - "$PREFIX/lib/python$PYTHON_ABI/ensurepip/_bundled" <<'EOF'
import os, sys, zipfile

for name in sorted(os.listdir(sys.argv[1])):
    path = os.path.join(sys.argv[1], name)
    if not name.endswith(".whl"):
        continue
    with zipfile.ZipFile(path) as wheel:
        members = [(info, wheel.read(info)) for info in wheel.infolist()]
    with zipfile.ZipFile(path + ".stored", "w") as stored:
        for info, data in members:
            info.compress_type = zipfile.ZIP_STORED
            stored.writestr(info, data)
    os.replace(path + ".stored", path)
    print("stored uncompressed:", name)
EOF

# The CPU time the build took (compilers, linkers, the PGO training run: every child this shell
# waited for; bash's `times`, second line, e.g. "10m12.345s 1m2.345s"), for the record: a release
# build's cost, measured, not guessed from the wall clock of a shared machine.
times >/tmp/times.txt  # not `times | awk`: a pipeline's subshell has no children of its own
awk 'function seconds(t) { split(t, part, "m"); return part[1] * 60 + substr(part[2], 1, length(part[2]) - 1) }
    NR == 2 { printf "::cpu:: {\"user_seconds\": %.1f, \"system_seconds\": %.1f}\n", seconds($1), seconds($2) }' /tmp/times.txt
phase done
