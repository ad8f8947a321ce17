"""The embedding check (embeds_in_c_program): a C program embeds the runtime under test through
lib/libpython3.X.so, and a second one through the stable-ABI lib/libpython3.so loaded at run time.

The interpreter no longer runs from libpython (builds/build-python.sh links the core into it, for
speed), so nothing else in verification would notice if the shared libraries that embedders use
(mod_wsgi, uWSGI, PyO3 binaries, pycall) broke. embed_program/embed.c is compiled in the stack's
BUILD image with the flags the archive's own python3-config gives (BUILD_SCRIPT), then run in its
RUN image (run_script), where it must start the runtime at the path the archive was extracted
to, import modules backed by system libraries (ssl, sqlite3, zlib) and report the tree's prefix.
"""

from pathlib import Path

from .check import VERIFY_PREFIX, Check

EMBED_PROGRAM = Path(__file__).resolve().parent / "embed_program"
PROGRAM_DIR = "/opt/pyruntimes/embed"  # embed.c, read-only
OUT_DIR = "/opt/pyruntimes/embed-out"  # the two programs: written in the build image, run in the run image

BUILD_SCRIPT = f"""
set -e
cd {OUT_DIR}
config={VERIFY_PREFIX}/bin/python3-config
gcc -o embed-linked {PROGRAM_DIR}/embed.c $($config --cflags --embed) -L{VERIFY_PREFIX}/lib $($config --ldflags --embed) \\
    -Wl,-rpath,{VERIFY_PREFIX}/lib
gcc -DVIA_DLOPEN -o embed-dlopen {PROGRAM_DIR}/embed.c -ldl
echo "::built::"
"""


def run_script() -> str:
    """Run both programs in the run image. An embedder says where the runtime is (PYTHONHOME here;
    PyConfig.home, mod_wsgi's python-home): libpython looks for its standard library from the
    program's path and the prefix it was built for, not from its own location (seen here: 3.13's
    embedded interpreter looked in /build/python, the build prefix, and found no encodings module)."""
    home = f"PYTHONHOME={VERIFY_PREFIX}"
    return (f"set -e\n{home} {OUT_DIR}/embed-linked\n"
            f"{home} {OUT_DIR}/embed-dlopen {VERIFY_PREFIX}/lib/libpython3.so\n")


def volumes(out_dir: Path, writable: bool) -> dict:
    return {str(EMBED_PROGRAM): {"bind": PROGRAM_DIR, "mode": "ro"},
            str(out_dir): {"bind": OUT_DIR, "mode": "rw" if writable else "ro"}}


def embed_check(build_out: str, build_status: int, run_out: str | None, run_status: int | None,
                version: str) -> Check:
    """Both programs compiled, ran, and reported the runtime's version and the tree's prefix."""
    if build_status != 0 or "::built::" not in build_out:
        return Check("embeds_in_c_program", False, "compiling against the archive failed: " + build_out.strip()[-500:])
    want = f"embedded {version} {VERIFY_PREFIX} "
    reports = [line for line in (run_out or "").splitlines() if line.startswith("embedded ")]
    if run_status != 0 or len(reports) != 2 or not all(line.startswith(want) for line in reports):
        return Check("embeds_in_c_program", False,
                     f"expected two lines starting {want!r}, exit 0; got exit {run_status}: {(run_out or '').strip()[-500:]}")
    return Check("embeds_in_c_program", True,
                 f"linked against libpython3.X.so (python3-config --embed) and via dlopen of libpython3.so: "
                 f"both report {version} at {VERIFY_PREFIX}")
