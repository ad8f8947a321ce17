"""The uv catalog of one stack, PREFIX/STACK/python-downloads.json: every runtime the manifest lists
for that stack, every architecture, in the format `uv python install --python-downloads-json-url`
reads (uv's own crates/uv-python/download-metadata.json has the same shape):

    {"cpython-3.13.15-linux-x86_64-gnu": {"name": "cpython", "arch": {"family": "x86_64", "variant": null},
        "os": "linux", "libc": "gnu", "major": 3, "minor": 13, "patch": 15, "prerelease": "",
        "url": "https://.../debian-12/amd64/python-3.13.15.tar.zst", "sha256": "...", "variant": null,
        "build": null}}

One catalog per stack, not one for the bucket: a runtime is built against its stack's system
libraries (libssl3 on debian-12, libssl3t64 on debian-13), and uv knows nothing of stacks, so a
machine must be pointed at its own stack's catalog. A variant's build is listed under uv's name for
it (cpython-3.13.15+freethreaded-..., "variant": "freethreaded"), which `uv python install 3.13t`
asks for. uv checks the sha256 (a mismatch is a hard
error) and unpacks the archive (ours has no top-level folder, which uv accepts).

Made from the manifest alone (harness/bucket/listings.py writes it), so it lists what the
manifest lists, with the manifest's sha256: the same bytes for the same manifest and URL.
"""

import json
import re
import urllib.parse

from ..emulation import MACHINES
from . import manifest, s3

NAME = "python-downloads.json"
CONTENT_TYPE = "application/json"
VERSION = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?P<prerelease>(?:a|b|rc)\d+)?")


def key_for(target: s3.Target, stack: str) -> str:
    return f"{target.prefix}{stack}/{NAME}"


def uv_key(version: str, arch: str, variant: str | None = None) -> str:
    """The name uv gives a download (`uv python list` shows it): implementation-version[+variant]-
    os-arch-libc (cpython-3.13.15+freethreaded-linux-x86_64-gnu)."""
    return f"cpython-{version}{'+' + variant if variant else ''}-linux-{MACHINES[arch]}-gnu"


def entries(listing: manifest.Manifest, stack: str, base_url: str) -> dict:
    """{uv key: entry} of the stack's runtimes, as the manifest lists them (its right entries)."""
    found = {}
    for entry in sorted(listing.entries, key=lambda e: (e.arch, e.runtime)):
        version = version_of(listing, entry)
        parts = VERSION.fullmatch(version or "")
        if entry.stack != stack or entry.arch not in MACHINES or parts is None:
            continue
        variant = listing.fields(entry).get("variant")
        found[uv_key(version, entry.arch, variant)] = {
            "name": "cpython",
            "arch": {"family": MACHINES[entry.arch], "variant": None},
            "os": "linux",
            "libc": "gnu",
            "major": int(parts["major"]),
            "minor": int(parts["minor"]),
            "patch": int(parts["patch"]),
            "prerelease": parts["prerelease"] or "",
            "url": url_of(base_url, entry.key),
            "sha256": entry.sha256,
            "variant": variant,
            "build": None,
        }
    return found


def render(listing: manifest.Manifest, stack: str, base_url: str) -> bytes:
    return (json.dumps(entries(listing, stack, base_url), indent=2, sort_keys=True) + "\n").encode()


def stacks(listing: manifest.Manifest) -> list[str]:
    """The stacks that have a catalog: each with at least one runtime listed."""
    return sorted({entry.stack for entry in listing.entries})


def url_of(base_url: str, key: str) -> str:
    """An object's public URL: the base (ending in "/") and its key, each segment percent-encoded."""
    return base_url + urllib.parse.quote(key, safe="/")


def version_of(listing: manifest.Manifest, entry: manifest.Entry) -> str:
    """The entry's version: its "version" field, else the one its runtime's name carries."""
    return listing.fields(entry).get("version") or entry.runtime.removeprefix("python-")
