"""Running builds/build-python.sh in a stack's build image: no network, no credentials.

The container sees only what it needs, read-only: the verified source tarball and the build
script. Its one writable mount is the install prefix, a fresh host folder. It runs as the host's
user, so the tree it leaves is ours to package and delete. Output is streamed line by line into
the pair's log; "::phase::" lines report progress and are timed.
"""

import enum
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from . import durations, jobserver, redact
from .engine import GONE, LABEL, remove_quietly
from .errors import PairError
from .hashing import file_sha256, inputs_sha256
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


def cross_sites_sha256() -> str:
    """The cross builds' configure answers, as one hash: an input of every cross-built archive."""
    return inputs_sha256({path.name: file_sha256(path) for path in sorted(CROSS.glob("*.config.site"))})


def container_options(image, run_id, pair):
    """Isolation every container we run gets (build and verification): no network, the host
    user, our labels. The network test uses them too."""
    return dict(
        image=image.id,
        network_mode="none",
        user=f"{os.getuid()}:{os.getgid()}",
        labels={f"{LABEL}.run": run_id, f"{LABEL}.pair": pair},
        working_dir="/tmp",
        detach=True,
    )


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))


def run_build(client, image, formula, source: Path, profile, prefix_dir: Path, log_file, on_phase,
              run_id="", pair="", jobserver_path=None, timeout=DEFAULT_TIMEOUT,
              profile_out: Path | None = None, profile_in: Path | None = None, cross_arch: str = ""):
    """Build in a container. With jobserver_path (the run's shared pool, harness/jobserver.py) the
    build first waits for a slot of its own, and its make draws further slots from the pool.
    Release builds write the profiles they used to profile_out (a tar; builds/build-python.sh:
    PROFILE_OUT), and given profile_in (such a tar) use it instead of training. Given cross_arch
    (an architecture other than the image's), the script cross-compiles for it: CROSS_ARCH."""
    env = {
        "SOURCE_TARBALL": f"/src/{source.name}",
        "PYTHON_VERSION": formula.version,
        "BUILD_PROFILE": profile,
        "MAKE_JOBS": str(usable_cores()),
        "PREFIX": PREFIX,
        "CONFIGURE_EXTRA": "\n".join(formula.configure_args),
        "HOME": "/tmp",
    }
    # A snapshot of the script, not the file itself: bash reads a script as it runs, so an edit
    # to builds/build-python.sh during a long build would otherwise break that build midway.
    script = prefix_dir.parent / f".build-python-{prefix_dir.name}.sh"
    shutil.copyfile(BUILD_SCRIPT, script)
    volumes = {
        str(source): {"bind": f"/src/{source.name}", "mode": "ro"},
        str(script): {"bind": "/opt/pyruntimes/build-python.sh", "mode": "ro"},
        str(prefix_dir): {"bind": PREFIX, "mode": "rw"},
    }
    if formula.patches:
        env["PATCHES"] = "\n".join(f"/src/patches/{patch.name}" for patch in formula.patches)
        for patch in formula.patches:
            volumes[str(patch)] = {"bind": f"/src/patches/{patch.name}", "mode": "ro"}
    if cross_arch:
        env["CROSS_ARCH"] = cross_arch
        volumes[str(CROSS)] = {"bind": "/opt/pyruntimes/cross", "mode": "ro"}
    if profile_out is not None:
        volumes[str(profile_out.parent)] = {"bind": "/build/profile-out", "mode": "rw"}
        env["PROFILE_OUT"] = f"/build/profile-out/{profile_out.name}"
    if profile_in is not None:
        volumes[str(profile_in)] = {"bind": "/build/profile-in.tar", "mode": "ro"}
        env["PROFILE_IN"] = "/build/profile-in.tar"
    command = ["bash", "/opt/pyruntimes/build-python.sh"]
    if jobserver_path:
        volumes[str(jobserver_path)] = {"bind": jobserver.CONTAINER_PATH, "mode": "rw"}
        command = ["bash", "-c", jobserver.CONTAINER_PRELUDE, "jobserver", *command]
    with jobserver.slot(jobserver_path):
        on_phase("started (holding a jobserver slot)" if jobserver_path else "started")
        return _run(client, image, command, env, volumes, script, log_file, on_phase, run_id, pair, timeout)


def _run(client, image, command, env, volumes, script, log_file, on_phase, run_id, pair, timeout):
    result = BuildResult()
    container = client.containers.run(
        command=command, environment=env, volumes=volumes, **container_options(image, run_id, pair),
    )

    def stop_at_deadline():
        # The log stream below ends when the container does, so killing it is all it takes; the
        # finally below removes it (a removal from this thread could still be under way at exit).
        result.timed_out = True
        try:
            container.kill()
        except (docker.errors.APIError, *GONE):
            pass

    deadline = threading.Timer(timeout, stop_at_deadline)
    deadline.daemon = True
    deadline.start()
    # A heartbeat by the clock, not by the log: a phase can print nothing for minutes (the LTO link
    # of libpython, a PGO training test run under emulation) and should still show it is alive.
    state = {"phase": "start", "started": time.monotonic(), "lines": 0}
    state_lock, ended = threading.Lock(), threading.Event()

    def heartbeat():
        while not ended.wait(HEARTBEAT):
            with state_lock:
                if time.monotonic() - state["started"] >= HEARTBEAT:
                    log_file.flush()
                    on_phase(f"{state['phase']}, {int(time.monotonic() - state['started'])}s so far "
                             f"({state['lines']} log lines)")

    beating = threading.Thread(target=heartbeat, daemon=True)
    beating.start()
    try:
        phase, started = "start", time.monotonic()
        for count, line in enumerate(_lines(container.logs(stream=True, follow=True)), 1):
            # A build never sees a credential (no network, none mounted); the log goes through the
            # redactor all the same, as everything the harness writes does (harness/redact.py).
            log_file.write(redact.redact(line) + "\n")
            now = time.monotonic()
            with state_lock:
                state["lines"] = count
            if line.startswith(PHASE_MARK):
                result.phase_seconds[phase] = round(now - started, 1)
                phase, started = line[len(PHASE_MARK):].strip(), now
                with state_lock:
                    state.update(phase=phase, started=now)
                log_file.flush()
                on_phase(phase)
            elif line.startswith(PGO_MARK):
                result.pgo = _json_line(line[len(PGO_MARK):])
            elif line.startswith(BOLT_MARK):
                result.bolt = _json_line(line[len(BOLT_MARK):])
            elif line.startswith(FLAGS_MARK):
                result.flags = _json_line(line[len(FLAGS_MARK):])
            elif line.startswith(CPU_MARK):
                result.cpu = _json_line(line[len(CPU_MARK):])
        result.exit_code = -1 if result.timed_out else container.wait()["StatusCode"]
        if result.exit_code != 0 and not result.timed_out:  # say whether the kernel's OOM killer or a SIGKILL ended it
            container.reload()
            if container.attrs["State"].get("OOMKilled"):
                result.killed = "the container ran out of memory"
            elif result.exit_code == 137:
                result.killed = "the container was killed (SIGKILL)"
        if phase != "done":
            result.phase_seconds[phase] = round(time.monotonic() - started, 1)
        result.phase_seconds.pop("start", None)
        result.phase_seconds.pop("done", None)
    finally:
        deadline.cancel()
        ended.set()
        beating.join()
        log_file.flush()
        script.unlink(missing_ok=True)
        remove_quietly(container)
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
    return result


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
