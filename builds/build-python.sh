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
# Output: the installed, pruned tree in $PREFIX, a bind mount of a host folder.
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

phase() { echo "::phase:: $1"; }

# Builds of the same inputs should give the same bytes: GCC takes __DATE__/__TIME__ (which
# CPython puts in sys.version) from SOURCE_DATE_EPOCH when it is set (reproducible-builds.org).
export SOURCE_DATE_EPOCH=946684800

phase extract
tar --extract --file "$SOURCE_TARBALL" --strip-components=1 --directory "$SRC_DIR"
cd "$SRC_DIR"

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
# Makefile hands it LDSHARED with these flags). The elf_hardening check (harness/elf_checks.py) holds
# every ELF file of the archive to it.
#
# optimize=-lto: Ubuntu's dpkg (Heroku's stacks) turns LTO on by default on amd64 and arm64
# (Dpkg::Vendor::Ubuntu), which would make every build an LTO build, the quick ones included, and
# hand -flto=auto to users' extensions through sysconfig. LTO is the release profile's, via configure.
export DEB_BUILD_MAINT_OPTIONS="hardening=+bindnow optimize=-lto"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
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
for flag in $(dpkg-buildflags --get CFLAGS); do
    case "$flag" in
        -O*|-g) ;;
        -f*prefix-map=*|-W*) CFLAGS_NODIST+=" $flag" ;;
        *) CFLAGS+=" ${flag}" ;;
    esac
done
set +f
CFLAGS="${CFLAGS# }"
lto=false pgo=false
[ "$BUILD_PROFILE" = release ] && lto=true pgo=true
echo "::flags:: {\"optimization\": \"$OPTIMIZATION\", \"lto\": $lto, \"pgo\": $pgo, \"cflags\": \"$CFLAGS\", \"cflags_nodist\": \"$CFLAGS_NODIST\", \"ldflags\": \"$LDFLAGS\"}"
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

phase compile
MAKE_VARS=()
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
import glob, json, re, subprocess, sys

# regrtest's own report is read line by line as it goes by (its --junit-xml is no use here:
# after test_xml_etree_c swaps the ElementTree module, 3.11's writer fails with "append()
# argument must be xml.etree.ElementTree.Element, not Element" and exits 1 with no file).
runner = subprocess.Popen([sys.executable, "-m", "test", "--pgo", "--timeout=1200"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
started, failed, tests_run = set(), [], None
for line in runner.stdout:
    sys.stdout.write(line)
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
           "profile_files": len(glob.glob("**/*.gcda", recursive=True))}
# regrtest: 0 all passed, 2 some tests failed; anything else (a signal, an interrupt, no test
# run, a crash of the runner) means the profile cannot be trusted.
if status not in (0, 2):
    summary["problem"] = f"the training run ended with status {status}"
elif not started:
    summary["problem"] = "the training run ran no test"
elif not summary["profile_files"]:
    summary["problem"] = "the training run left no profile data (*.gcda)"
summary["ok"] = "problem" not in summary
with open("/tmp/pgo-training.json", "w") as out:
    json.dump(summary, out)
print("::pgo:: " + json.dumps(summary), flush=True)
sys.exit(0 if summary["ok"] else 1)  # 3.12+ stop here; 3.11's "|| true" goes on to the check below
EOF
    MAKE_VARS+=(PROFILE_TASK=/tmp/pgo-training.py)
fi
if [ -n "${JOBSERVER_FD:-}" ]; then
    # No -j here: a -j on the command line would make this make start a jobserver of its own.
    env MAKEFLAGS="-j --jobserver-auth=$JOBSERVER_FD,$JOBSERVER_FD" make "${MAKE_VARS[@]}"
else
    make -j "$MAKE_JOBS" "${MAKE_VARS[@]}"
fi
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
make python LINK_PYTHON_DEPS='$(LIBRARY)' LIBRARY_DEPS='$(LIBRARY)' \
    BLDLIBRARY='-Wl,--whole-archive $(LIBRARY) -Wl,--no-whole-archive'

phase install
make install

phase prune
# Tests, idle tests and static libraries are not needed at run time (docker-library/python
# deletes the same). With --disable-test-modules most are gone already.
find "$PREFIX" -depth -type d \( -name test -o -name tests -o -name idle_test \) -exec rm -rf {} +
find "$PREFIX" -type f -name '*.a' -delete
# tkinter and what needs it (IDLE, turtle and its demos): _tkinter is left out on purpose (see
# configure above), so these cannot be imported anyway; 0.9 MB of a 3.11 archive.
rm -rf "$PREFIX/lib/python$PYTHON_MINOR"/{idlelib,tkinter,turtledemo,turtle.py}
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
strip --strip-unneeded "$PREFIX"/bin/python"$PYTHON_MINOR" "$PREFIX"/lib/libpython*.so* \
    "$PREFIX"/lib/python"$PYTHON_MINOR"/lib-dynload/*.so
# `python`, like venvs and the official images; relative, so the tree stays relocatable.
ln -sfn python3 "$PREFIX/bin/python"

phase bytecode
# make install writes timestamp-checked .pyc at three optimisation levels. The archive's mtimes
# are normalised, which would make every timestamp .pyc stale; unchecked-hash .pyc stay valid
# and skip the source stat at import (PEP 552). One level: -O / -OO are rare on servers.
find "$PREFIX" -type f -name '*.pyc' -delete
"$PREFIX/bin/python3" -m compileall -q -f --invalidation-mode unchecked-hash --workers "$MAKE_JOBS" \
    "$PREFIX/lib/python$PYTHON_MINOR" >/dev/null

# ensurepip's bundled wheels, rewritten with their members stored instead of deflated: the same
# names, bytes, dates and RECORD (pip installs them alike; the venv_with_pip check proves it), but
# the archive's zstd now sees their contents. Measured on 3.13.5's pip 25.1.1: 1.77 MB of the
# archive as CPython ships it, 1.20 MB stored (5.8 MB uncompressed): the difference that keeps a
# 3.13 archive with both a static interpreter and libpython3.13.so under 10 MB. The SBOM hashes the
# wheels as the archive holds them.
"$PREFIX/bin/python3" - "$PREFIX/lib/python$PYTHON_MINOR/ensurepip/_bundled" <<'EOF'
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
