#!/usr/bin/env bash
# Make sure a Docker engine answers, starting one only when none does.
#
# Users normally run Docker already: then this prints one line and changes nothing. On a fresh
# machine without an engine (CI, a new VM) and only as root, it installs Debian's docker.io when
# dockerd is missing and starts dockerd in the background, logging to $DOCKERD_LOG.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/pyruntimes-dockerd.log}

engine_answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if engine_answers; then
    echo "docker: engine answers (server $(docker version --format '{{.Server.Version}}'))"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "docker: no engine answers and we are not root: start Docker (e.g. 'sudo systemctl start docker') and retry" >&2
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker: dockerd is missing; installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
fi
# The client may come from elsewhere (a newer static docker CLI); the engine is what matters.
command -v docker >/dev/null 2>&1 || { echo "docker: no docker client after install" >&2; exit 1; }

echo "docker: starting dockerd (log: $DOCKERD_LOG)"
# setsid: the engine must outlive this shell and the make/pytest run that started it.
setsid dockerd >>"$DOCKERD_LOG" 2>&1 < /dev/null &

for _ in $(seq 1 120); do
    if engine_answers; then
        echo "docker: engine answers (server $(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    sleep 1
done
echo "docker: dockerd did not answer within 120 s; last lines of $DOCKERD_LOG:" >&2
tail -n 20 "$DOCKERD_LOG" >&2
exit 1
