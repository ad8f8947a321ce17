"""Verification of a packaged runtime in its stack's RUN image, at a path other than it was built at.

Three sources of checks, each reported under its own name:
- the archive itself, read on the host (hygiene: paths, owners, modes, leftovers);
- the build log (modules CPython's build reported as missing or failed);
- the runtime, running in the run image: shared libraries resolved by ldd, then
  harness/runtime_checks.py run by the runtime under test (versions, every extension module,
  TLS, sqlite3, venv and pip, compression, relocation, recursion in threads); and in the
  stack's BUILD image, which has binutils and a compiler: readelf on every ELF file (search
  paths, a static interpreter, hardening, the flags each was compiled with), pip building a C
  extension, and two programs embedding the runtime (run in the run image).
The containers have no network: the TLS check talks to a server on the container's loopback.

This module runs the containers (runtime_checks, _run) and hashes the checks' code
(checks_sha256); one module per kind of check holds what the checks look for:
- check: the Check result type, and VERIFY_PREFIX, where the tree is mounted in the containers;
- archive_checks: the archive and the build log, read on the host (case.py runs them);
- elf_checks: the ldd and readelf scans, and the checks read from their output;
- cext_check: the C-extension build, and the pinned setuptools wheel it needs;
- embed_check: the programs that embed the runtime through libpython3.X.so and libpython3.so;
- flags_check: the compilation records, sysconfig's flags and the built-in modules, against the build
  script's statement;
- tls_material: the CA and certificate the TLS checks use;
- runtime_checks.py: the checks the runtime under test runs on itself.
"""

import json
import shutil
from pathlib import Path

from . import archive as archive_mod
from . import archive_checks, cext_check, check, elf_checks, embed_check, engine, flags_check, tls_material
from .build import PREFIX as BUILD_PREFIX
from .build import container_options
from .check import VERIFY_PREFIX, Check
from .engine import remove_quietly
from .errors import PairError
from .hashing import file_sha256, inputs_sha256

STEP_TIMEOUT = 900  # seconds for one verification container (the C-extension build is the longest)
CHECKS_SCRIPT = Path(__file__).resolve().parent / "runtime_checks.py"
# The modules that define checks or what they run on, besides this one: a change to any of them
# (like one to CHECKS_SCRIPT, the C-extension package or the setuptools pin) changes checks_sha256().
CHECK_MODULES = (check, archive_checks, elf_checks, cext_check, embed_check, flags_check, tls_material)


def runtime_checks(client, run_image, archive: Path, version: str, run_id: str, pair: str, work_dir: Path,
                   build_image=None, wheels: Path | None = None, build_flags: dict | None = None, arch: str = "amd64"):
    """Extract the archive, then run the ldd scan and runtime_checks.py in the run image, and
    (given a build image) in the build image: readelf on every ELF file, a C extension built by pip,
    two embedding programs compiled (then run in the run image), and the compilation records read
    back against build_flags, what the build script stated (the record's "build_flags").

    Returns the checks, and what the ldd scan found out about the run image, as the record's
    fields: shared_libraries (name -> path), shared_library_packages (name -> path, package,
    version, arch) and run_image_os (its /etc/os-release ID and VERSION_ID)."""
    tree = work_dir / "verify-tree"
    tls = work_dir / "tls"
    shutil.rmtree(tree, ignore_errors=True)
    archive_mod.extract(archive, tree)
    tls_material.write_tls_material(tls)
    volumes = {
        str(tree): {"bind": VERIFY_PREFIX, "mode": "ro"},
        str(CHECKS_SCRIPT): {"bind": "/opt/pyruntimes/runtime_checks.py", "mode": "ro"},
        str(tls): {"bind": "/opt/pyruntimes/tls", "mode": "ro"},
    }
    checks, libraries = [], {}
    try:
        ldd_out = _run(client, run_image, ["sh", "-c", elf_checks.LDD_SCAN], volumes, run_id, pair)
        checks.append(elf_checks.shared_library_check(ldd_out, libraries))
        run_image_facts = {"shared_libraries": dict(sorted(libraries.items())),
                           "shared_library_packages": elf_checks.library_packages(ldd_out, libraries),
                           "run_image_os": elf_checks.run_image_os(ldd_out)}
        out = _run(client, run_image,
                   [f"{VERIFY_PREFIX}/bin/python3", "/opt/pyruntimes/runtime_checks.py", version, "/opt/pyruntimes/tls",
                    BUILD_PREFIX],
                   volumes, run_id, pair)
        if build_image is not None:
            # readelf comes with the build image's binutils; run images have none.
            readelf_out = _run(client, build_image, ["sh", "-c", flags_check.SYSCONFIG_SCAN + elf_checks.READELF_SCAN],
                               volumes, run_id, pair)
            checks.append(elf_checks.runpath_check(readelf_out))
            checks.append(elf_checks.interpreter_static_check(readelf_out))
            checks.append(elf_checks.elf_hardening_check(readelf_out))
            checks.append(elf_checks.elf_architecture_check(readelf_out, arch))
            checks.append(flags_check.build_flags_check(readelf_out, build_flags))
            checks.append(flags_check.builtin_modules_check(readelf_out, build_flags))
            checks.append(_embedding(client, build_image, run_image, volumes, version, work_dir, run_id, pair))
            cext_out, status = _run(client, build_image, ["bash", "-c", cext_check.CEXT_SCRIPT],
                                    {**volumes, **cext_check.volumes(wheels)}, run_id, pair, with_status=True)
            checks.append(cext_check.c_extension_check(cext_out, status))
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
    return checks, run_image_facts


def _embedding(client, build_image, run_image, volumes, version, work_dir, run_id, pair) -> Check:
    """Compile the embedding programs in the build image, run them in the run image."""
    out_dir = work_dir / "embed"
    out_dir.mkdir(exist_ok=True)
    build_out, build_status = _run(client, build_image, ["bash", "-c", embed_check.BUILD_SCRIPT],
                                   {**volumes, **embed_check.volumes(out_dir, writable=True)}, run_id, pair,
                                   with_status=True)
    run_out = run_status = None
    if build_status == 0:
        run_out, run_status = _run(client, run_image, ["sh", "-c", embed_check.run_script()],
                                   {**volumes, **embed_check.volumes(out_dir, writable=False)}, run_id, pair,
                                   with_status=True)
    return embed_check.embed_check(build_out, build_status, run_out, run_status, version)


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


def checks_sha256() -> str:
    """The checks' own code: a change to any of it means earlier verification results are stale.
    That is this module, CHECK_MODULES, CHECKS_SCRIPT, every file of the C-extension package, and
    the setuptools wheel it builds with (by its pin, read when called, not when imported)."""
    files = [Path(__file__).resolve(), *(Path(module.__file__).resolve() for module in CHECK_MODULES), CHECKS_SCRIPT,
             *sorted(p for folder in (cext_check.CEXT_PACKAGE, embed_check.EMBED_PROGRAM)
                     for p in folder.rglob("*") if p.is_file())]
    return inputs_sha256({"files": {str(p.relative_to(CHECKS_SCRIPT.parent)): file_sha256(p) for p in files},
                          "setuptools": cext_check.SETUPTOOLS, "setuptools_sha256": cext_check.SETUPTOOLS_SHA256})
