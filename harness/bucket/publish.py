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
- What a key needs is decided once, without writing (assess(): the key is free, complete, to
  repair, or refused), and --plan says that same decision. Then the writes are made, each
  conditional on the bucket still being what was read: a sidecar with If-None-Match: * when it
  was missing, If-Match on its ETag when it was there; the manifest only while a HEAD of the
  archive still shows the ETag the repair describes. An --overwrite deploy of the same key that
  lands in between wins: the repair stops rather than write the old archive's description back.
- Then, whatever the pair's decision, the listings consumers read (a uv catalog per stack, the
  index page) are made again from the manifest and written where they differ
  (harness/bucket/listings.py). They are the bucket's, not a pair's: --plan's decision for a
  pair does not depend on them, and the outcome names them apart from its repairs.
- Every failure to reach or write S3 is one line, and the local archive is kept for a rerun.
"""

import base64
import enum
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import archive as archive_mod
from .. import provenance, sbom
from ..errors import PairError
from ..hashing import file_sha256
from . import listings, manifest, s3

# How often a repair starts over after a conditional write found the bucket changed (another run
# repairing the same key, or the manifest updated for another pair) before it gives up.
ATTEMPTS = 50


class Status(enum.Enum):
    PUBLISHED = "published"
    REPLACED = "published (overwrite)"
    ALREADY_THERE = "already published"  # the bucket holds this build, or a build of the same inputs
    CONFLICT = "already published from other inputs"  # and --overwrite was not given


class Decision(enum.Enum):
    """What a run does about an archive key, from what the bucket holds there (assess())."""
    FREE = "the key is free"  # build (or reuse) the archive, then publish it
    COMPLETE = "already published"  # this build's, and everything that describes it is there
    REPAIR = "already published, incompletely"  # this build's: complete what an interrupted publish left
    CONFLICT = "already published from other inputs"  # the pair fails and the bucket is left alone
    UNREPAIRABLE = "already published, and this machine cannot complete it"  # fails; the bucket is left alone


@dataclass(frozen=True)
class Remote:
    """What the bucket holds at an archive key, from a HEAD request."""
    sha256: str
    size: int
    metadata: dict
    etag: str = ""  # which version of the key this is: a repair writes only while it is still this one

    @property
    def cache_key(self) -> str:
        return self.metadata.get("cache-key", "")


@dataclass(frozen=True)
class Outcome:
    status: Status
    url: str
    sha256: str  # of the archive the bucket holds now
    repaired: tuple = ()  # what this run completed of an earlier, interrupted publish
    # The listings (uv catalogs, index page) this run made again from the manifest, where they differed:
    # the bucket's, not the pair's (another pair's publish may have left them behind), so not a repair.
    listings: tuple = field(default=(), compare=False)

    @property
    def ok(self) -> bool:
        return self.status is not Status.CONFLICT

    def describe(self) -> str:
        text = f"{self.status.value}, sha256 {self.sha256}"
        if self.status is Status.CONFLICT:
            text += CONFLICT_HINT
        if self.repaired:
            text += f"; repaired: {', '.join(self.repaired)}"
        return text


CONFLICT_HINT = " (its cache key differs from this build's; --overwrite replaces it)"

# The manifest entry's fields that do not depend on the archive's bytes (with key, sha256 and size),
# each with how its value is read back from the archive's metadata (where every value is a string).
# build_date, checks_* and end_of_life are what the index page shows (harness/bucket/listings.py).
ENTRY_FIELDS = {"version": str, "arch": str, "formula_sha256": str, "build_seconds": lambda value: _number(value),
                "build_date": str, "checks_passed": lambda value: _whole(value),
                "checks_total": lambda value: _whole(value), "end_of_life": str, "variant": str}


@dataclass(frozen=True)
class Local:
    """This run's side of one pair: what it built (or would build) and what describes it."""
    keys: s3.Keys
    cache_key: str
    entry: dict  # ENTRY_FIELDS; those a build or its verification gives are None before them
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
        # Read by manifest's reader: a copy of a shape the harness does not write describes no
        # archive (it is restored from this run's), where sbom.archive_sha256 would raise.
        return (Document("record", self.keys.record, "application/json", self.record, manifest.record_sha256),
                Document("SBOM", self.keys.sbom, sbom.MEDIA_TYPE, self.sbom, manifest.sbom_sha256),
                Document("provenance", self.keys.provenance, provenance.PAYLOAD_TYPE, self.provenance,
                         manifest.provenance_sha256))


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


@dataclass(frozen=True)
class Write:
    """One object a repair writes, and the condition that it is still what the repair read."""
    name: str  # as "repaired: ..." names it
    key: str
    content_type: str
    condition: dict  # {"IfNoneMatch": "*"} when it was missing, {"IfMatch": etag} when it was there
    body: bytes | None = None
    path: Path | None = None  # the body is this file's (a profile)
    sha256: str | None = None  # S3 checks the upload against it (profiles)


@dataclass(frozen=True)
class Assessment:
    """What the bucket holds at a pair's key and what a run does about it, decided without writing:
    --plan reports it, settle_existing() and publish() carry it out."""
    decision: Decision
    url: str
    remote: Remote | None = None
    writes: tuple = ()  # REPAIR: the sidecars to write, in order
    entry: dict | None = None  # REPAIR: the manifest entry, when the manifest's differs
    problem: str = ""  # UNREPAIRABLE: why, and what to do

    @property
    def repairs(self) -> tuple:
        """What a run would complete, named as Outcome.repaired names it."""
        return tuple(write.name for write in self.writes) + (("manifest entry",) if self.entry is not None else ())

    def describe(self) -> str:
        if self.decision is Decision.FREE:
            return f"{self.url} is free"
        text = f"{self.url} is {self.decision.value}, sha256 {self.remote.sha256}"
        if self.decision is Decision.CONFLICT:
            text += CONFLICT_HINT
        elif self.decision is Decision.REPAIR:
            text += f"; to repair: {', '.join(self.repairs)}"
        elif self.decision is Decision.UNREPAIRABLE:
            text += f": {self.problem}"
        return text


class _Changed(Exception):
    """A conditional write found its object changed since the repair read it."""


def remote_archive(client, target: s3.Target, keys: s3.Keys) -> Remote | None:
    head = s3.head_or_none(client, target.bucket, keys.archive, ChecksumMode="ENABLED")
    if head is None:
        return None
    metadata = head.get("Metadata", {})
    sha256 = metadata.get("sha256") or (base64.b64decode(head["ChecksumSHA256"]).hex()
                                        if head.get("ChecksumSHA256") else "(unknown)")
    return Remote(sha256=sha256, size=head["ContentLength"], metadata=metadata, etag=head.get("ETag", ""))


def assess(client, target: s3.Target, local: Local) -> Assessment:
    """What a run does about this pair's key, from what the bucket holds, without writing
    anything (--plan). The manifest's being invalid JSON raises manifest.Invalid, as in a run."""
    return _guarded(target, local, lambda: _assess_key(client, target, local))


def _assess_key(client, target, local):
    remote = remote_archive(client, target, local.keys)
    if remote is None:
        return Assessment(Decision.FREE, target.url(local.keys.archive))
    return _assess(client, target, local, remote)


def settle_existing(client, target: s3.Target, local: Local) -> Outcome | None:
    """Before building: if the bucket already holds this pair's archive, say so and complete
    whatever an interrupted publish left undone; None when the key is free."""
    return _guarded(target, local, lambda: _settle_existing(client, target, local))


def _settle_existing(client, target, local):
    if target.dry_run:
        s3.ensure_bucket(client, target.bucket)
    for _ in range(ATTEMPTS):
        remote = remote_archive(client, target, local.keys)
        if remote is None:
            return None
        outcome = _settle(client, target, local, remote)
        if outcome is not None:
            return outcome
        # The archive was replaced while this run repaired it: decide again about what is there now.
    raise PairError(f"{target.url(local.keys.archive)} kept being replaced while this run completed its publish: "
                    f"gave up after {ATTEMPTS} attempts")


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
    profile, problem = _profile_write(client, target, local, local.record)
    if problem:
        raise PairError(problem)
    if profile is not None:
        try:
            _put(client, target, profile)
        except _Changed:
            pass  # written meanwhile by another run: its key is its sha256, so it holds these bytes
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
        return _settle_existing(client, target, local)
    remote = _read_back(client, target, local)
    assessment = _assess(client, target, local, remote)
    if assessment.decision is Decision.UNREPAIRABLE:
        raise PairError(assessment.problem)
    if _converge(client, target, local, assessment) is None:
        # Another deploy (an --overwrite) replaced our archive after we wrote it: theirs stands.
        return _settle_existing(client, target, local)
    return Outcome(Status.REPLACED if overwrite else Status.PUBLISHED, target.url(local.keys.archive), local.sha256,
                   listings=listings.refresh(client, target))


def _settle(client, target, local, remote: Remote) -> Outcome | None:
    """Carry out what assess() decides about the archive the bucket holds; None when it was
    replaced meanwhile (the caller decides again)."""
    assessment = _assess(client, target, local, remote)
    if assessment.decision is Decision.CONFLICT:
        # The pair fails and its objects are left alone; the listings are the bucket's, made from its
        # manifest all the same (after a change of the build's inputs every pair is in conflict until
        # republished with --overwrite, and the listings must not wait for that).
        return Outcome(Status.CONFLICT, assessment.url, remote.sha256, listings=listings.refresh(client, target))
    if assessment.decision is Decision.UNREPAIRABLE:
        raise PairError(assessment.problem)
    repaired = _converge(client, target, local, assessment)
    if repaired is None:
        return None
    # What consumers read beside the manifest, made again from it whenever a pair is settled: a rerun
    # repairs listings an interrupted publish (or a hand) left behind the manifest.
    return Outcome(Status.ALREADY_THERE, assessment.url, remote.sha256, repaired,
                   listings=listings.refresh(client, target))


def _read_back(client, target, local) -> Remote:
    remote = remote_archive(client, target, local.keys)
    size = local.archive.stat().st_size
    if remote is None or remote.size != size or remote.sha256 != local.sha256:
        raise PairError(f"read-back of {target.url(local.keys.archive)} differs: "
                        f"{remote and remote.size} bytes, sha256 {remote and remote.sha256}; "
                        f"local {size} bytes, {local.sha256}")
    return remote


def _assess(client, target, local: Local, remote: Remote) -> Assessment:
    """Read what describes the archive the bucket holds (its sidecars, the profile its record
    names, its manifest entry) and decide; nothing is written."""
    url = target.url(local.keys.archive)
    ours = remote.sha256 == local.sha256 or (remote.cache_key and remote.cache_key == local.cache_key)
    if not ours:
        return Assessment(Decision.CONFLICT, url, remote)
    writes = []
    checksum_line = f"{remote.sha256}  {local.keys.filename}\n".encode()
    body, etag = _read(client, target, local.keys.sha256)
    if body != checksum_line:
        writes.append(Write("checksum file", local.keys.sha256, "text/plain", _condition(etag), body=checksum_line))
    bucket_record = None
    for document in local.documents():
        body, etag = _read(client, target, document.key)
        found = _json(body)
        if document.key == local.keys.record:
            bucket_record = found
        if document.describes(found, remote.sha256):
            continue
        if not document.describes(document.local, remote.sha256):
            return Assessment(Decision.UNREPAIRABLE, url, remote, problem=(
                f"{target.url(document.key)} is missing or describes another archive, and this machine has no "
                f"{document.name} of the published build to restore it from: rebuild and publish with --overwrite"))
        writes.append(Write(document.name, document.key, document.content_type, _condition(etag),
                            body=archive_mod.json_bytes(document.local)))
        if document.key == local.keys.record:
            bucket_record = document.local  # what the bucket's record will be once repaired
    profile, problem = _profile_write(client, target, local, bucket_record)
    if problem:
        return Assessment(Decision.UNREPAIRABLE, url, remote, problem=problem)
    if profile is not None:
        writes.append(profile)
    current, _ = manifest.read(client, target)
    stack, arch, runtime = _stack_arch_runtime(local.keys)
    wanted = manifest_entry(local, remote)
    entry = wanted if manifest.entry(current, stack, runtime, arch) != wanted else None
    decision = Decision.REPAIR if writes or entry is not None else Decision.COMPLETE
    return Assessment(decision, url, remote, tuple(writes), entry)


def _converge(client, target, local: Local, assessment: Assessment) -> tuple | None:
    """Make the sidecars and the manifest entry describe the archive the bucket holds, as the
    assessment says; return what was written, or None when the archive was replaced meanwhile
    (the replacing run describes its own archive; writing ours would undo that)."""
    written = []
    for _ in range(ATTEMPTS):
        try:
            for write in assessment.writes:
                _put(client, target, write)
                written.append(write.name)
            if assessment.entry is not None:
                if not _update_manifest(client, target, local.keys, assessment.remote, assessment.entry):
                    return None
                written.append("manifest entry")
            return tuple(dict.fromkeys(written))
        except _Changed:
            # A sidecar changed between our read and our write: another run repairing it too, or
            # an --overwrite deploy of this key describing its new archive. Only in the first case
            # is there anything left for us to write.
            if not _still_there(client, target, local.keys, assessment.remote):
                return None
            assessment = _assess(client, target, local, assessment.remote)
            if assessment.decision is Decision.UNREPAIRABLE:
                raise PairError(assessment.problem) from None
    raise PairError(f"{target.url(local.keys.archive)}: its sidecars kept changing while this run repaired them: "
                    f"gave up after {ATTEMPTS} attempts")


def _update_manifest(client, target, keys: s3.Keys, remote: Remote, entry: dict) -> bool:
    """Set this pair's manifest entry, with If-Match on the manifest's ETag and retried on
    conflict like manifest.update, but only while the archive is still the one the entry
    describes: False when it was replaced (an --overwrite deploy won; its run writes its entry)."""
    key = manifest.key_for(target)
    stack, arch, runtime = _stack_arch_runtime(keys)
    for attempt in range(ATTEMPTS):
        if not _still_there(client, target, keys, remote):
            return False
        # In schema 2, whatever schema the bucket's is: a schema 1 manifest is written back converted.
        current, condition = manifest.read(client, target)
        try:
            client.put_object(Bucket=target.bucket, Key=key, ContentType="application/json",
                              Body=manifest.put(current, stack, arch, runtime, entry), **condition)
            return True
        except s3.botocore.exceptions.ClientError as exc:
            if s3.error_code(exc) not in s3.CONDITION_FAILED:
                raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise PairError(f"manifest {target.url(key)}: gave up after {ATTEMPTS} concurrent-update conflicts")


def _still_there(client, target, keys: s3.Keys, remote: Remote) -> bool:
    """The key still holds the archive `remote` was read from (the same ETag and sha256)."""
    now = remote_archive(client, target, keys)
    return now is not None and now.etag == remote.etag and now.sha256 == remote.sha256


def _profile_write(client, target, local: Local, record: dict | None) -> tuple:
    """(the Write that puts the profile a record names in the bucket (s3.profile_key) when it is
    not there, or None; the problem when it is missing and this machine does not have it, or "")."""
    profile = record.get("profile_data") if isinstance(record, dict) else None
    sha256 = profile.get("sha256") if isinstance(profile, dict) else None
    if not isinstance(sha256, str) or len(sha256) != 64:
        return None, ""  # no profile named (a quick build), or a record check-published names as broken
    key = s3.profile_key(target, sha256)
    if s3.head_or_none(client, target.bucket, key) is not None:
        return None, ""
    if local.profile is None or not local.profile.exists() or file_sha256(local.profile) != sha256:
        return None, (f"{target.url(key)}, the profile the published record names, is missing, and this machine "
                      "does not have it: rebuild and publish with --overwrite")
    # Its key is its sha256: written once, never replaced.
    return Write("profile", key, "application/zstd", {"IfNoneMatch": "*"}, path=local.profile, sha256=sha256), ""


def _put(client, target, write: Write):
    """Write one object under its condition; _Changed when the condition no longer holds."""
    extra = {"ChecksumSHA256": base64.b64encode(bytes.fromhex(write.sha256)).decode()} if write.sha256 else {}
    try:
        if write.path is not None:
            with open(write.path, "rb") as body:
                client.put_object(Bucket=target.bucket, Key=write.key, Body=body, ContentType=write.content_type,
                                  **write.condition, **extra)
        else:
            client.put_object(Bucket=target.bucket, Key=write.key, Body=write.body, ContentType=write.content_type,
                              **write.condition, **extra)
    except s3.botocore.exceptions.ClientError as exc:
        # If-Match on an object deleted since it was read is answered 404 NoSuchKey: changed too.
        if s3.error_code(exc) in s3.CONDITION_FAILED or ("IfMatch" in write.condition
                                                         and s3.missing(exc)):
            raise _Changed(write.key) from None
        raise


def _condition(etag: str | None) -> dict:
    return {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}


def manifest_entry(local: Local, remote: Remote) -> dict:
    """The manifest's entry for the archive the bucket holds: each field from the archive's own
    metadata where it has it (archives published before the metadata existed have less), else
    from this run."""
    entry = {"key": local.keys.archive, "sha256": remote.sha256, "size": remote.size}
    for name, read_back in ENTRY_FIELDS.items():
        value = remote.metadata.get(name.replace("_", "-"))
        entry[name] = local.entry.get(name) if value is None else read_back(value)
    return entry


def _stack_arch_runtime(keys: s3.Keys):
    # PREFIX/STACK/ARCH/RUNTIME.tar.zst
    stack, arch, filename = keys.archive.rsplit("/", 3)[-3:]
    return stack, arch, filename.removesuffix(".tar.zst")


def _read(client, target, key) -> tuple:
    """(an object's bytes, its ETag), or (None, None) when there is no such key."""
    answer = s3.get_or_none(client, target.bucket, key)
    if answer is None:
        return None, None
    return answer["Body"].read(), answer["ETag"]


def _json(body: bytes | None):
    """A JSON file's content, or None when it is missing or not JSON (nested too deeply too)."""
    try:
        return manifest.loads(body) if body else None
    except ValueError:
        return None


def _number(value):
    try:
        return float(value)
    except ValueError:
        return None


def _whole(value):
    try:
        return int(value)
    except ValueError:
        return None
