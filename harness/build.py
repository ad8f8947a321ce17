"""Running builds/build-python.sh in a stack's build image: no network, no credentials.

The container sees only what it needs, read-only: the verified source tarball and the build
script. Its one writable mount is the install prefix, a fresh host folder. It runs as the host's
user, so the tree it leaves is ours to package and delete. Output is streamed line by line into
the pair's log; "::phase::" lines report progress and are timed.
"""

import enum
import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from . import durations, jobserver, redact
from .containers import ContainerRun, usable_cores
from .engine import GONE, remove_quietly
from .errors import PairError
from .layout import BUILD_SCRIPT, CROSS

PREFIX = "/build/python"  # the path the runtime is built at; verification uses another
PHASE_MARK = "::phase:: "
HEARTBEAT = 60  # seconds between progress lines within one phase
DEFAULT_TIMEOUT = 4 * 3600  # a release build takes 15-20 min here; one emulated for another CPU, hours
PGO_MARK = "::pgo:: "  # the PGO training run's summary (JSON), written by the build script
BOLT_MARK = "::bolt:: "  # the same for BOLT's training run (release builds of 3.13+ where the image has BOLT)
FLAGS_MARK = "::flags:: "  # the flags the build script states it builds with (JSON); the build_flags check
CPU_MARK = "::cpu:: "  # the CPU seconds the build took, user and system (JSON)


@dataclass
class BuildResult:
    phase_seconds: dict = field(default_factory=dict)
    exit_code: int = 0
    killed: str = ""
    timed_out: bool = False
    pgo: dict = field(default_factory=dict)  # release builds: what the training run ran and how it ended
    bolt: dict = field(default_factory=dict)  # the same for BOLT's training, when the build used BOLT
    flags: dict = field(default_factory=dict)  # what the build script states (optimization, lto, pgo, CFLAGS...)
    cpu: dict = field(default_factory=dict)  # user_seconds, system_seconds of the whole build


class Method(enum.Enum):
    """How a pair's binaries are made on this machine."""
    NATIVE = "native"  # the pair's architecture is the machine's
    CROSS = "cross"  # the machine's compiler for the pair's architecture (stack.toml [cross])
    EMULATED = "emulated"  # the pair's own build image, its compiler run under QEMU (harness/emulation.py)


def method(stack, formula, arch: str, machine_arch: str) -> Method:
    """Cross-compiling where the stack says how and the version can (3.11+: configure's
    --with-build-python); else a foreign architecture is built under emulation, about 13x slower
    (bench/emulation.py), but for any stack and version."""
    if arch == machine_arch:
        return Method.NATIVE
    if stack.cross_compiles and tuple(int(n) for n in formula.minor.split(".")) >= (3, 11):
        return Method.CROSS
    return Method.EMULATED


@dataclass(frozen=True)
class BuildInputs:
    """What one build is made of: the image it runs in (for a cross build the machine's, with the
    cross compiler), the formula and its checked source, the profile, and staging, the fresh host
    folder mounted as the install prefix (its one writable mount). Release builds write the
    profiles they used to profile_out (a tar; builds/build-python.sh: PROFILE_OUT), and given
    profile_in (such a tar) use it instead of training. Given cross_arch (an architecture other
    than the image's), the script cross-compiles for it: CROSS_ARCH."""
    image: object
    formula: object
    source: Path
    profile: str
    staging: Path
    timeout: int = DEFAULT_TIMEOUT
    profile_out: Path | None = None
    profile_in: Path | None = None
    cross_arch: str = ""
    # The source's release date (sources.release_epoch): __DATE__ in sys.version, and the archive's
    # mtimes, are this, so they are true and the same for every build of the same source.
    source_date_epoch: int = 0


@dataclass(frozen=True)
class Container:
    """One build container: its image, command, environment and mounts."""
    image: object
    command: list
    env: dict
    volumes: dict


def run_build(run: ContainerRun, inputs: BuildInputs, log_file, on_phase) -> BuildResult:
    """Build in a container. With run.jobserver (the run's shared pool, harness/jobserver.py) the
    build first waits for a slot of its own, and its make draws further slots from the pool."""
    # A snapshot of the script, not the file itself: bash reads a script as it runs, so an edit
    # to builds/build-python.sh during a long build would otherwise break that build midway.
    script = inputs.staging.parent / f".build-python-{inputs.staging.name}.sh"
    shutil.copyfile(BUILD_SCRIPT, script)
    try:
        with jobserver.slot(run.jobserver):
            on_phase("started (holding a jobserver slot)" if run.jobserver else "started")
            return _run(run, _container(inputs, script, run.jobserver), log_file, on_phase, inputs.timeout)
    finally:
        script.unlink(missing_ok=True)


def _container(inputs: BuildInputs, script: Path, jobserver_path) -> Container:
    """The build's container: the source, the script snapshot, the patches and the profiles
    mounted read-only, the install prefix (and a profile's way out) writable."""
    source, formula = inputs.source, inputs.formula
    env = {
        "SOURCE_TARBALL": f"/src/{source.name}",
        "PYTHON_VERSION": formula.version,
        "BUILD_PROFILE": inputs.profile,
        "MAKE_JOBS": str(usable_cores()),
        "PREFIX": PREFIX,
        "CONFIGURE_EXTRA": "\n".join(formula.configure_args),
        "SOURCE_DATE_EPOCH": str(inputs.source_date_epoch),
        "ABI_SUFFIX": formula.abi_suffix,  # a variant's ABI flag: "t" for free-threaded (lib/python3.13t)
        "HOME": "/tmp",
    }
    if formula.cflags:  # a variant's target options for CPython's own code (-march=x86-64-v3)
        env["VARIANT_CFLAGS"] = " ".join(formula.cflags)
    volumes = {
        str(source): {"bind": f"/src/{source.name}", "mode": "ro"},
        str(script): {"bind": "/opt/pyruntimes/build-python.sh", "mode": "ro"},
        str(inputs.staging): {"bind": PREFIX, "mode": "rw"},
    }
    if formula.patches:
        env["PATCHES"] = "\n".join(f"/src/patches/{patch.name}" for patch in formula.patches)
        for patch in formula.patches:
            volumes[str(patch)] = {"bind": f"/src/patches/{patch.name}", "mode": "ro"}
    if inputs.cross_arch:
        env["CROSS_ARCH"] = inputs.cross_arch
        volumes[str(CROSS)] = {"bind": "/opt/pyruntimes/cross", "mode": "ro"}
    if inputs.profile_out is not None:
        volumes[str(inputs.profile_out.parent)] = {"bind": "/build/profile-out", "mode": "rw"}
        env["PROFILE_OUT"] = f"/build/profile-out/{inputs.profile_out.name}"
    if inputs.profile_in is not None:
        volumes[str(inputs.profile_in)] = {"bind": "/build/profile-in.tar", "mode": "ro"}
        env["PROFILE_IN"] = "/build/profile-in.tar"
    command = ["bash", "/opt/pyruntimes/build-python.sh"]
    if jobserver_path:
        volumes[str(jobserver_path)] = {"bind": jobserver.CONTAINER_PATH, "mode": "rw"}
        command = ["bash", "-c", jobserver.CONTAINER_PRELUDE, "jobserver", *command]
    return Container(inputs.image, command, env, volumes)


def _run(run: ContainerRun, spec: Container, log_file, on_phase, timeout) -> BuildResult:
    result = BuildResult()
    container = run.docker.containers.run(command=spec.command, environment=spec.env, volumes=spec.volumes,
                                          **run.options(spec.image))
    deadline = _deadline(container, result, timeout)
    log = _Log(result, log_file, on_phase)
    ended = threading.Event()
    beating = threading.Thread(target=log.heartbeat, args=(ended,), daemon=True)
    beating.start()
    try:
        for count, line in enumerate(_lines(container.logs(stream=True, follow=True)), 1):
            log.read(count, line)
        _exit_status(container, result)
        log.close()
    finally:
        deadline.cancel()
        ended.set()
        beating.join()
        log_file.flush()
        remove_quietly(container)
    _raise_unless_built(result, log.phase, timeout, log_file)
    return result


def _deadline(container, result: BuildResult, timeout) -> threading.Timer:
    """Kill the container once it runs past timeout seconds (and say so in result)."""
    def stop_at_deadline():
        # The log stream ends when the container does, so killing it is all it takes; _run's
        # finally removes it (a removal from this thread could still be under way at exit).
        result.timed_out = True
        try:
            container.kill()
        except (docker.errors.APIError, *GONE):
            pass

    deadline = threading.Timer(timeout, stop_at_deadline)
    deadline.daemon = True
    deadline.start()
    return deadline


def _exit_status(container, result: BuildResult):
    result.exit_code = -1 if result.timed_out else container.wait()["StatusCode"]
    if result.exit_code != 0 and not result.timed_out:  # say whether the kernel's OOM killer or a SIGKILL ended it
        container.reload()
        if container.attrs["State"].get("OOMKilled"):
            result.killed = "the container ran out of memory"
        elif result.exit_code == 137:
            result.killed = "the container was killed (SIGKILL)"


def _raise_unless_built(result: BuildResult, phase: str, timeout, log_file):
    if result.timed_out:
        raise PairError(f"build stopped in phase '{phase}': it ran past the time limit of {durations.describe(timeout)} "
                        "(--build-timeout); see " + log_file.name)
    if result.pgo and not result.pgo.get("ok"):
        raise PairError(f"release build failed: {result.pgo.get('problem', 'the PGO training run is unaccounted for')}, "
                        f"so the build would have no profile; see {log_file.name}")
    if result.bolt and not result.bolt.get("ok"):
        raise PairError(f"release build failed: {result.bolt.get('problem', 'the BOLT training run is unaccounted for')}, "
                        f"so BOLT would have no profile; see {log_file.name}")
    if result.exit_code != 0:
        how = result.killed or f"exit {result.exit_code}"
        raise PairError(f"build failed in phase '{phase}' ({how}); see {log_file.name}")


class _Log:
    """The build's log as it streams: each line written to the pair's log file, the markers the
    build script prints (MARKERS) read into the result, and the phase shown live."""

    def __init__(self, result: BuildResult, log_file, on_phase):
        self.result, self.log_file, self.on_phase = result, log_file, on_phase
        self.phase, self.started, self.lines = "start", time.monotonic(), 0
        self.lock = threading.Lock()  # the heartbeat's thread reads phase, started and lines

    def read(self, count: int, line: str):
        # A build never sees a credential (no network, none mounted); the log goes through the
        # redactor all the same, as everything the harness writes does (harness/redact.py).
        self.log_file.write(redact.redact(line) + "\n")
        now = time.monotonic()
        with self.lock:
            self.lines = count
        for mark, handle in MARKERS.items():
            if line.startswith(mark):
                handle(self, line[len(mark):], now)
                break

    def new_phase(self, text: str, now: float):
        self.result.phase_seconds[self.phase] = round(now - self.started, 1)
        with self.lock:
            self.phase, self.started = text.strip(), now
        self.log_file.flush()
        self.on_phase(self.phase)

    def close(self):
        """The last phase's seconds, unless the script said it was done; "start" and "done" are no phases."""
        if self.phase != "done":
            self.result.phase_seconds[self.phase] = round(time.monotonic() - self.started, 1)
        self.result.phase_seconds.pop("start", None)
        self.result.phase_seconds.pop("done", None)

    def heartbeat(self, ended: threading.Event):
        """A heartbeat by the clock, not by the log: a phase can print nothing for minutes (the LTO
        link of libpython, a PGO training test run under emulation) and should still show it is alive."""
        while not ended.wait(HEARTBEAT):
            with self.lock:
                if time.monotonic() - self.started >= HEARTBEAT:
                    self.log_file.flush()
                    self.on_phase(f"{self.phase}, {int(time.monotonic() - self.started)}s so far "
                                  f"({self.lines} log lines)")


def _json_field(name):
    """A marker whose line carries JSON for the result's field `name`."""
    def handle(log: _Log, text: str, now: float):
        setattr(log.result, name, _json_line(text))
    return handle


# What the build script's marker lines mean: the phase begun, or the JSON of a field of the result.
MARKERS = {
    PHASE_MARK: _Log.new_phase,
    PGO_MARK: _json_field("pgo"),
    BOLT_MARK: _json_field("bolt"),
    FLAGS_MARK: _json_field("flags"),
    CPU_MARK: _json_field("cpu"),
}


def _json_line(text):
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text[:200]}


def _lines(chunks):
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")
