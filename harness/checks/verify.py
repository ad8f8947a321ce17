"""Verification of a packaged runtime in its stack's RUN image, at a path other than it was built at.

Three sources of checks, each reported under its own name:
- the archive itself, read on the host (hygiene: paths, owners, modes, leftovers);
- the build log (modules CPython's build reported as missing or failed);
- the runtime, running in the run image: shared libraries resolved by ldd, then
  harness/checks/runtime_checks.py run by the runtime under test (versions, every extension module,
  TLS, sqlite3, venv and pip, compression, relocation, recursion in threads); and in the
  stack's BUILD image, which has binutils and a compiler: readelf on every ELF file (search
  paths, a static interpreter, hardening, the flags each was compiled with), pip building a C
  extension, and two programs embedding the runtime (run in the run image).
The containers have no network: the TLS check talks to a server on the container's loopback.

This module runs the containers (runtime_checks, _run) and hashes the checks' code (checks_sha256:
every file of this folder); the other modules of harness/checks/ hold what the checks look for
(harness/checks/__init__.py lists them).
"""

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import archive as archive_mod
from .. import emulation, engine, jobserver
from ..build import PREFIX as BUILD_PREFIX
from ..build import container_options, usable_cores
from ..engine import remove_quietly
from ..errors import PairError
from ..hashing import file_sha256, inputs_sha256
from . import cext_check, elf_checks, embed_check, flags_check, tls_material
from .check import VERIFY_PREFIX, Check

STEP_TIMEOUT = 900  # seconds for one verification container (the C-extension build is the longest)
# This folder, harness/checks/: everything a verification runs, hashed whole by checks_sha256().
CHECKS = Path(__file__).resolve().parent
CHECKS_SCRIPT = CHECKS / "runtime_checks.py"


def runtime_checks(client, run_image, archive: Path, version: str, run_id: str, pair: str, work_dir: Path,
                   build_image=None, wheels: Path | None = None, build_flags: dict | None = None, arch: str = "amd64",
                   jobserver_path=None, tools_image=None, log=None):
    """Extract the archive, then run the ldd scan and runtime_checks.py in the run image, and
    (given a build image) in the build image: readelf on every ELF file, a C extension built by pip,
    two embedding programs compiled (then run in the run image), and the compilation records read
    back against build_flags, what the build script stated (the record's "build_flags"). Each
    step holds a slot of the run's jobserver (jobserver_path) while it runs, as builds do.
    tools_image, when given, is where readelf runs instead (it reads any architecture's ELF files):
    for a cross-built pair the machine's own image, where it runs natively, not under QEMU.

    Returns the checks, and what the ldd scan found out about the run image, as the record's
    fields: shared_libraries (name -> path), shared_library_packages (name -> path, package,
    version, arch) and run_image_os (its /etc/os-release ID and VERSION_ID).

    log, when given, hears of each step as it ends, with its seconds: under emulation the
    verification takes minutes, and a step that runs long should show which it is."""
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
    # The steps read the tree and write nothing into it, so they run side by side: under emulation
    # (a foreign architecture) each is a single QEMU process for minutes, and one after another they
    # left a core idle. Each holds a slot of the run's jobserver while it runs, so that with builds
    # and other pairs' steps no more run at once than there are cores (the time limits of steps
    # that wait for a core would otherwise run out). Their checks keep their order.
    slower = emulation.slowdown(arch)

    def _run(step, image, command, step_volumes, with_status=False):
        with jobserver.slot(jobserver_path):
            started = time.monotonic()
            result = _run_step(client, image, command, step_volumes, run_id, pair, with_status, slower)
        if log is not None:
            log(f"verify: {step} done ({time.monotonic() - started:.0f}s)")
        return result

    checks, libraries = [], {}
    try:
        with ThreadPoolExecutor(max_workers=max(2, usable_cores())) as pool:
            ldd = pool.submit(_run, "ldd scan", run_image, ["sh", "-c", elf_checks.LDD_SCAN], volumes)
            runtime = pool.submit(_run, "runtime checks", run_image,
                                  [f"{VERIFY_PREFIX}/bin/python3", "/opt/pyruntimes/runtime_checks.py", version,
                                   "/opt/pyruntimes/tls", BUILD_PREFIX],
                                  volumes)
            if build_image is not None:
                # readelf comes with the build image's binutils; run images have none.
                readelf = pool.submit(_run, "readelf scan", tools_image or build_image, ["sh", "-c", elf_checks.READELF_SCAN], volumes)
                sysconfig = pool.submit(_run, "sysconfig scan", build_image, ["sh", "-c", flags_check.SYSCONFIG_SCAN], volumes)
                embedding = pool.submit(_embedding, _run, build_image, run_image, volumes, version, work_dir)
                cext = pool.submit(_run, "C extension build (pip)", build_image, ["bash", "-c", cext_check.CEXT_SCRIPT],
                                   {**volumes, **cext_check.volumes(wheels)}, with_status=True)
            ldd_out = ldd.result()
            checks.append(elf_checks.shared_library_check(ldd_out, libraries))
            run_image_facts = {"shared_libraries": dict(sorted(libraries.items())),
                               "shared_library_packages": elf_checks.library_packages(ldd_out, libraries),
                               "run_image_os": elf_checks.run_image_os(ldd_out)}
            out = runtime.result()
            if build_image is not None:
                readelf_out = sysconfig.result() + readelf.result()
                checks.append(elf_checks.runpath_check(readelf_out))
                checks.append(elf_checks.interpreter_static_check(readelf_out))
                checks.append(elf_checks.elf_hardening_check(readelf_out))
                checks.append(elf_checks.elf_architecture_check(readelf_out, arch))
                checks.append(flags_check.build_flags_check(readelf_out, build_flags))
                checks.append(flags_check.builtin_modules_check(readelf_out, build_flags))
                checks.append(embedding.result())
                checks.append(cext_check.c_extension_check(*cext.result()))
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


def _embedding(run, build_image, run_image, volumes, version, work_dir) -> Check:
    """Compile the embedding programs in the build image, run them in the run image."""
    out_dir = work_dir / "embed"
    out_dir.mkdir(exist_ok=True)
    build_out, build_status = run("embedding programs build", build_image, ["bash", "-c", embed_check.BUILD_SCRIPT],
                                  {**volumes, **embed_check.volumes(out_dir, writable=True)}, with_status=True)
    run_out = run_status = None
    if build_status == 0:
        run_out, run_status = run("embedding programs run", run_image, ["sh", "-c", embed_check.run_script()],
                                  {**volumes, **embed_check.volumes(out_dir, writable=False)}, with_status=True)
    return embed_check.embed_check(build_out, build_status, run_out, run_status, version)


def _run_step(client, image, command, volumes, run_id, pair, with_status=False, slower=1):
    container = client.containers.run(command=command, volumes=volumes,
                                      environment={"HOME": "/tmp", "PYRUNTIMES_SLOWER": str(slower)},
                                      **container_options(image, run_id, pair))
    try:
        try:
            status = container.wait(timeout=STEP_TIMEOUT * slower)["StatusCode"]
        except (*engine.GONE, *engine.SLOW) as exc:
            if not engine.timed_out(exc):
                raise
            raise PairError(f"verification stopped: '{' '.join(command)[:60]}' ran past {STEP_TIMEOUT * slower // 60} min "
                            "in the stack's image") from None
        out = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return (out, status) if with_status else out
    finally:
        remove_quietly(container)


def checks_sha256(folder: Path = CHECKS) -> str:
    """The checks' own code: a change to any of it means earlier verification results are stale.
    That is every file under harness/checks/ (this module, the check modules, CHECKS_SCRIPT, the
    C-extension package, the embedding programs, and any file added there later), by its path and
    its bytes, no list to keep; and the setuptools wheel the C extension builds with (by its pin,
    read when called, not when imported). Python's bytecode caches (__pycache__) are left out: they
    are made from the files, not code of their own. folder: harness/checks/, or a copy of it."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(folder).parts)
    return inputs_sha256({"files": {p.relative_to(folder).as_posix(): file_sha256(p) for p in files},
                          "setuptools": cext_check.SETUPTOOLS, "setuptools_sha256": cext_check.SETUPTOOLS_SHA256})
