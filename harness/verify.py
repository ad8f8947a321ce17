"""Verification of a packaged runtime in its stack's RUN image, at a path other than it was built at.

Three sources of checks, each reported under its own name:
- the archive itself, read on the host (hygiene: paths, owners, modes, leftovers);
- the build log (modules CPython's build reported as missing or failed);
- the runtime, running in the run image: shared libraries resolved by ldd, then
  harness/runtime_checks.py run by the runtime under test (versions, every extension module,
  TLS, sqlite3, venv and pip, compression, relocation, recursion in threads); and in the
  stack's BUILD image, which has binutils and a compiler: readelf on every ELF file (search
  paths, hardening), and pip building a C extension.
The containers have no network: the TLS check talks to a server on the container's loopback.
"""

import datetime
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from . import archive as archive_mod
from .build import PREFIX as BUILD_PREFIX
from .build import container_options
from . import engine
from .engine import remove_quietly
from .errors import PairError
from .hashing import file_sha256, inputs_sha256

VERIFY_PREFIX = "/opt/verify/python"
STEP_TIMEOUT = 900  # seconds for one verification container (the C-extension build is the longest)
CHECKS_SCRIPT = Path(__file__).resolve().parent / "runtime_checks.py"
CEXT_PACKAGE = Path(__file__).resolve().parent / "cext_package"
# The build backend pip needs for CEXT_PACKAGE; fetched once on the host (containers have no
# network) and offered to pip with --no-index --find-links.
SETUPTOOLS = "setuptools==80.9.0"
# The sha256 of setuptools-80.9.0-py3-none-any.whl, as PyPI lists it (pypi.org/simple/setuptools/).
# The wheel runs as the build backend in the runtime under test: pip downloads it in hash-checking
# mode, and the cached copy is checked against this before each use.
SETUPTOOLS_SHA256 = "062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922"

LOG_FAILURE_PATTERNS = (
    "Failed to build these modules",
    "necessary bits to build these optional modules were not found",
    "Following modules built successfully but were removed because they could not be imported",
    "Could not build the ssl module",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def hygiene_checks(archive: Path) -> list[Check]:
    members = archive_mod.members(archive)
    names = [m.name for m in members]
    problems = {  # check name -> offending entries
        "archive_paths_relative": [n for n in names if n.startswith("/") or ".." in n.split("/")],
        "archive_no_test_folders": [n for n in names if set(n.split("/")) & {"test", "tests", "idle_test"}],
        "archive_no_static_libraries": [n for n in names if n.endswith(".a")],
        "archive_no_setuid_bits": [m.name for m in members if m.mode & 0o6000],
        "archive_owned_by_root": [m.name for m in members if (m.uid, m.gid) != (0, 0)],
        "archive_links_stay_inside": [m.name for m in members if m.issym() and _leaves_tree(m)],
    }
    checks = [Check(name, not found, f"all {len(names)} entries" if not found else f"{len(found)}: {', '.join(found[:5])}")
              for name, found in problems.items()]
    has_binary = "bin/python3" in names
    checks.append(Check("archive_has_bin_python3", has_binary, "bin/python3 present" if has_binary else "missing"))
    return checks


def _leaves_tree(member):
    target = member.linkname
    if target.startswith("/"):
        return True
    depth = len(member.name.split("/")) - 1
    for part in target.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return True
    return False


def build_log_check(log_path: Path) -> Check:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    hits = [line.strip() for line in text.splitlines() if any(p in line for p in LOG_FAILURE_PATTERNS)]
    return Check("build_log_reports_no_missing_modules", not hits, "; ".join(hits[:3]) or "clean")


def runtime_checks(client, run_image, archive: Path, version: str, run_id: str, pair: str, work_dir: Path,
                   build_image=None, wheels: Path | None = None):
    """Extract the archive, then run the ldd scan and runtime_checks.py in the run image, and
    (given a build image) build a C extension against the runtime in the build image."""
    tree = work_dir / "verify-tree"
    tls = work_dir / "tls"
    shutil.rmtree(tree, ignore_errors=True)
    archive_mod.extract(archive, tree)
    write_tls_material(tls)
    volumes = {
        str(tree): {"bind": VERIFY_PREFIX, "mode": "ro"},
        str(CHECKS_SCRIPT): {"bind": "/opt/pyruntimes/runtime_checks.py", "mode": "ro"},
        str(tls): {"bind": "/opt/pyruntimes/tls", "mode": "ro"},
    }
    checks, libraries = [], {}
    try:
        ldd_out = _run(client, run_image, ["sh", "-c", LDD_SCAN], volumes, run_id, pair)
        checks.append(_shared_library_check(ldd_out, libraries))
        out = _run(client, run_image,
                   [f"{VERIFY_PREFIX}/bin/python3", "/opt/pyruntimes/runtime_checks.py", version, "/opt/pyruntimes/tls",
                    BUILD_PREFIX],
                   volumes, run_id, pair)
        if build_image is not None:
            # readelf comes with the build image's binutils; run images have none.
            readelf_out = _run(client, build_image, ["sh", "-c", READELF_SCAN], volumes, run_id, pair)
            checks.append(_runpath_check(readelf_out))
            checks.append(_elf_hardening_check(readelf_out))
            checks.append(_c_extension_check(client, build_image, volumes, wheels, run_id, pair))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    parsed = []
    for line in out.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    if not parsed:
        checks.append(Check("runtime_starts", False, f"the runtime printed no results: {out.strip()[-500:]}"))
    else:
        checks.append(Check("runtime_starts", True, f"{VERIFY_PREFIX}/bin/python3 ran (built at {BUILD_PREFIX})"))
        checks += [Check(item["check"], item["ok"], item["detail"]) for item in parsed]
    return checks, libraries


def _for_each_elf(command: str) -> str:
    """A shell loop running `command` on every ELF file of the tree (by its magic bytes), each
    file's output preceded by "== PATH"; _by_file() splits it up again."""
    return f"""
find {VERIFY_PREFIX} -type f | while read -r f; do
  if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    echo "== $f"; {command}
  fi
done
"""


def _by_file(scan_out: str) -> dict[str, str]:
    """A _for_each_elf scan's output as each file's own text, keyed by the file's path in the tree
    (lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so), in path order."""
    files, current = {}, None
    for line in scan_out.splitlines():
        if line.startswith("== "):
            current = line[3:].removeprefix(VERIFY_PREFIX + "/")
            files[current] = []
        elif current is not None:
            files[current].append(line)
    return {name: "\n".join(files[name]) for name in sorted(files)}


def _capped(items: list[str], limit=10) -> str:
    """A list short enough to read in a check's detail, saying how many it leaves out."""
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


# The libraries each ELF file needs, as the run image resolves them; "=> not found" is a failure.
LDD_SCAN = _for_each_elf('ldd "$f" 2>&1 || true')
# Each ELF file's program headers (-l; one line each with -W) and dynamic section (-d): its search
# paths for elf_runpaths_relative, its segments and binding for elf_hardening. One scan, one container.
READELF_SCAN = _for_each_elf('readelf -lW -d "$f" 2>&1 || true')


def _runpath_check(readelf_out: str) -> Check:
    """Every RUNPATH/RPATH entry must be $ORIGIN-relative: an absolute one points into the build
    machine (or a path an app's image may fill), a relative one is resolved against the current
    directory at run time. And the interpreter must carry one, or it finds no libpython."""
    bad, with_paths = [], {}
    for name, text in _by_file(readelf_out).items():
        for match in re.finditer(r"\((?:RUNPATH|RPATH)\).*\[(.*)\]", text):
            entries = match.group(1).split(":")
            with_paths[name] = entries
            bad += [f"{name}: {entry!r}" for entry in entries if not entry.startswith(("$ORIGIN", "${ORIGIN}"))]
    if bad:
        return Check("elf_runpaths_relative", False, "search paths not relative to $ORIGIN: " + _capped(bad))
    interpreters = [name for name in with_paths if re.fullmatch(r"bin/python3\.\d+", name)]
    if not interpreters:
        return Check("elf_runpaths_relative", False, "bin/python3.X carries no $ORIGIN RUNPATH to find libpython")
    return Check("elf_runpaths_relative", True,
                 f"{len(with_paths)} ELF file(s) with a search path, all $ORIGIN-relative: {', '.join(sorted(with_paths))}")


# A program header line of `readelf -lW`: type, offset, virtual and physical address, file and
# memory size, flags ("R E", "RW ", "RWE"), alignment. The flags hold spaces, so they are what
# lies between the fifth number and the last.
PROGRAM_HEADER = re.compile(r"^[ \t]*(\S+)[ \t]+(?:0x[0-9a-f]+[ \t]+){5}([RWE ]*?)[ \t]*0x[0-9a-f]+[ \t]*$",
                            re.MULTILINE)
# Immediate binding, however the linker recorded it in the dynamic section: the DT_BIND_NOW tag,
# DF_BIND_NOW in DT_FLAGS, DF_1_NOW in DT_FLAGS_1 (GNU ld's -z now writes the last two).
BIND_NOW = re.compile(r"\((?:BIND_NOW\)|FLAGS\)[ \t].*\bBIND_NOW\b|FLAGS_1\)[ \t]+Flags:.*\bNOW\b)")


def elf_hardening_problems(readelf_text: str) -> list[str]:
    """What one ELF file lacks, from the output of `readelf -lW -d` on it: [] when it has full
    RELRO (a GNU_RELRO segment, sealed read-only after relocation, and immediate binding, so
    that the GOT is part of it), a non-executable stack, and no segment both writable and
    executable. python-build-standalone's validation requires the same of its distributions
    (src/validation.rs, astral-sh/python-build-standalone#1166)."""
    if "There are no program headers in this file." in readelf_text:
        return []  # an object file (ET_REL): never loaded as it is
    segments = PROGRAM_HEADER.findall(readelf_text)
    if not segments:
        return [f"readelf shows no program headers ({readelf_text.strip()[:100] or 'no output'})"]
    kinds = {kind for kind, _ in segments}
    stack_flags = [flags for kind, flags in segments if kind == "GNU_STACK"]
    problems = []
    if "GNU_RELRO" not in kinds:
        problems.append("no GNU_RELRO segment")
    # Without a dynamic section (statically linked) nothing is bound at run time, lazily or not.
    if "There is no dynamic section in this file." not in readelf_text and not BIND_NOW.search(readelf_text):
        problems.append("no BIND_NOW")
    if not stack_flags:
        problems.append("no GNU_STACK segment (the stack defaults to executable)")
    elif any("E" in flags for flags in stack_flags):
        problems.append("executable stack")
    problems += [f"writable and executable {kind} segment" for kind, flags in segments
                 if kind != "GNU_STACK" and "W" in flags and "E" in flags]
    return problems


def _elf_hardening_check(readelf_out: str) -> Check:
    """Every ELF file hardened as the build script asks the linker to (builds/build-python.sh:
    LDFLAGS): a file that falls short is named with what it lacks."""
    files = _by_file(readelf_out)
    if not files:
        return Check("elf_hardening", False, "no ELF file found in the tree")
    short = [f"{name}: {', '.join(problems)}" for name, text in files.items()
             if (problems := elf_hardening_problems(text))]
    if short:
        return Check("elf_hardening", False, f"{len(short)} of {len(files)} ELF files fall short: {_capped(short)}")
    return Check("elf_hardening", True, f"{len(files)} ELF files: full RELRO, non-executable stack, no W+X segment")


CEXT_SCRIPT = f"""
set -e
cp -r /opt/pyruntimes/cext_package /tmp/cext_package
{VERIFY_PREFIX}/bin/python3 -m venv /tmp/venv
/tmp/venv/bin/python -m pip install -q --disable-pip-version-check --no-index --find-links /opt/pyruntimes/wheels \
    /tmp/cext_package
/tmp/venv/bin/python -c 'import sys, pyruntimes_cext as m; assert m.add(2, 3) == 5; \
    assert m.compiled_for == sys.version.split()[0], m.compiled_for; print("built and imported", m.__file__)'
"""


def _c_extension_check(client, build_image, volumes, wheels, run_id, pair) -> Check:
    """pip builds a C extension in a venv of the runtime, in the stack's build image (the run image
    has no compiler, as on the platforms that deploy these runtimes), then imports it."""
    volumes = {**volumes,
               str(CEXT_PACKAGE): {"bind": "/opt/pyruntimes/cext_package", "mode": "ro"},
               str(wheels): {"bind": "/opt/pyruntimes/wheels", "mode": "ro"}}
    out, status = _run(client, build_image, ["bash", "-c", CEXT_SCRIPT], volumes, run_id, pair, with_status=True)
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


def _shared_library_check(ldd_out: str, libraries: dict) -> Check:
    files, missing = _by_file(ldd_out), []
    for path, text in files.items():
        for match in re.finditer(r"^[ \t]*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$", text, re.MULTILINE):
            name, resolved = match.groups()
            if resolved == "not found":
                missing.append(f"{name} (needed by {path})")
            elif not resolved.startswith(VERIFY_PREFIX):
                libraries[name] = resolved
    if not files:
        return Check("shared_libraries_resolve", False, "no ELF file found in the tree")
    if missing:
        return Check("shared_libraries_resolve", False, "not found in the run image: " + ", ".join(sorted(set(missing))))
    return Check("shared_libraries_resolve", True, f"{len(files)} ELF files; {len(libraries)} system libraries resolve")


def _run(client, image, command, volumes, run_id, pair, with_status=False):
    container = client.containers.run(command=command, volumes=volumes, environment={"HOME": "/tmp"},
                                      **container_options(image, run_id, pair))
    try:
        try:
            status = container.wait(timeout=STEP_TIMEOUT)["StatusCode"]
        except (*engine.GONE, *engine.SLOW) as exc:
            if not engine.timed_out(exc):
                raise
            raise PairError(f"verification stopped: '{' '.join(command)[:60]}' ran past {STEP_TIMEOUT // 60} min "
                            "in the stack's image") from None
        out = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return (out, status) if with_status else out
    finally:
        remove_quietly(container)


def write_tls_material(directory: Path):
    """A CA made for this verification, and a localhost certificate it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyruntimes verification CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(cert.public_bytes(pem))
    (directory / "server.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))


def checks_sha256() -> str:
    """The checks' own code: a change to any of it means earlier verification results are stale."""
    files = [Path(__file__), CHECKS_SCRIPT, *sorted(p for p in CEXT_PACKAGE.rglob("*") if p.is_file())]
    return inputs_sha256({"files": {str(p.relative_to(CHECKS_SCRIPT.parent)): file_sha256(p) for p in files},
                          "setuptools": SETUPTOOLS, "setuptools_sha256": SETUPTOOLS_SHA256})
