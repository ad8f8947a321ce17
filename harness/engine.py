"""Connecting to the Docker engine, with a one-line error when none answers."""

import docker
import docker.errors

from .errors import UsageError

LABEL = "io.pyruntimes"  # every container and image we make carries labels under this prefix


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
