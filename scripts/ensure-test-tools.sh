#!/usr/bin/env bash
# What the project's own tests need beyond the harness's set-up (`make test` runs this):
#   docker-registry  Debian's CNCF distribution registry, run on loopback by tests/test_registry.py
#                    to show that stack images are pulled from a registry when one serves them.
#   chromium         a real headless browser: tests/test_consumers.py renders the index page with it.
# Installed only when missing, and only as root on a Debian-like host; otherwise one line says what to do.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test tools: ${missing[*]} missing; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "test tools: installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
}
