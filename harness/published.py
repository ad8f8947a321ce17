"""`python -m harness check-published`: what the bucket says it holds, proved from the bucket alone.

For every runtime the manifest lists: the archive exists at its key, its bytes hash to the listed
sha256 (downloaded and hashed here, not taken from metadata) and have the listed size; its .sha256
file names that hash; its record, SBOM and provenance statement exist and describe that archive;
the profile its record names (release builds) is there with those bytes (s3.profile_key).
And every archive under the prefix is listed in the manifest (one that is not was published
half-way, or by hand). Each problem is one line naming the key; any problem means exit status 1.
"""

import hashlib
import json
from dataclasses import dataclass

from . import manifest, provenance, s3, sbom
from .publish import Document, record_sha256

ARCHIVE_SUFFIX = ".tar.zst"


@dataclass(frozen=True)
class Problem:
    key: str
    what: str

    def __str__(self):
        return f"{self.key}: {self.what}"


def listed_entries(document: dict, manifest_key: str) -> tuple[list[tuple[str, str, dict]], list[Problem]]:
    """(stack, runtime, entry) for every entry of a manifest, of every architecture, and what in it
    is not shaped as one."""
    entries, problems = [], []
    for arch in manifest.architectures(document):
        stacks = manifest.stacks_of(document, arch)
        if not isinstance(stacks, dict):
            problems.append(Problem(manifest_key, f"the stacks of {arch} are not an object"))
            continue
        for stack, runtimes in sorted(stacks.items()):
            if not isinstance(runtimes, dict):
                problems.append(Problem(manifest_key, f"stack {stack!r} ({arch}) is not an object of runtimes"))
                continue
            for runtime, entry in sorted(runtimes.items()):
                if isinstance(entry, dict):
                    entries.append((stack, runtime, entry))
                else:
                    problems.append(Problem(manifest_key, f"the entry for {runtime} on {stack} ({arch}) is not an object"))
    return entries, problems


def check(client, target: s3.Target, say=print) -> tuple[list[Problem], int]:
    """Every problem found, and how many listed archives were checked. S3 errors on one object are
    problems of that object; an error reading the manifest or listing the prefix stops the check
    (manifest.Invalid, s3.ERRORS)."""
    manifest_key = manifest.key_for(target)
    document, condition = manifest.read(client, target)
    problems = []
    if condition == manifest.ABSENT:
        problems.append(Problem(manifest_key, "missing: the prefix has no manifest (is the prefix right?)"))
    entries, shape_problems = listed_entries(document, manifest_key)
    problems += shape_problems
    listed = set()
    for stack, runtime, entry in entries:
        key = entry.get("key")
        if not key:
            problems.append(Problem(manifest_key, f"the entry for {runtime} on {stack} names no key"))
            continue
        listed.add(key)
        say(f"checking {target.url(key)}")
        try:
            problems += _check_archive(client, target, key, entry)
        except s3.ERRORS as exc:
            problems.append(Problem(key, f"cannot be read: {s3.describe(exc)}"))
    for key in _archives_under(client, target):
        if key not in listed:
            problems.append(Problem(key, "an archive the manifest does not list"))
    return problems, len(entries)


def _download_hash(client, target, key) -> tuple[str, int] | None:
    """The sha256 and size of an object's bytes, downloaded and hashed here; None when it is missing."""
    try:
        body = client.get_object(Bucket=target.bucket, Key=key)["Body"]
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) in s3.NOT_FOUND:
            return None
        raise
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _check_archive(client, target, key, entry) -> list[Problem]:
    found = _download_hash(client, target, key)
    if found is None:
        return [Problem(key, "missing (listed in the manifest)")]
    (sha256, size), problems = found, []
    if sha256 != entry.get("sha256"):
        problems.append(Problem(key, f"sha256 {sha256}, the manifest lists {entry.get('sha256')}"))
    if size != entry.get("size"):
        problems.append(Problem(key, f"{size} bytes, the manifest lists {entry.get('size')}"))
    keys = s3.Keys(key)
    checksum = s3.get_text(client, target, keys.sha256)
    if checksum is None:
        problems.append(Problem(keys.sha256, "missing"))
    elif checksum.split()[:1] != [sha256]:
        problems.append(Problem(keys.sha256, f"names {checksum.split()[0] if checksum.split() else 'nothing'}, "
                                             f"the archive's sha256 is {sha256}"))
    for document in (Document("record", keys.record, "", None, record_sha256),
                     Document("SBOM", keys.sbom, "", None, sbom.archive_sha256),
                     Document("provenance", keys.provenance, "", None, provenance.archive_sha256)):
        text = s3.get_text(client, target, document.key)
        if text is None:
            problems.append(Problem(document.key, f"missing (the archive's {document.name})"))
            continue
        try:
            parsed = json.loads(text)
        except ValueError:
            problems.append(Problem(document.key, f"not JSON (the archive's {document.name})"))
            continue
        if not document.describes(parsed, sha256):
            problems.append(Problem(document.key, f"describes another archive than the one at {keys.filename}"))
        elif document.name == "record" and isinstance(parsed.get("profile_data"), dict):
            problems += _check_profile(client, target, parsed["profile_data"])
    return problems


def _check_profile(client, target, profile: dict) -> list[Problem]:
    """A release build's profile, which its record names: there, with the bytes named."""
    key = s3.profile_key(target, profile.get("sha256", "?"))
    found = _download_hash(client, target, key)
    if found is None:
        return [Problem(key, "missing (the profile a record names; a rebuild needs it)")]
    if found[0] != profile.get("sha256"):
        return [Problem(key, f"sha256 {found[0]}, its name and the record say {profile.get('sha256')}")]
    return []


def _archives_under(client, target) -> list[str]:
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=target.bucket, Prefix=target.prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(ARCHIVE_SUFFIX)
                 and not item["Key"].startswith(target.prefix + s3.PROFILES_FOLDER)]
    return sorted(keys)
