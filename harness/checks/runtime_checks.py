"""Checks run by the runtime under test, inside the stack's run image (stdlib only, Python 3.8+).

Usage: python3 runtime_checks.py EXPECTED_VERSION TLS_DIR BUILD_PREFIX [ABI_SUFFIX]
(ABI_SUFFIX: "t" for a free-threaded variant, which adds the free_threading_* checks.)
Prints one JSON object per line: {"check": name, "ok": bool, "detail": str}. A check that raises
is a failure with the exception as its detail; one check failing never stops the others.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import traceback

EXPECTED_VERSION = sys.argv[1]
TLS_DIR = sys.argv[2] if len(sys.argv) > 2 else ""
BUILD_PREFIX = sys.argv[3] if len(sys.argv) > 3 else "/build/python"
EXPECTED_ABI_SUFFIX = sys.argv[4] if len(sys.argv) > 4 else ""
FREE_THREADED = EXPECTED_ABI_SUFFIX == "t"  # PEP 703's build: --disable-gil
PREFIX = sys.prefix
MINOR = "%d.%d" % sys.version_info[:2]
BIN = os.path.join(PREFIX, "bin")
CHECKS = []


def check(func):
    CHECKS.append(func)
    return func


def free_threaded_check(func):
    """A check of free-threaded builds only (the variant the harness says this is)."""
    if FREE_THREADED:
        CHECKS.append(func)
    return func


# How many times slower than natively this machine runs the runtime: 1, or under emulation (a
# foreign architecture's pair: harness/emulation.py) the measured factor, by which every time
# limit here grows: a pip install that takes 20 s natively takes minutes under QEMU.
SLOWER = float(os.environ.get("PYRUNTIMES_SLOWER", "1"))


def run(*argv, **kwargs):
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                            timeout=kwargs.pop("timeout", 300) * SLOWER, **kwargs)
    if result.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), result.returncode, result.stdout.strip()[-400:]))
    return result.stdout.strip()


@check
def versions():
    seen = []
    for name in ("python3", "python" + MINOR, "python"):
        out = run(os.path.join(BIN, name), "--version")
        if out != "Python " + EXPECTED_VERSION:
            raise AssertionError("%s --version says %r, expected 'Python %s'" % (name, out, EXPECTED_VERSION))
        seen.append(name)
    return ", ".join(seen) + " report " + EXPECTED_VERSION


@check
def bin_shebangs_relocatable():
    scripts, bad = 0, []
    for name in sorted(os.listdir(BIN)):
        path = os.path.join(BIN, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as handle:
            first = handle.readline()
        if first.startswith(b"#!"):
            scripts += 1
            if BUILD_PREFIX.encode() in first:
                bad.append("%s (%s)" % (name, first.decode(errors="replace").strip()))
    if bad:
        raise AssertionError("shebangs name the build prefix: " + ", ".join(bad))
    return "%d scripts in bin/, none points at %s" % (scripts, BUILD_PREFIX)


@check
def python_config():
    return run(os.path.join(BIN, "python3-config"), "--includes")


def expected_extension_modules():
    """Every stdlib extension module this version's build system says it built or should have.

    3.11+ record each module's state in sysconfig (MODULE_<NAME>_STATE: yes, missing, disabled,
    n/a); "missing" means a -dev package was absent at build time. Every shared module in
    lib-dynload is added too: in 3.11 setup.py still builds a few (_ctypes, _curses, _dbm,
    readline) that have no state, and before 3.11 it builds them all. (Modules setup.py could not
    build show in the build log, which the build-log check reads.)
    """
    states = {key[len("MODULE_"):-len("_STATE")].lower(): value
              for key, value in sysconfig.get_config_vars().items()
              if key.startswith("MODULE_") and key.endswith("_STATE")}
    dynload = os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload")
    built = {name.split(".")[0] for name in os.listdir(dynload) if name.endswith(".so")}
    expected = {m for m, s in states.items() if s not in ("disabled", "n/a")} | built
    return sorted(expected), states


@check
def extension_modules():
    import importlib
    expected, states = expected_extension_modules()
    missing = sorted(m for m, s in states.items() if s == "missing")
    failed = []
    for name in expected:
        if name in missing:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - every failure is worth naming
            failed.append("%s (%s)" % (name, exc))
    problems = []
    if missing:
        problems.append("not built (missing at build time): " + ", ".join(missing))
    if failed:
        problems.append("do not import: " + ", ".join(failed))
    if problems:
        raise AssertionError("; ".join(problems))
    return "%d modules import" % len(expected)


@check
def ssl_handshake():
    import socket
    import ssl
    if not TLS_DIR:
        raise AssertionError("no TLS material given")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(os.path.join(TLS_DIR, "server.pem"), os.path.join(TLS_DIR, "server.key"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello over tls")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cafile=os.path.join(TLS_DIR, "ca.pem"))
    with socket.create_connection(("127.0.0.1", port), timeout=10 * SLOWER) as raw:
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            data = tls.recv(100)
            version = tls.version()
    thread.join(10)
    if data != b"hello over tls":
        raise AssertionError("unexpected payload %r" % data)
    return "%s verified handshake; %s" % (version, ssl.OPENSSL_VERSION)


@check
def ssl_untrusted_refused():
    import socket
    import ssl
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(os.path.join(TLS_DIR, "server.pem"), os.path.join(TLS_DIR, "server.key"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        try:
            server_ctx.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass

    threading.Thread(target=serve, daemon=True).start()
    client_ctx = ssl.create_default_context()  # system CAs only: our test CA is not among them
    with socket.create_connection(listener.getsockname(), timeout=10 * SLOWER) as raw:
        try:
            client_ctx.wrap_socket(raw, server_hostname="localhost")
        except ssl.SSLCertVerificationError as exc:
            return "refused: " + exc.verify_message
    raise AssertionError("a certificate from an untrusted CA was accepted")


@check
def sqlite3_roundtrip():
    import sqlite3
    db = sqlite3.connect(":memory:")
    db.execute("create table t (k integer primary key, v text)")
    db.executemany("insert into t (v) values (?)", [("a",), ("b",)])
    rows = db.execute("select v from t order by k").fetchall()
    if rows != [("a",), ("b",)]:
        raise AssertionError("round trip gave %r" % rows)
    if not hasattr(db, "enable_load_extension"):
        raise AssertionError("enable_load_extension is missing (built without --enable-loadable-sqlite-extensions)")
    return "sqlite %s, loadable extensions enabled" % sqlite3.sqlite_version


@check
def ctypes_call():
    import ctypes
    import ctypes.util
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if libc.abs(-7) != 7:
        raise AssertionError("libc abs(-7) via ctypes did not give 7")
    return "libc called through libffi"


@check
def compression_roundtrips():
    import bz2
    import lzma
    import zlib
    data = os.urandom(1000) * 50
    done = []
    for module in (zlib, bz2, lzma):
        if module.decompress(module.compress(data)) != data:
            raise AssertionError(module.__name__ + " round trip differs")
        done.append(module.__name__)
    try:
        from compression import zstd  # 3.14+
    except ImportError:
        pass
    else:
        if zstd.decompress(zstd.compress(data)) != data:
            raise AssertionError("zstd round trip differs")
        done.append("zstd")
    return ", ".join(done)


@check
def dbm_uuid_readline_curses():
    import curses  # noqa: F401
    import dbm.gnu
    import dbm.ndbm
    import readline  # noqa: F401
    import uuid
    path = os.path.join(tempfile.mkdtemp(), "db")
    for module in (dbm.gnu, dbm.ndbm):
        with module.open(path + module.__name__, "c") as db:
            db[b"k"] = b"v"
    uuid.uuid1()
    return "dbm.gnu, dbm.ndbm, uuid, readline, curses"


@check
def relocation_symlink_and_copy():
    link_dir = tempfile.mkdtemp()
    link = os.path.join(link_dir, "python3")
    os.symlink(os.path.join(BIN, "python3"), link)
    out = run(link, "-c", "import sys, ssl; print(sys.prefix)")
    if out != PREFIX:
        raise AssertionError("through a symlink, sys.prefix is %r, expected %r" % (out, PREFIX))
    elsewhere = os.path.join(tempfile.mkdtemp(), "moved")
    shutil.copytree(PREFIX, elsewhere, symlinks=True)
    out = run(os.path.join(elsewhere, "bin", "python3"), "-c", "import sys, ssl, sqlite3, ctypes; print(sys.prefix)")
    if out != elsewhere:
        raise AssertionError("copied to %s, sys.prefix is %r" % (elsewhere, out))
    return "runs through a symlink and from a second path"


@check
def venv_with_pip():
    venv = os.path.join(tempfile.mkdtemp(), "venv")
    # ensurepip installs pip without writing its bytecode (PIP_NO_COMPILE): what this checks is
    # that pip installs and runs; under emulation compiling its thousand-odd files took minutes.
    run(os.path.join(BIN, "python3"), "-m", "venv", venv, env=dict(os.environ, PIP_NO_COMPILE="1"))
    pip = run(os.path.join(venv, "bin", "python"), "-m", "pip", "--version")
    return pip.split(" from ")[0]


@check
def venv_with_copies():
    # `python -m venv --copies` copies the interpreter binary into the venv: an interpreter that
    # needs libpython through an $ORIGIN-relative RUNPATH then looks for it inside the venv and
    # exits 127 (the issue that made the interpreter static: builds/build-python.sh).
    venv = os.path.join(tempfile.mkdtemp(), "venv")
    run(os.path.join(BIN, "python3"), "-m", "venv", "--copies", "--without-pip", venv)
    copied = os.path.join(venv, "bin", "python3")
    if os.path.islink(copied):
        raise AssertionError("%s is a symlink, not a copy" % copied)
    out = run(copied, "-c", "import sys, ssl, sqlite3, json; print(sys.prefix, sys.base_prefix)")
    if out.split() != [venv, PREFIX]:
        raise AssertionError("the copied interpreter reports prefixes %r, expected %r" % (out, "%s %s" % (venv, PREFIX)))
    return "a copied bin/python3 runs in its venv (prefix %s, base %s)" % (venv, PREFIX)


@check
def deep_recursion_in_thread():
    # Python-level recursion and C-level recursion (repr of a deeply nested list) in a thread,
    # whose stack is smaller than the main thread's: both must raise RecursionError. A runtime
    # with too small a thread stack crashes here instead (SIGSEGV), which fails the check.
    code = ("import threading\n"
            "result = []\n"
            "def f(n): return f(n + 1)\n"
            "nested = []\n"
            "for _ in range(200000): nested = [nested]\n"
            "def target():\n"
            "    for name, call in (('python', lambda: f(0)), ('C', lambda: repr(nested))):\n"
            "        try: call()\n"
            "        except RecursionError: result.append(name)\n"
            "t = threading.Thread(target=target); t.start(); t.join()\n"
            "print(' '.join(result))\n")
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, timeout=120 * SLOWER)
    if result.returncode != 0 or result.stdout.split() != ["python", "C"]:
        raise AssertionError("exit %d: %r" % (result.returncode, result.stdout.strip()[-300:]))
    return "RecursionError in a thread, for Python and C recursion"


@check
def abi_is_the_variant_s():
    # The build is the variant it is published as: sys.abiflags ("t": free-threaded) and sysconfig's
    # Py_GIL_DISABLED agree with what the harness built, so a default build that lost its GIL, or a
    # free-threaded one that kept it, is refused.
    gil_disabled = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    if sys.abiflags != EXPECTED_ABI_SUFFIX or gil_disabled != FREE_THREADED:
        raise AssertionError("abiflags %r, Py_GIL_DISABLED %r; the variant built has abiflags %r"
                             % (sys.abiflags, sysconfig.get_config_var("Py_GIL_DISABLED"), EXPECTED_ABI_SUFFIX))
    return "abiflags %r, Py_GIL_DISABLED=%d" % (sys.abiflags, gil_disabled)


# Imports every stdlib extension module in a fresh interpreter, one at a time, and names the first
# after which the GIL is on: a module without Py_mod_gil turns it on for the whole process.
GIL_PROBE = """
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
names = json.loads(sys.argv[1])
enabled_by = None
for name in names:
    importlib.import_module(name)
    if sys._is_gil_enabled():
        enabled_by = name
        break
print(json.dumps({"enabled_by": enabled_by, "imported": len(names) if enabled_by is None else names.index(name) + 1}))
"""


@free_threaded_check
def free_threading_gil_stays_off():
    expected, states = expected_extension_modules()
    names = [name for name in expected if states.get(name) != "missing"]
    env = dict(os.environ)
    env.pop("PYTHON_GIL", None)  # PYTHON_GIL=1 would turn it on whatever the modules do
    result = json.loads(run(sys.executable, "-c", GIL_PROBE, json.dumps(names), env=env).splitlines()[-1])
    if result["enabled_by"]:
        raise AssertionError("importing %s turned the GIL on (it does not declare Py_mod_gil)" % result["enabled_by"])
    return "GIL off after importing all %d stdlib extension modules (Py_GIL_DISABLED=1)" % result["imported"]


# Pure-Python CPU work, the same amount on each of N threads, then N times over on one thread.
PARALLEL_PROBE = """
import json, sys, threading, time
def work():
    total = 0
    for i in range(3000000):
        total += i * i % 7
    return total
n = int(sys.argv[1])
best_serial = best_parallel = None
for _ in range(3):  # the best of three: these machines are noisy
    started = time.perf_counter()
    for _ in range(n):
        work()
    serial = time.perf_counter() - started
    threads = [threading.Thread(target=work) for _ in range(n)]
    started = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    parallel = time.perf_counter() - started
    best_serial = serial if best_serial is None else min(best_serial, serial)
    best_parallel = parallel if best_parallel is None else min(best_parallel, parallel)
print(json.dumps({"serial": best_serial, "parallel": best_parallel, "gil": sys._is_gil_enabled()}))
"""


@free_threaded_check
def free_threading_threads_run_in_parallel():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2:
        raise AssertionError("one core: threads cannot be shown to run in parallel here")
    n = min(cores, 4)
    result = json.loads(run(sys.executable, "-c", PARALLEL_PROBE, str(n)).splitlines()[-1])
    speedup = result["serial"] / result["parallel"]
    # Without the GIL, n threads of CPU work finish in about 1/n of the time one thread takes for
    # all of it; with it, in about the same time (speedup 1.0). 1.3 leaves room for a noisy machine.
    if result["gil"] or speedup < 1.3:
        raise AssertionError("%d threads of pure-Python work took %.2fs, one thread doing it all %.2fs (x%.2f)%s"
                             % (n, result["parallel"], result["serial"], speedup,
                                "; the GIL was on" if result["gil"] else ""))
    return "%d threads x%.2f faster than one doing the same work (%.2fs vs %.2fs)" % (
        n, speedup, result["parallel"], result["serial"])


# Timed checks: the harness runs each in a step of its own, holding every core of the run
# (harness/checks/verify.py), named in PYRUNTIMES_ONLY; the main pass leaves them out.
ALONE = {"free_threading_threads_run_in_parallel"}
ONLY = [name for name in os.environ.get("PYRUNTIMES_ONLY", "").split(",") if name]


def main():
    for func in CHECKS:
        if (func.__name__ not in ONLY) if ONLY else (func.__name__ in ALONE):
            continue
        try:
            detail, ok = func(), True
        except Exception as exc:  # noqa: BLE001
            detail, ok = "%s: %s" % (type(exc).__name__, exc), False
            if not str(exc):
                detail += " " + traceback.format_exc(limit=2)
        print(json.dumps({"check": func.__name__, "ok": ok, "detail": str(detail)}), flush=True)


if __name__ == "__main__":
    main()
