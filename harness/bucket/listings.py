"""What consumers read beside the manifest, derived from it alone: a uv catalog per stack
(harness/bucket/catalog.py) and the index page (harness/bucket/index.py). A publish writes them
after its manifest entry; a rerun rewrites whichever no longer matches the manifest; check-published
names each difference.

Written as the manifest is, never blindly: each with If-Match on the ETag read (If-None-Match: *
when missing). After writing, the manifest is looked at again: if another publish changed it
meanwhile, the listings are made again from the new one. So the last writer of a listing always
wrote it from the manifest as it then was, and the listings converge on the manifest however
publishes interleave (each publish that changes the manifest refreshes them after its change).
That holds when every writer finishes and uses the same public URL: a run killed between its write
and its look at the manifest, or one publishing with another PUBLIC_URL, can leave a listing behind
the manifest until the next publish, which check-published names meanwhile.
"""

import json
import random
import time
import urllib.parse
from dataclasses import dataclass

from ..errors import PairError
from . import catalog, index, manifest, s3

ATTEMPTS = 50


@dataclass(frozen=True)
class Listing:
    """One file a consumer reads, as the manifest gives it."""
    name: str  # as "repaired: ..." and check-published name it
    key: str
    content_type: str
    body: bytes


def base_url(client, target: s3.Target) -> str:
    """The URL an object's key is appended to for consumers: PUBLIC_URL when set, else the
    bucket's own: virtual-hosted on AWS (https://BUCKET.s3.REGION.amazonaws.com/), path-style
    elsewhere and for names with a dot (TLS certificates do not cover them): ENDPOINT/BUCKET/,
    which for the embedded S3 of dry runs and tests is the loopback server itself."""
    if target.public_url:
        return target.public_url
    endpoint = client.meta.endpoint_url
    region = None
    if (urllib.parse.urlsplit(endpoint).hostname or "").endswith(".amazonaws.com"):
        # The bucket's own region, which S3 says in every answer about it: the client's may be
        # another (botocore follows S3's redirect to publish, uv does not follow it to download).
        head = client.head_bucket(Bucket=target.bucket)
        region = head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
    return bucket_url(target.bucket, endpoint, region)


def bucket_url(bucket: str, endpoint: str, region: str | None) -> str:
    """A bucket's own URL, ending in "/": on AWS (a region given) virtual-hosted, or path-style for
    a name with a dot (TLS certificates do not cover it); elsewhere ENDPOINT/BUCKET/."""
    if region:
        return (f"https://s3.{region}.amazonaws.com/{bucket}/" if "." in bucket
                else f"https://{bucket}.s3.{region}.amazonaws.com/")
    return f"{endpoint.rstrip('/')}/{urllib.parse.quote(bucket)}/"


def wanted(listing: manifest.Manifest, target: s3.Target, url: str) -> list[Listing]:
    """Every listing the manifest gives: the index, and the catalog of each stack it lists."""
    found = [Listing("index", target.prefix + index.NAME, index.CONTENT_TYPE, index.render(listing, target, url))]
    for stack in catalog.stacks(listing):
        found.append(Listing(f"uv catalog of {stack}", catalog.key_for(target, stack), catalog.CONTENT_TYPE,
                             catalog.render(listing, stack, url)))
    return found


def stale(client, target: s3.Target, listing: manifest.Manifest) -> list[tuple[Listing, dict]]:
    """The listings whose bucket copy differs from what the manifest gives, each with the condition
    a write replacing it carries."""
    return [(item, condition) for item, held, condition in _held(client, target, listing) if held != item.body]


def _held(client, target: s3.Target, listing: manifest.Manifest):
    """Each listing the manifest gives, with the bucket's copy of it (its bytes, None when missing)
    and the condition a write replacing that copy carries: one GET per listing."""
    for item in wanted(listing, target, base_url(client, target)):
        answer = s3.get_or_none(client, target.bucket, item.key)
        if answer is None:
            yield item, None, {"IfNoneMatch": "*"}
        else:
            yield item, answer["Body"].read(), {"IfMatch": answer["ETag"]}


def refresh(client, target: s3.Target) -> tuple:
    """Make every listing match the manifest the bucket holds; the names of those written."""
    written = []
    for attempt in range(ATTEMPTS):
        listing = manifest.load(client, target).usable()
        try:
            for item, condition in stale(client, target, listing):
                _put(client, target, item, condition)
                written.append(item.name)
        except _Changed:
            pass
        else:
            if _manifest_version(client, target) == listing.condition:
                return tuple(dict.fromkeys(written))
        # Another publish wrote a listing or the manifest meanwhile: make them again from what is there now.
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise PairError(f"the listings under {target.url(target.prefix)} kept changing while this run wrote them: "
                    f"gave up after {ATTEMPTS} attempts")


class _Changed(Exception):
    """A listing's conditional write found it changed since it was read."""


def _put(client, target, item: Listing, condition: dict):
    try:
        # no-cache: a CDN in front of the bucket asks again before serving a listing, so that a
        # catalog never names an archive the CDN no longer holds (uv would refuse it).
        client.put_object(Bucket=target.bucket, Key=item.key, Body=item.body, ContentType=item.content_type,
                          CacheControl="no-cache", **condition)
    except s3.ERRORS as exc:
        if s3.error_code(exc) in s3.CONDITION_FAILED or ("IfMatch" in condition and s3.missing(exc)):
            raise _Changed(item.key) from None
        # Named as the listing, not as the pair whose publish wrote it (whose archive is in place).
        raise PairError(f"S3 failed writing the {item.name}, {target.url(item.key)}: {s3.describe(exc)}; "
                        "rerun to write it") from None


def _manifest_version(client, target) -> dict:
    """The condition a write of the manifest as it is now would carry (what load() gives)."""
    head = s3.head_or_none(client, target.bucket, manifest.key_for(target))
    return dict(manifest.ABSENT) if head is None else {"IfMatch": head["ETag"]}


def problems(client, target: s3.Target, listing: manifest.Manifest) -> list[tuple[str, str]]:
    """(key, what is wrong) for each listing that is not what the manifest gives; a catalog's
    entries are compared one by one (its sha256 and URL above all: what uv trusts)."""
    found = []
    for item, held, _ in _held(client, target, listing):
        if held == item.body:
            continue
        if held is None:
            found.append((item.key, f"missing (the {item.name}; a publish writes it)"))
        elif item.content_type == catalog.CONTENT_TYPE:
            found += [(item.key, line) for line in _catalog_differences(held, item)]
        else:
            found.append((item.key, f"differs from what the manifest gives (the {item.name}; a publish rewrites it)"))
    return found


def _catalog_differences(body: bytes, item: Listing) -> list[str]:
    want = json.loads(item.body)
    try:
        have = manifest.loads(body)
    except ValueError as exc:
        return [f"not JSON ({str(exc)[:80]}); uv cannot read it"]
    if not isinstance(have, dict):
        return [f"is {manifest.shown(have)}, should be an object of downloads (uv's format)"]
    lines = []
    for name, entry in want.items():
        found = have.get(name)
        if found is None:
            lines.append(f"{name}: missing, the manifest lists it")
            continue
        if not isinstance(found, dict):
            lines.append(f"{name} is {manifest.shown(found)}, should be a download (uv's format)")
            continue
        for field in ("sha256", "url"):
            if found.get(field) != entry[field]:
                lines.append(f"{name}.{field} is {manifest.shown(found.get(field))}, should be {ascii(entry[field])} "
                             f"({'the archive the manifest lists' if field == 'sha256' else 'the public URL of its key'})")
        rest = sorted(field for field in set(entry) | set(found)
                      if field not in ("sha256", "url") and found.get(field) != entry.get(field))
        if rest:
            lines.append(f"{name}: {', '.join(map(ascii, rest))} differ from what the manifest gives")
    lines += [f"{manifest.shown(name)}: an entry the manifest does not list" for name in have if name not in want]
    return lines or ["differs from what the manifest gives in its layout only (a publish rewrites it)"]
