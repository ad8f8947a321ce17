"""`python -m harness check-published`: what the bucket says it holds, proved from the bucket alone.

For every runtime the manifest lists: the archive exists at its key, its bytes hash to the listed
sha256 (downloaded and hashed here, not taken from metadata) and have the listed size; its .sha256
file names that hash; its record, SBOM and provenance statement exist and describe that archive;
the profile its record names (release builds) is there with those bytes (s3.profile_key).
And every archive under the prefix is listed in the manifest (one that is not was published
half-way, or by hand); and what consumers read beside the manifest (each stack's uv catalog, the
index page) is what the manifest gives (harness/bucket/listings.py): a catalog entry whose sha256 or
URL is not the archive's is named. Each problem is one line naming the key; any problem means exit
status 1.

Nothing read is taken on trust (harness/bucket/manifest.py reads it all): every level of the manifest must
have the shape the harness writes, each entry must sit at the key the layout gives its stack,
architecture and runtime, and the record beside the archive must name that same pair; JSON of any
other shape is a line naming where it differs and what would be right, never a traceback.
"""

import hashlib
import sys
from dataclasses import dataclass

from .. import redact
from ..bucket import listings, manifest, s3
from . import on_bucket

ARCHIVE_SUFFIX = ".tar.zst"


@dataclass(frozen=True)
class Problem:
    key: str
    what: str

    def __str__(self):
        # A key is the bucket's (a stray's may hold a newline): quoted unless it prints as one line.
        key = self.key if self.key.isprintable() else ascii(self.key)
        return f"{key}: {self.what}"


def check(client, target: s3.Target, say=print) -> tuple[list[Problem], int]:
    """Every problem found, and how many listed archives were checked. S3 errors on one object are
    problems of that object; an error reading the manifest or listing the prefix stops the check
    (manifest.Invalid, s3.ERRORS)."""
    manifest_key = manifest.key_for(target)
    listing = manifest.load(client, target)
    problems = []
    if listing.condition == manifest.ABSENT:
        problems.append(Problem(manifest_key, "missing: the prefix has no manifest (is the prefix right?)"))
    # Every line of it, frame and entries: an entry that is not what the harness writes (another
    # pair's key, a size that is a string) is not downloaded: what it says cannot be checked.
    problems += [Problem(manifest_key, line) for line in listing.problems()]
    for entry in listing.entries:
        say(f"checking {target.url(entry.key)}")
        try:
            problems += _check_archive(client, target, entry)
        except s3.ERRORS as exc:
            problems.append(Problem(entry.key, f"cannot be read: {s3.describe(exc)}"))
    # A wrong entry still lists its pair's key: its archive is named by the entry's line, not as a stray.
    listed = listing.keys()
    for key in _archives_under(client, target):
        if key not in listed:
            problems.append(Problem(key, "an archive the manifest does not list"))
    # Listings are made from the manifest's right entries: they are compared once there is a manifest
    # and all of it is right (a wrong entry, left out of them, would make every listing differ too).
    if listing.condition != manifest.ABSENT and not listing.frame and not listing.wrong:
        problems += [Problem(key, what) for key, what in listings.problems(client, target, listing)]
    return problems, len(listing.entries)

def _download_hash(client, target, key) -> tuple[str, int] | None:
    """The sha256 and size of an object's bytes, downloaded and hashed here; None when it is missing."""
    answer = s3.get_or_none(client, target.bucket, key)
    if answer is None:
        return None
    body = answer["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_archive(client, target, entry: manifest.Entry) -> list[Problem]:
    found = _download_hash(client, target, entry.key)
    if found is None:
        return [Problem(entry.key, "missing (listed in the manifest)")]
    (sha256, size), problems = found, []
    if sha256 != entry.sha256:
        problems.append(Problem(entry.key, f"sha256 {sha256}, the manifest lists {entry.sha256}"))
    if size != entry.size:
        problems.append(Problem(entry.key, f"{size} bytes, the manifest lists {entry.size}"))
    keys = s3.Keys(entry.key)
    checksum = s3.get_text(client, target, keys.sha256)
    if checksum is None:
        problems.append(Problem(keys.sha256, "missing"))
    elif checksum.split()[:1] != [sha256]:
        named = manifest.shown(checksum.split()[0][:70]) if checksum.split() else "nothing"
        problems.append(Problem(keys.sha256, f"names {named}, the archive's sha256 is {sha256}"))
    for name, key, shape_problems, described in (
            ("record", keys.record, lambda record: manifest.record_problems(record, entry),
             lambda record: record["archive_sha256"]),
            ("SBOM", keys.sbom, manifest.sbom_problems, manifest.sbom_sha256),
            ("provenance", keys.provenance, manifest.provenance_problems, manifest.provenance_sha256)):
        text = s3.get_text(client, target, key)
        if text is None:
            problems.append(Problem(key, f"missing (the archive's {name})"))
            continue
        try:
            document = manifest.loads(text)
        except ValueError as exc:
            problems.append(Problem(key, f"not JSON (the archive's {name}: {str(exc)[:80]})"))
            continue
        wrong = shape_problems(document)
        if wrong:
            problems += [Problem(key, f"{line} (the archive's {name})") for line in wrong]
        elif described(document) != sha256:
            problems.append(Problem(key, f"describes another archive than the one at {keys.filename}"))
        elif name == "record":
            if document.get("archive_size", size) != size:
                problems.append(Problem(key, f"archive_size is {document['archive_size']}, the archive at "
                                             f"{keys.filename} has {size} bytes"))
            if document.get("profile_data"):
                problems += _check_profile(client, target, document["profile_data"]["sha256"])
    return problems


def _check_profile(client, target, sha256: str) -> list[Problem]:
    """A release build's profile, which its record names: there, with the bytes named."""
    key = s3.profile_key(target, sha256)
    found = _download_hash(client, target, key)
    if found is None:
        return [Problem(key, "missing (the profile a record names; a rebuild needs it)")]
    if found[0] != sha256:
        return [Problem(key, f"sha256 {found[0]}, its name and the record say {sha256}")]
    return []


def _archives_under(client, target) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(ARCHIVE_SUFFIX)
                 and not item["Key"].startswith(target.prefix + s3.PROFILES_FOLDER)]
    return sorted(keys)


def main(args) -> int:
    outcome = on_bucket.run(args, "check-published", lambda client, target: (
        target, *check(client, target, say=on_bucket.say)))
    if isinstance(outcome, int):
        return outcome
    target, problems, checked = outcome
    for problem in problems:
        print(redact.redact(problem))
    where = f"s3://{target.bucket}/{target.prefix}"
    if problems:
        print(f"{len(problems)} problem(s) in {where} ({checked} archive(s) listed)", file=sys.stderr)
        return 1
    print(f"{where}: {checked} archive(s) listed, each present with its sha256, size, checksum file, record, "
          "SBOM and provenance; no archive unlisted; the uv catalogs and the index page as the manifest gives them")
    return 0
