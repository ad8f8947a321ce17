"""Running builds/build-python.sh in a stack's build image: no network, no credentials.

The container sees only what it needs, read-only: the verified source tarball and the build
script. Its one writable mount is the install prefix, a fresh host folder. It runs as the host's
user, so the tree it leaves is ours to package and delete. Output is streamed line by line into
the pair's log; "::phase::" lines report progress and are timed.
"""

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors

from .engine import LABEL
from .errors import PairError

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "builds" / "build-python.sh"
PREFIX = "/build/python"  # the path the runtime is built at; verification uses another
PHASE_MARK = "::phase:: "
HEARTBEAT = 60  # seconds between progress lines within one phase


@dataclass
class BuildResult:
    phase_seconds: dict = field(default_factory=dict)
    exit_code: int = 0


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


def make_jobs(workers: int, cores: int | None = None) -> int:
    """Jobs per build so that workers x jobs never oversubscribes the cores."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // max(1, workers))


def run_build(client, image, formula, source: Path, profile, jobs, prefix_dir: Path, log_file, on_phase,
              run_id="", pair=""):
    env = {
        "SOURCE_TARBALL": f"/src/{source.name}",
        "PYTHON_VERSION": formula.version,
        "BUILD_PROFILE": profile,
        "MAKE_JOBS": str(jobs),
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
    result = BuildResult()
    container = client.containers.run(
        command=["bash", "/opt/pyruntimes/build-python.sh"], environment=env, volumes=volumes,
        **container_options(image, run_id, pair),
    )
    try:
        phase, started = "start", time.monotonic()
        last_heard = started
        for count, line in enumerate(_lines(container.logs(stream=True, follow=True)), 1):
            log_file.write(line + "\n")
            now = time.monotonic()
            if line.startswith(PHASE_MARK):
                result.phase_seconds[phase] = round(now - started, 1)
                phase, started, last_heard = line[len(PHASE_MARK):].strip(), now, now
                log_file.flush()
                on_phase(phase)
            elif now - last_heard >= HEARTBEAT:  # long phases (compile) still show signs of life
                last_heard = now
                log_file.flush()
                on_phase(f"{phase}, {int(now - started)}s so far ({count} log lines)")
        result.exit_code = container.wait()["StatusCode"]
        if phase != "done":
            result.phase_seconds[phase] = round(time.monotonic() - started, 1)
        result.phase_seconds.pop("start", None)
        result.phase_seconds.pop("done", None)
    finally:
        log_file.flush()
        script.unlink(missing_ok=True)
        try:
            container.remove(force=True)
        except docker.errors.APIError:
            pass
    if result.exit_code != 0:
        raise PairError(f"build failed in phase '{phase}' (exit {result.exit_code}); see {log_file.name}")
    return result


def _lines(chunks):
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace")
    if pending:
        yield pending.decode("utf-8", "replace")
