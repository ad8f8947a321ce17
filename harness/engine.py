"""Connecting to the Docker engine, with a one-line error when none answers."""

import docker
import docker.errors
import requests.exceptions

from .errors import UsageError

LABEL = "io.pyruntimes"  # every container and image we make carries labels under this prefix
# What the Docker SDK raises when the engine stops answering mid-run (it speaks HTTP through requests).
GONE = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
# ...and when it answers too slowly: a read past the client's timeout (docker.from_env(timeout=...)).
SLOW = (requests.exceptions.Timeout,)


def timed_out(exc) -> bool:
    """Over the engine's unix socket, requests reports a read timeout as a ConnectionError
    wrapping urllib3's ReadTimeoutError: tell it from an engine that went away."""
    return isinstance(exc, SLOW) or "Read timed out" in str(exc)


def remove_quietly(container):
    """Remove a container of ours, whatever state it (or the engine) is in."""
    try:
        container.remove(force=True)
    except (docker.errors.APIError, *GONE):
        pass


def connect():
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        reason = str(exc).split("\n")[0][:160]
        raise UsageError(
            f"no Docker engine answers ({reason}): start one, e.g. 'make engine' or 'sudo systemctl start docker'"
        ) from None
    return client


def remove_run_containers(client, run_id):
    """Remove every container of this run that is still there (an interrupted run's safety net:
    each step removes its own containers, but an xdist worker killed mid-step cannot)."""
    try:
        # ignore_removed: a container this run's own steps remove meanwhile is not an error.
        mine = client.containers.list(all=True, filters={"label": f"{LABEL}.run={run_id}"}, ignore_removed=True)
        for container in mine:
            remove_quietly(container)
    except (docker.errors.DockerException, *GONE):
        pass  # the engine itself is gone: its containers with it
