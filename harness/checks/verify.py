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

This module is the one entry point (verify: every check, in its order), runs the containers
(runtime_checks, _run_step) and hashes the checks' code (checks_sha256:
every file of this folder); the other modules of harness/checks/ hold what the checks look for
(harness/checks/__init__.py lists them).
"""

import json
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .. import archive as archive_mod
from .. import emulation, engine, jobserver
from ..build import PREFIX as BUILD_PREFIX
from ..containers import ContainerRun, usable_cores
from ..engine import remove_quietly
from ..errors import PairError
from ..hashing import file_sha256, inputs_sha256
from . import archive_checks, cext_check, elf_checks, elf_hardening, elf_policy, embed_check, flags_check, tls_material
from .check import VERIFY_PREFIX, Check

STEP_TIMEOUT = 900  # seconds for one verification container (the C-extension build is the longest)
# This folder, harness/checks/: everything a verification runs, hashed whole by checks_sha256().
CHECKS = Path(__file__).resolve().parent
CHECKS_SCRIPT = CHECKS / "runtime_checks.py"


@dataclass(frozen=True)
class Subject:
    """What a verification checks, and in which images: the archive and its build log, the
    runtime's version and architecture, the stack's run image, and (given) its build image, where
    the checks that need binutils or a compiler run. tools_image, when given, is where readelf runs
    instead (it reads any architecture's ELF files): for a cross-built pair the machine's own
    image, where it runs natively, not under QEMU. build_flags: what the build script stated (the
    record's "build_flags"), which the compilation records are read back against."""
    archive: Path
    log_path: Path
    version: str
    arch: str
    run_image: object
    build_image: object = None
    tools_image: object = None
    build_flags: dict | None = None
    abi_suffix: str = ""  # the variant's ABI flag: "t" for a free-threaded build (its own checks run)
    policy: object = None  # the stack's ElfPolicy (stack.toml [policy]): what the runtime may ask of the system


def verify(run: ContainerRun, subject: Subject, cache_dir: Path, work_root: Path, log) -> tuple[list, dict]:
    """Every check of a verification, in its order: the archive's hygiene and the build log, read
    on the host, then the checks in the stack's images (runtime_checks), in a folder of its own
    under work_root (another run may be verifying the same pair right now), with the wheels the
    C-extension check needs fetched into cache_dir; log hears of the steps. Returns the checks,
    and what runtime_checks found out about the run image. harness/case.py calls it, and reuses
    its results where harness/cache_policy.py says they can stand (reusable_verification)."""
    checks = archive_checks.hygiene_checks(subject.archive)
    checks.append(archive_checks.build_log_check(subject.log_path))
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{run.pair}-", dir=work_root))
    try:
        wheels = cext_check.fetch_wheels(cache_dir, log=log)
        runtime, run_image_facts = runtime_checks(run, subject, work, wheels, log=log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checks + runtime, run_image_facts


def runtime_checks(run: ContainerRun, subject: Subject, work_dir: Path, wheels: Path | None = None, log=None):
    """Extract the archive, then run the ldd scan and runtime_checks.py in the run image, and
    (given a build image) in the build image: readelf on every ELF file, a C extension built by pip
    (with wheels), two embedding programs compiled (then run in the run image), and the
    compilation records read back against the stated build flags. Each step holds a slot of the
    run's jobserver (run.jobserver) while it runs, as builds do.

    Returns the checks, and what the ldd scan found out about the run image, as the record's
    fields: shared_libraries (name -> path), shared_library_packages (name -> path, package,
    version, arch) and run_image_os (its /etc/os-release ID and VERSION_ID).

    log, when given, hears of each step as it ends, with its seconds: under emulation the
    verification takes minutes, and a step that runs long should show which it is."""
    tree = work_dir / "verify-tree"
    shutil.rmtree(tree, ignore_errors=True)
    archive_mod.extract(subject.archive, tree)
    volumes = _mounts(tree, work_dir / "tls")
    # The steps read the tree and write nothing into it, so they run side by side: under emulation
    # (a foreign architecture) each is a single QEMU process for minutes, and one after another they
    # left a core idle. Each holds a slot of the run's jobserver while it runs, so that with builds
    # and other pairs' steps no more run at once than there are cores (the time limits of steps
    # that wait for a core would otherwise run out). Their checks keep their order.
    slower = emulation.slowdown(subject.arch)

    def _run(step, image, command, step_volumes, with_status=False, cores=1, env=None):
        with jobserver.slots(run.jobserver, cores):
            started = time.monotonic()
            result = _run_step(run, image, command, step_volumes, with_status, slower, env)
        if log is not None:
            log(f"verify: {step} done ({time.monotonic() - started:.0f}s)")
        return result

    checks, libraries = [], {}
    run_image, build_image = subject.run_image, subject.build_image
    runtime_command = [f"{VERIFY_PREFIX}/bin/python3", "/opt/pyruntimes/runtime_checks.py", subject.version,
                       "/opt/pyruntimes/tls", BUILD_PREFIX, subject.abi_suffix]
    try:
        with ThreadPoolExecutor(max_workers=max(2, usable_cores())) as pool:
            ldd = pool.submit(_run, "ldd scan", run_image, ["sh", "-c", elf_checks.LDD_SCAN], volumes)
            runtime = pool.submit(_run, "runtime checks", run_image, runtime_command, volumes)
            if build_image is not None:
                # readelf comes with the build image's binutils; run images have none.
                readelf = pool.submit(_run, "readelf scan", subject.tools_image or build_image,
                                      ["sh", "-c", elf_checks.READELF_SCAN], volumes)
                sysconfig = pool.submit(_run, "sysconfig scan", build_image, ["sh", "-c", flags_check.SYSCONFIG_SCAN], volumes)
                embedding = pool.submit(_embedding, _run, build_image, run_image, volumes, subject.version, work_dir)
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
                checks += _build_image_checks(readelf_out, subject)
                checks.append(embedding.result())
                checks.append(cext_check.c_extension_check(*cext.result()))
        if subject.abi_suffix == "t":
            # Threads running Python code in parallel, timed: alone, with every core of the run.
            out += "\n" + _run("thread scaling", run_image, runtime_command, volumes, cores=usable_cores(),
                                env={"PYRUNTIMES_ONLY": "free_threading_threads_run_in_parallel"})
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return checks + _runtime_results(out), run_image_facts


def _mounts(tree: Path, tls: Path) -> dict:
    """What every verification container sees, read-only: the extracted tree, the runtime's own
    checks, and the TLS material (written into tls)."""
    tls_material.write_tls_material(tls)
    return {
        str(tree): {"bind": VERIFY_PREFIX, "mode": "ro"},
        str(CHECKS_SCRIPT): {"bind": "/opt/pyruntimes/runtime_checks.py", "mode": "ro"},
        str(tls): {"bind": "/opt/pyruntimes/tls", "mode": "ro"},
    }


def _build_image_checks(readelf_out: str, subject: Subject) -> list[Check]:
    """The checks read from the readelf and sysconfig scans."""
    return [elf_checks.runpath_check(readelf_out),
            elf_checks.interpreter_static_check(readelf_out),
            elf_hardening.elf_hardening_check(readelf_out, subject.build_flags),
            elf_policy.elf_policy_check(readelf_out, subject.policy),
            elf_checks.elf_architecture_check(readelf_out, subject.arch),
            flags_check.build_flags_check(readelf_out, subject.build_flags),
            flags_check.builtin_modules_check(readelf_out, subject.build_flags)]


def _runtime_results(out: str) -> list[Check]:
    """The checks runtime_checks.py printed (a JSON line each), after runtime_starts."""
    parsed = []
    for line in out.splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    if not parsed:
        return [Check("runtime_starts", False, f"the runtime printed no results: {out.strip()[-500:]}")]
    return [Check("runtime_starts", True, f"{VERIFY_PREFIX}/bin/python3 ran (built at {BUILD_PREFIX})"),
            *(Check(item["check"], item["ok"], item["detail"]) for item in parsed)]


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


def _run_step(run: ContainerRun, image, command, volumes, with_status=False, slower=1, env=None):
    container = run.docker.containers.run(command=command, volumes=volumes,
                                          environment={"HOME": "/tmp", "PYRUNTIMES_SLOWER": str(slower), **(env or {})},
                                          **run.options(image))
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
