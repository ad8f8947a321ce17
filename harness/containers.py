"""What every container we run shares, builds and verifications alike: the run and pair it belongs
to (ContainerRun, one value instead of an engine, a run id, a pair and a jobserver passed apart),
its isolation (container_options) and the cores it may use (usable_cores)."""

import os
from dataclasses import dataclass

from .engine import LABEL


@dataclass(frozen=True)
class ContainerRun:
    """Who runs a pair's containers: the engine's client, the run and pair they are labelled with
    (remove_run_containers finds an interrupted run's by the run), and the run's shared make
    jobserver (a FIFO, harness/jobserver.py), or None."""
    docker: object
    run_id: str = ""
    pair: str = ""
    jobserver: object = None

    def options(self, image) -> dict:
        return container_options(image, self.run_id, self.pair)


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
