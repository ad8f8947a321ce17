"""Publishing an archive, its .sha256 and its .json record to S3, and listing it in the manifest.

- The archive's write is its own guard: a conditional PUT (If-None-Match: *) lands only if the key
  does not exist, so of two concurrent deploys of one key exactly one writes. The loser reports
  "already published" with the existing checksum and whether it matches ours. --overwrite drops
  the condition.
- S3 verifies the upload against the SHA-256 we send (x-amz-checksum-sha256); afterwards the object
  is read back (HEAD) and its checksum and size compared with the local file.
- The manifest (one JSON document at the prefix) is updated with optimistic concurrency:
  If-Match on the ETag we read, retried on conflict, so parallel workers all land their entries.
- Transient errors (5xx, throttling, connection resets) are retried by botocore's standard mode.
Credentials are resolved by boto3 here, on the host; they never reach a container.
"""

import base64
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from .errors import PairError

MANIFEST_NAME = "manifest.json"
RETRY_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    connect_timeout=10,
    read_timeout=120,
)
DRY_RUN_CREDENTIALS = {"aws_access_key_id": "dry-run", "aws_secret_access_key": "dry-run"}


@dataclass
class Target:
    bucket: str
    prefix: str  # "" or ends with "/"
    endpoint: str | None = None  # None: AWS (or AWS_ENDPOINT_URL_S3, which boto3 reads itself)
    dry_run: bool = True
    credentials: dict = field(default_factory=dict, repr=False)  # from --env-file; else boto3's chain

    def url(self, key):
        return f"s3://{self.bucket}/{key}"


def normalise_prefix(prefix: str) -> str:
    """'python', 'python/' and '/python/' all mean the folder python/; '' the bucket's root."""
    prefix = (prefix or "").strip("/")
    return prefix + "/" if prefix else ""


def session_for(credentials: dict):
    """A boto3 session: explicit values from an env file, else boto3's standard chain
    (environment, AWS_PROFILE, instance role)."""
    return boto3.session.Session(
        aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        profile_name=credentials.get("AWS_PROFILE"),
        region_name=credentials.get("AWS_REGION") or credentials.get("AWS_DEFAULT_REGION"),
    )


def s3_client(target: Target):
    kwargs = {"config": RETRY_CONFIG}
    if target.endpoint:
        kwargs["endpoint_url"] = target.endpoint
    if target.dry_run:
        return boto3.session.Session().client("s3", region_name="us-east-1", **DRY_RUN_CREDENTIALS, **kwargs)
    return session_for(target.credentials).client("s3", **kwargs)


def keys_for(target: Target, stack: str, arch: str, runtime: str) -> dict:
    """The stable layout: PREFIX/STACK/ARCH/python-X.Y.Z.tar.zst (+ .sha256, + .json)."""
    archive = f"{target.prefix}{stack}/{arch}/{runtime}.tar.zst"
    return {"archive": archive, "sha256": archive + ".sha256", "record": archive + ".json"}


def publish(client, target: Target, keys: dict, archive: Path, sha256: str, record: dict, overwrite=False) -> str:
    """Upload and read back; return what happened, in words for the summary.

    When S3 cannot be reached (after botocore's retries) the pair fails with one line and the
    local archive stays where it is: a later run reuses it and publishes without rebuilding."""
    try:
        if target.dry_run:
            ensure_bucket(client, target.bucket)
        return _publish(client, target, keys, archive, sha256, record, overwrite)
    except botocore.exceptions.BotoCoreError as exc:
        raise PairError(f"S3 unreachable ({exc}); the archive is kept at {archive}: rerun to publish it") from None


def _publish(client, target, keys, archive, sha256, record, overwrite):
    checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
    extra = {} if overwrite else {"IfNoneMatch": "*"}
    try:
        with open(archive, "rb") as body:
            client.put_object(Bucket=target.bucket, Key=keys["archive"], Body=body, ChecksumSHA256=checksum,
                              ContentType="application/zstd", Metadata={"sha256": sha256}, **extra)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise PairError(f"upload of {target.url(keys['archive'])} failed: {exc}") from None
        existing = _existing_sha256(client, target, keys)
        if existing != sha256:
            return f"already published with sha256 {existing}, which differs from this build's (use --overwrite)"
        _put_sidecars(client, target, keys, sha256, record, archive.name)  # complete an interrupted publish
        return "already published, same sha256"
    _read_back(client, target, keys, archive, sha256)
    _put_sidecars(client, target, keys, sha256, record, archive.name)
    return "published" if not overwrite else "published (overwrite)"


def _put_sidecars(client, target, keys, sha256, record, filename):
    client.put_object(Bucket=target.bucket, Key=keys["sha256"], Body=f"{sha256}  {filename}\n".encode(),
                      ContentType="text/plain")
    client.put_object(Bucket=target.bucket, Key=keys["record"], ContentType="application/json",
                      Body=json.dumps(record, indent=2, sort_keys=True).encode())


def _existing_sha256(client, target, keys):
    head = client.head_object(Bucket=target.bucket, Key=keys["archive"], ChecksumMode="ENABLED")
    if head.get("Metadata", {}).get("sha256"):
        return head["Metadata"]["sha256"]
    if head.get("ChecksumSHA256"):
        return base64.b64decode(head["ChecksumSHA256"]).hex()
    return "(unknown)"


def _read_back(client, target, keys, archive: Path, sha256):
    head = client.head_object(Bucket=target.bucket, Key=keys["archive"], ChecksumMode="ENABLED")
    remote = base64.b64decode(head["ChecksumSHA256"]).hex() if head.get("ChecksumSHA256") else None
    if head["ContentLength"] != archive.stat().st_size or remote not in (sha256, None):
        raise PairError(f"read-back of {target.url(keys['archive'])} differs: {head['ContentLength']} bytes, "
                        f"sha256 {remote}; local {archive.stat().st_size} bytes, {sha256}")
    if remote is None and head.get("Metadata", {}).get("sha256") != sha256:
        raise PairError(f"read-back of {target.url(keys['archive'])}: no checksum to compare")


def update_manifest(client, target: Target, stack: str, runtime: str, entry: dict, attempts=50):
    """Add or replace one entry of MANIFEST_NAME, retrying on concurrent updates."""
    key = target.prefix + MANIFEST_NAME
    for attempt in range(attempts):
        try:
            current = client.get_object(Bucket=target.bucket, Key=key)
            manifest, condition = json.loads(current["Body"].read()), {"IfMatch": current["ETag"]}
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404"):
                raise
            manifest, condition = {"stacks": {}}, {"IfNoneMatch": "*"}
        manifest.setdefault("stacks", {}).setdefault(stack, {})[runtime] = entry
        manifest["stacks"][stack] = dict(sorted(manifest["stacks"][stack].items()))
        try:
            client.put_object(Bucket=target.bucket, Key=key, ContentType="application/json",
                              Body=json.dumps(manifest, indent=2, sort_keys=True).encode(), **condition)
            return
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise PairError(f"manifest {target.url(key)}: gave up after {attempts} concurrent-update conflicts")


def update_manifest_or_fail(client, target: Target, stack: str, runtime: str, entry: dict):
    try:
        update_manifest(client, target, stack, runtime, entry)
    except botocore.exceptions.BotoCoreError as exc:
        raise PairError(f"manifest update failed, S3 unreachable ({exc}); rerun to complete it") from None


def ensure_bucket(client, bucket):
    """Dry runs only: the embedded S3 starts empty."""
    try:
        client.create_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def _code(exc):
    return exc.response.get("Error", {}).get("Code", "")
