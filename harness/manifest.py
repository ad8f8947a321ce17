"""The manifest: one JSON document at the prefix listing every published runtime per stack.

    {"stacks": {"debian-12": {"python-3.13.15": {"version": ..., "arch": "amd64", "key": ..., ...}}},
     "architectures": {"arm64": {"stacks": {"heroku-24": {"python-3.13.15": {..., "arch": "arm64"}}}}}}

amd64 entries are where they were before architectures were part of a pair, so a manifest
published then reads the same, and a consumer written for it keeps finding the amd64 runtimes;
every other architecture has a "stacks" of its own under "architectures".

Updated with optimistic concurrency: the write carries If-Match with the ETag we read (or
If-None-Match: * when there is none yet) and is retried on conflict, so parallel workers and
parallel runs all land their entries. A manifest that is not valid JSON is never overwritten:
somebody must look at it first.
"""

import json
import random
import time

from . import s3
from .errors import PairError

NAME = "manifest.json"


class Invalid(PairError):
    pass


def key_for(target: s3.Target) -> str:
    return target.prefix + NAME


# read()'s condition when there is no manifest yet: only a first version may be written.
ABSENT = {"IfNoneMatch": "*"}


def read(client, target: s3.Target) -> tuple[dict, dict]:
    """The manifest and the condition under which a new version may replace it (ABSENT when there
    is none yet)."""
    key = key_for(target)
    try:
        current = client.get_object(Bucket=target.bucket, Key=key)
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) not in s3.NOT_FOUND:
            raise
        return {"stacks": {}}, dict(ABSENT)
    body = current["Body"].read()
    try:
        manifest = json.loads(body)
        if not isinstance(manifest, dict) or not isinstance(manifest.get("stacks", {}), dict):
            raise ValueError("not an object with a 'stacks' object")
    except ValueError as exc:
        raise Invalid(f"the manifest {target.url(key)} is not valid JSON ({str(exc)[:80]}); it is left as it is: "
                      "repair or delete it, then rerun") from None
    return manifest, {"IfMatch": current["ETag"]}


def stacks_of(manifest: dict, arch: str = "amd64", create=False) -> dict:
    """{stack: {runtime: entry}} of one architecture."""
    if arch == "amd64":
        return manifest.setdefault("stacks", {}) if create else manifest.get("stacks", {})
    if create:
        return manifest.setdefault("architectures", {}).setdefault(arch, {}).setdefault("stacks", {})
    by_arch = manifest.get("architectures", {})
    of_arch = by_arch.get(arch) if isinstance(by_arch, dict) else None
    return of_arch.get("stacks", {}) if isinstance(of_arch, dict) else {}


def architectures(manifest: dict) -> list[str]:
    by_arch = manifest.get("architectures", {})
    return ["amd64"] + sorted(arch for arch in (by_arch if isinstance(by_arch, dict) else []) if arch != "amd64")


def entry(manifest: dict, stack: str, runtime: str, arch: str = "amd64") -> dict | None:
    runtimes = stacks_of(manifest, arch).get(stack, {})
    return runtimes.get(runtime) if isinstance(runtimes, dict) else None


def update(client, target: s3.Target, stack: str, runtime: str, new_entry: dict, attempts=50, arch: str = "amd64"):
    """Add or replace one entry, retrying on concurrent updates."""
    key = key_for(target)
    for attempt in range(attempts):
        manifest, condition = read(client, target)
        stacks = stacks_of(manifest, arch, create=True)
        stacks.setdefault(stack, {})[runtime] = new_entry
        stacks[stack] = dict(sorted(stacks[stack].items()))
        try:
            client.put_object(Bucket=target.bucket, Key=key, ContentType="application/json",
                              Body=json.dumps(manifest, indent=2, sort_keys=True).encode(), **condition)
            return
        except s3.botocore.exceptions.ClientError as exc:
            if s3.error_code(exc) not in s3.CONDITION_FAILED:
                raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise PairError(f"manifest {target.url(key)}: gave up after {attempts} concurrent-update conflicts")
