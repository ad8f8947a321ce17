"""One pool of CPU slots shared by every build of a run, spoken in GNU make's jobserver protocol.

Why: with pytest-xdist's N workers on C cores, a fixed `make -j C/N` per build leaves cores idle
whenever a build is in a serial stretch (configure, the PGO training run, the LTO link) or when
the last pairs run alone; `make -j C` per build oversubscribes instead. A shared jobserver does
neither: the run owns C tokens in one FIFO, each build takes one token for itself before it
starts (the one every make gets implicitly) and its make takes the others as they are free. So at
most C jobs run at any moment, and a build running alone gets every core.

The FIFO is created and held open by the pytest controller for the whole run (a FIFO's buffered
tokens vanish when the last process holding it open closes it). Builds reach it as a bind mount;
the container opens it as fd 3 and the build script's compile step joins it through
MAKEFLAGS="-j --jobserver-auth=3,3", the form both make 4.3 (bookworm) and 4.4.1 (trixie) accept
(checked in each build image: 6 one-second jobs on a pool of 2 took 3.0 s and returned the token).
`make install` stays serial: it is not parallel-safe in every CPython version.

A make killed mid-build (SIGKILL of its container) cannot return the tokens its children held;
the run then has fewer slots, never more, so the bound holds. Tokens come back at the next run.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from filelock import FileLock

ENV = "PYRUNTIMES_JOBSERVER"  # path of the run's FIFO, inherited by xdist workers
TOKEN = b"+"
CONTAINER_PATH = "/run/pyruntimes/jobserver"
# What the build container runs before the build script: fd 3 is the shared pool.
CONTAINER_PRELUDE = f'exec 3<>{CONTAINER_PATH} && JOBSERVER_FD=3 exec "$@"'


class JobServer:
    """The controller's side: create the FIFO, fill it with `slots` tokens, keep it open."""

    def __init__(self, slots: int, parent: Path | None = None):
        self.slots = max(1, slots)
        self.folder = Path(tempfile.mkdtemp(prefix="pyruntimes-jobserver-", dir=parent))
        self.path = self.folder / "fifo"
        os.mkfifo(self.path, 0o600)
        # O_RDWR: opening never blocks and the FIFO always has a reader and a writer.
        self._fd = os.open(self.path, os.O_RDWR)
        os.write(self._fd, TOKEN * self.slots)

    def close(self):
        os.close(self._fd)
        self.path.unlink(missing_ok=True)
        Path(_several_lock(self.path)).unlink(missing_ok=True)  # slots()'s, when a step took several
        self.folder.rmdir()


@contextlib.contextmanager
def slot(path: str | os.PathLike | None):
    """Hold one token (the build's own) for the duration; no-op without a jobserver."""
    if not path:
        yield
        return
    fd = os.open(path, os.O_RDWR)
    try:
        token = os.read(fd, 1)  # blocks while every slot is taken
        try:
            yield
        finally:
            os.write(fd, token)
    finally:
        os.close(fd)


@contextlib.contextmanager
def slots(path: str | os.PathLike | None, count: int):
    """Hold `count` tokens at once (a timed step that must have the cores to itself; count no more
    than the pool holds: usable_cores()). They are taken one by one under a lock beside the FIFO,
    so two such steps never each hold a part and wait for the rest; builds take one token each and
    give it back, so the taking ends."""
    if not path or count <= 1:
        with slot(path):
            yield
        return
    fd = os.open(path, os.O_RDWR)
    tokens = b""
    try:
        with FileLock(_several_lock(path)):
            while len(tokens) < count:
                tokens += os.read(fd, 1)  # blocks while every slot is taken
        yield
    finally:
        if tokens:
            os.write(fd, tokens)
        os.close(fd)


def _several_lock(path) -> str:
    return f"{path}.several.lock"
