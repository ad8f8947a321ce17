"""The C-extension check (pip_builds_c_extension), and the setuptools wheel it builds with.

CEXT_SCRIPT builds the small package in cext_package/ (a C function and the Python version it
was compiled for) into a wheel with pip in a venv of the runtime under test, installs the wheel,
and runs use_cext.py: the wheel is tagged for the runtime's ABI (cp313t on a free-threaded build),
the module imports, and on a free-threaded build the GIL stays off with a module that declares
Py_mod_gil and comes back, with a RuntimeWarning, with one that does not. verify.runtime_checks
runs it in the stack's BUILD image with volumes() mounted; c_extension_check() reads the result.

pip needs a build backend, and the containers have no network: fetch_wheels() downloads the
setuptools wheel on the host beforehand, pinned by sha256 (pip checks the download against the
pin, and the cached copy is checked against it before each use).
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from filelock import FileLock

from .check import VERIFY_PREFIX, Check
from ..errors import PairError
from ..hashing import file_sha256

CEXT_PACKAGE = Path(__file__).resolve().parent / "cext_package"
# The build backend pip needs for CEXT_PACKAGE; fetched once on the host (containers have no
# network) and offered to pip with --no-index --find-links.
SETUPTOOLS = "setuptools==80.9.0"
# The sha256 of setuptools-80.9.0-py3-none-any.whl, as PyPI lists it (pypi.org/simple/setuptools/).
# The wheel runs as the build backend in the runtime under test: pip downloads it in hash-checking
# mode, and the cached copy is checked against this before each use.
SETUPTOOLS_SHA256 = "062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922"

# PIP_NO_COMPILE: pip (ensurepip's, in the venv) and setuptools (in pip's isolated build
# environment) are installed without writing their bytecode, which is no part of what this checks:
# under emulation (a foreign architecture's pair) compiling their thousand-odd files took minutes.
CEXT_SCRIPT = f"""
set -e
export PIP_NO_COMPILE=1
cp -r /opt/pyruntimes/cext_package /tmp/cext_package
{VERIFY_PREFIX}/bin/python3 -m venv /tmp/venv
/tmp/venv/bin/python -m pip wheel -q --disable-pip-version-check --no-index --find-links /opt/pyruntimes/wheels \
    --no-deps --wheel-dir /tmp/built /tmp/cext_package
/tmp/venv/bin/python -m pip install -q --disable-pip-version-check --no-index /tmp/built/*.whl
cd /tmp && /tmp/venv/bin/python /tmp/cext_package/use_cext.py /tmp/built/*.whl
"""


def volumes(wheels: Path) -> dict:
    """What CEXT_SCRIPT needs mounted besides the tree: the package to build, and the wheels
    folder fetch_wheels() returned."""
    return {str(CEXT_PACKAGE): {"bind": "/opt/pyruntimes/cext_package", "mode": "ro"},
            str(wheels): {"bind": "/opt/pyruntimes/wheels", "mode": "ro"}}


def c_extension_check(out: str, status: int) -> Check:
    """pip builds a C extension in a venv of the runtime, in the stack's build image (the run image
    has no compiler, as on the platforms that deploy these runtimes), then imports it: from
    CEXT_SCRIPT's output and exit status."""
    ok = status == 0 and "built and imported" in out
    return Check("pip_builds_c_extension", ok, out.strip().splitlines()[-1] if ok else out.strip()[-600:])


def fetch_wheels(cache_dir: Path, log=print) -> Path:
    """The setuptools wheel the C-extension check needs: downloaded once into the cache, and
    checked against its pinned sha256 before each use (a cached copy that differs, damaged or
    tampered with, is deleted and downloaded again)."""
    wheels = cache_dir / "wheels" / SETUPTOOLS.replace("==", "-")
    wheels.mkdir(parents=True, exist_ok=True)
    with FileLock(str(wheels) + ".lock"):
        for wheel in wheels.glob("*.whl"):
            if file_sha256(wheel) != SETUPTOOLS_SHA256:
                log(f"{wheel.name} in the cache does not match its pinned sha256; downloading it again")
                wheel.unlink()
        if not list(wheels.glob("*.whl")):
            log(f"downloading {SETUPTOOLS} for the C-extension check")
            _download_pinned_setuptools(wheels)
    return wheels


def _download_pinned_setuptools(dest: Path):
    """pip download in hash-checking mode (--require-hashes: pip refuses a file whose sha256 is not
    the pinned one; pip.pypa.io/en/stable/topics/secure-installs/), into a temporary folder first,
    so that the cache never holds a file that was not checked."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{SETUPTOOLS} --hash=sha256:{SETUPTOOLS_SHA256}\n")
        downloads = Path(tmp) / "downloads"
        result = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
                                 "--no-deps", "--only-binary", ":all:", "--require-hashes", "-r", str(requirements),
                                 "-d", str(downloads)], capture_output=True, text=True)
        if result.returncode != 0:
            raise PairError(_pip_download_failure(result.stdout + result.stderr))
        for wheel in downloads.glob("*.whl"):
            shutil.move(wheel, dest / wheel.name)


def _pip_download_failure(output: str) -> str:
    """One line for a failed pip download: a hash mismatch (pip prints "Expected sha256 ..." and
    "Got ..." on lines of their own) or the last error pip gave."""
    got = re.search(r"^\s*Got\s+([0-9a-f]{64})\s*$", output, re.MULTILINE)
    if got:
        return (f"{SETUPTOOLS} for the C-extension check: the downloaded wheel has sha256 {got.group(1)}, "
                f"not the pinned {SETUPTOOLS_SHA256}")
    errors = [line.strip() for line in output.splitlines() if line.startswith("ERROR:")] or output.strip().splitlines()
    return f"could not download {SETUPTOOLS} for the C-extension check: {errors[-1] if errors else 'pip failed'}"
