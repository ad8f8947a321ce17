"""Publishing one archive, the files that describe it (its .sha256, .json record, .cdx.json SBOM
and .provenance.json statement) and its manifest entry, so that the bucket always converges on a
consistent state.

- The archive's write is its own guard: a conditional PUT (If-None-Match: *) lands only if the key
  does not exist, so of two concurrent deploys of one key exactly one writes. --overwrite drops
  the condition.
- S3 verifies the upload against the SHA-256 we send (x-amz-checksum-sha256); afterwards the object
  is read back (HEAD) and its checksum and size compared with the local file.
- The archive object carries, as metadata, what its manifest entry needs (sha256, cache key,
  version, ...): whatever a run was interrupted after (the archive's write, a sidecar's), a later
  run can complete the sidecars and the manifest entry from the bucket alone, without building.
- Every failure to reach or write S3 is one line, and the local archive is kept for a rerun.
"""

import base64
import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import archive as archive_mod
from . import manifest, provenance, s3, sbom
from .errors import PairError
from .hashing import file_sha256


class Status(enum.Enum):
    PUBLISHED = "published"
    REPLACED = "published (overwrite)"
    ALREADY_THERE = "already published"  # the bucket holds this build, or a build of the same inputs
    CONFLICT = "already published from other inputs"  # and --overwrite was not given


@dataclass(frozen=True)
class Remote:
    """What the bucket holds at an archive key, from a HEAD request."""
    sha256: str
    size: int
    metadata: dict

    @property
    def cache_key(self) -> str:
        return self.metadata.get("cache-key", "")


@dataclass(frozen=True)
class Outcome:
    status: Status
    url: str
    sha256: str  # of the archive the bucket holds now
    repaired: tuple = ()  # what this run completed of an earlier, interrupted publish

    @property
    def ok(self) -> bool:
        return self.status is not Status.CONFLICT

    def describe(self) -> str:
        text = f"{self.status.value}, sha256 {self.sha256}"
        if self.status is Status.CONFLICT:
            text += " (its cache key differs from this build's; --overwrite replaces it)"
        if self.repaired:
            text += f"; repaired: {', '.join(self.repaired)}"
        return text


# The manifest entry's fields that do not depend on the archive's bytes (with key, sha256 and size).
ENTRY_FIELDS = ("version", "arch", "formula_sha256", "build_seconds")


@dataclass(frozen=True)
class Local:
    """This run's side of one pair: what it built (or would build) and what describes it."""
    keys: s3.Keys
    cache_key: str
    entry: dict  # ENTRY_FIELDS; build_seconds is None before a build
    record: dict | None = None  # the record of the local archive with this cache key, if there is one
    archive: Path | None = None
    sha256: str | None = None
    sbom: dict | None = None  # the SBOM and provenance statement beside the local archive, if there are
    provenance: dict | None = None
    profile: Path | None = None  # release builds: the profile beside the local archive (record: profile_data)

    def metadata(self) -> dict:
        fields = {"sha256": self.sha256, "cache-key": self.cache_key, **self.entry}
        return {name.replace("_", "-"): str(value) for name, value in fields.items() if value is not None}

    def documents(self) -> tuple:
        """The JSON files published beside the archive, each with this run's copy of it."""
        return (Document("record", self.keys.record, "application/json", self.record, record_sha256),
                Document("SBOM", self.keys.sbom, sbom.MEDIA_TYPE, self.sbom, sbom.archive_sha256),
                Document("provenance", self.keys.provenance, provenance.PAYLOAD_TYPE, self.provenance,
                         provenance.archive_sha256))


@dataclass(frozen=True)
class Document:
    """A JSON file beside the archive in the bucket, which says which archive it describes."""
    name: str  # as "repaired: ..." names it
    key: str
    content_type: str
    local: dict | None  # this run's copy, to write or restore the bucket's from
    archive_sha256: Callable[[dict], str | None]  # the sha256 of the archive a copy describes

    def describes(self, document, sha256) -> bool:
        return isinstance(document, dict) and self.archive_sha256(document) == sha256


def remote_archive(client, target: s3.Target, keys: s3.Keys) -> Remote | None:
    try:
        head = client.head_object(Bucket=target.bucket, Key=keys.archive, ChecksumMode="ENABLED")
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) in s3.NOT_FOUND:
            return None
        raise
    metadata = head.get("Metadata", {})
    sha256 = metadata.get("sha256") or (base64.b64decode(head["ChecksumSHA256"]).hex()
                                        if head.get("ChecksumSHA256") else "(unknown)")
    return Remote(sha256=sha256, size=head["ContentLength"], metadata=metadata)


def settle_existing(client, target: s3.Target, local: Local) -> Outcome | None:
    """Before building: if the bucket already holds this pair's archive, say so and complete
    whatever an interrupted publish left undone; None when the key is free."""
    return _guarded(target, local, lambda: _settle_existing(client, target, local))


def _settle_existing(client, target, local):
    if target.dry_run:
        s3.ensure_bucket(client, target.bucket)
    remote = remote_archive(client, target, local.keys)
    return None if remote is None else _settle(client, target, local, remote)


def publish(client, target: s3.Target, local: Local, overwrite=False) -> Outcome:
    """Upload local.archive unless its key is taken (or with overwrite), read it back, then
    write its sidecars and manifest entry."""
    return _guarded(target, local, lambda: _publish(client, target, local, overwrite))


def _guarded(target, local, step):
    try:
        return step()
    except manifest.Invalid:
        raise
    except s3.ERRORS as exc:
        kept = f"the archive is kept at {local.archive}; " if local.archive else ""
        raise PairError(f"S3 failed at {target.url(local.keys.archive)}: {s3.describe(exc)}; {kept}"
                        "rerun to complete the publish") from None


def _publish(client, target, local, overwrite):
    if target.dry_run:
        s3.ensure_bucket(client, target.bucket)
    # The profile first: an archive whose record names a profile is never in the bucket without it.
    _ensure_profile(client, target, local, local.record)
    checksum = base64.b64encode(bytes.fromhex(local.sha256)).decode()
    condition = {} if overwrite else {"IfNoneMatch": "*"}
    try:
        with open(local.archive, "rb") as body:
            client.put_object(Bucket=target.bucket, Key=local.keys.archive, Body=body, ChecksumSHA256=checksum,
                              ContentType="application/zstd", Metadata=local.metadata(), **condition)
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) not in s3.CONDITION_FAILED:
            raise
        # Another run wrote this key after our check: theirs stands.
        return _settle(client, target, local, remote_archive(client, target, local.keys))
    remote = _read_back(client, target, local)
    _converge(client, target, local, remote)
    return Outcome(Status.REPLACED if overwrite else Status.PUBLISHED, target.url(local.keys.archive), local.sha256)


def _settle(client, target, local, remote: Remote) -> Outcome:
    url = target.url(local.keys.archive)
    ours = remote.sha256 == local.sha256 or (remote.cache_key and remote.cache_key == local.cache_key)
    if not ours:
        return Outcome(Status.CONFLICT, url, remote.sha256)
    repaired = _converge(client, target, local, remote)
    return Outcome(Status.ALREADY_THERE, url, remote.sha256, tuple(repaired))


def _read_back(client, target, local) -> Remote:
    remote = remote_archive(client, target, local.keys)
    size = local.archive.stat().st_size
    if remote is None or remote.size != size or remote.sha256 != local.sha256:
        raise PairError(f"read-back of {target.url(local.keys.archive)} differs: "
                        f"{remote and remote.size} bytes, sha256 {remote and remote.sha256}; "
                        f"local {size} bytes, {local.sha256}")
    return remote


def _converge(client, target, local: Local, remote: Remote) -> list[str]:
    """Make the sidecars and the manifest entry describe the archive the bucket holds; return
    what had to be written."""
    written = []
    checksum_line = f"{remote.sha256}  {local.keys.filename}\n"
    if s3.get_text(client, target, local.keys.sha256) != checksum_line:
        client.put_object(Bucket=target.bucket, Key=local.keys.sha256, Body=checksum_line.encode(),
                          ContentType="text/plain")
        written.append("checksum file")
    for document in local.documents():
        if document.describes(_get_json(client, target, document.key), remote.sha256):
            continue
        if not document.describes(document.local, remote.sha256):
            raise PairError(f"{target.url(document.key)} is missing or describes another archive, and this "
                            f"machine has no {document.name} of the published build to restore it from: rebuild "
                            "and publish with --overwrite")
        client.put_object(Bucket=target.bucket, Key=document.key, ContentType=document.content_type,
                          Body=archive_mod.json_bytes(document.local))
        written.append(document.name)
    bucket_record = _get_json(client, target, local.keys.record)
    if _ensure_profile(client, target, local, bucket_record):
        written.append("profile")
    current, _ = manifest.read(client, target)
    stack, arch, runtime = _stack_arch_runtime(local.keys)
    wanted = manifest_entry(local, remote)
    if manifest.entry(current, stack, runtime, arch) != wanted:
        manifest.update(client, target, stack, runtime, wanted, arch=arch)
        written.append("manifest entry")
    return written


def _ensure_profile(client, target, local: Local, record: dict | None) -> bool:
    """The profile a record names is in the bucket (s3.profile_key): uploaded from local.profile
    when it is not. True when it had to be written."""
    profile = (record or {}).get("profile_data") if isinstance(record, dict) else None
    sha256 = profile.get("sha256") if isinstance(profile, dict) else None
    if not isinstance(sha256, str) or len(sha256) != 64:
        return False  # no profile named (a quick build), or a record check-published names as broken
    key = s3.profile_key(target, sha256)
    try:
        client.head_object(Bucket=target.bucket, Key=key)
        return False
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) not in s3.NOT_FOUND:
            raise
    if local.profile is None or not local.profile.exists() or file_sha256(local.profile) != sha256:
        raise PairError(f"{target.url(key)}, the profile the published record names, is missing, and this machine "
                        "does not have it: rebuild and publish with --overwrite")
    checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
    with open(local.profile, "rb") as body:
        client.put_object(Bucket=target.bucket, Key=key, Body=body, ChecksumSHA256=checksum,
                          ContentType="application/zstd")
    return True


def manifest_entry(local: Local, remote: Remote) -> dict:
    """The manifest's entry for the archive the bucket holds: each field from the archive's own
    metadata where it has it (archives published before the metadata existed have less), else
    from this run."""
    entry = {"key": local.keys.archive, "sha256": remote.sha256, "size": remote.size}
    for name in ENTRY_FIELDS:
        value = remote.metadata.get(name.replace("_", "-"))
        if value is None:
            entry[name] = local.entry.get(name)
        else:
            entry[name] = _number(value) if name.endswith("seconds") else value
    return entry


def _stack_arch_runtime(keys: s3.Keys):
    # PREFIX/STACK/ARCH/RUNTIME.tar.zst
    stack, arch, filename = keys.archive.rsplit("/", 3)[-3:]
    return stack, arch, filename.removesuffix(".tar.zst")


def record_sha256(record: dict) -> str | None:
    return record.get("archive_sha256")


def _get_json(client, target, key):
    """The bucket's copy of a JSON file, or None when it is missing or not JSON."""
    try:
        return json.loads(s3.get_text(client, target, key) or "null")
    except ValueError:
        return None


def _number(value):
    try:
        return float(value)
    except ValueError:
        return None
