"""Where runtimes are published: the bucket and prefix, the client that reaches them, the key layout.

Credentials are resolved by boto3 here, on the host; they never reach a container. Transient
errors (5xx, throttling, connection resets) are retried by botocore's standard retry mode.
"""

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from .. import archive as archive_mod, redact

RETRY_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    connect_timeout=10,
    read_timeout=120,
)
DRY_RUN_CREDENTIALS = {"aws_access_key_id": "dry-run", "aws_secret_access_key": "dry-run"}
# What S3 answers when a conditional write (If-None-Match / If-Match) does not hold.
CONDITION_FAILED = ("PreconditionFailed", "ConditionalRequestConflict")
NOT_FOUND = ("NoSuchKey", "404", "NotFound")
# Anything S3 or the way to it can raise: a ClientError is an answer, a BotoCoreError no answer.
ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)


@dataclass
class Target:
    bucket: str
    prefix: str  # "" or ends with "/"
    endpoint: str | None = None  # None: AWS (or AWS_ENDPOINT_URL_S3, which boto3 reads itself)
    dry_run: bool = True
    credentials: dict = field(default_factory=dict, repr=False)  # AWS_*: env file over environment
    public_url: str = ""  # PUBLIC_URL (ends with "/"); "": the bucket's own URL (listings.base_url)

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


def client_for(target: Target):
    if target.dry_run:
        return client_from(boto3.session.Session(), target.endpoint, region_name="us-east-1", **DRY_RUN_CREDENTIALS)
    session = session_for(target.credentials)
    client = client_from(session, target.endpoint)
    # What boto3 signs with (from a profile or a credential_process too, refreshed mid-run or not)
    # is registered with the redactor before each request, in every process that makes a client.
    credentials = session.get_credentials()
    client.meta.events.register("before-sign.s3", lambda **_: redact.register_credentials(credentials))
    return client


def client_from(session, endpoint: str | None, **kwargs):
    """An S3 client of the session; makes no request (credentials.for_deploy makes one to check
    that boto3 takes the region and endpoint)."""
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    return session.client("s3", config=RETRY_CONFIG, **kwargs)


@dataclass(frozen=True)
class Keys:
    """The stable layout: PREFIX/STACK/ARCH/python-X.Y.Z.tar.zst, and beside it the files that
    describe it, named as in the out folder: .sha256, the .json record, the .cdx.json SBOM and the
    .provenance.json statement."""
    archive: str

    @property
    def sha256(self):
        return self.archive + archive_mod.CHECKSUM_SUFFIX

    @property
    def record(self):
        return self.archive + archive_mod.RECORD_SUFFIX

    @property
    def sbom(self):
        return self.archive + archive_mod.SBOM_SUFFIX

    @property
    def provenance(self):
        return self.archive + archive_mod.PROVENANCE_SUFFIX

    @property
    def filename(self):
        return self.archive.rsplit("/", 1)[-1]


def keys_for(target: Target, stack: str, arch: str, runtime: str) -> Keys:
    return Keys(f"{target.prefix}{stack}/{arch}/{runtime}.tar.zst")


# Release builds' profiles (archive.PROFILE_SUFFIX), by their sha256: a key written once and never
# replaced, so that two runs publishing one archive key at once cannot leave the winner's record
# naming the loser's profile (each record names its own).
PROFILES_FOLDER = "profiles/"


def profile_key(target: Target, sha256: str) -> str:
    return f"{target.prefix}{PROFILES_FOLDER}{sha256}.profile.tar.zst"


def ensure_bucket(client, bucket):
    """Dry runs only: the embedded S3 starts empty."""
    try:
        client.create_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def missing(exc) -> bool:
    """Whether an S3 error says there is no such key: the one test of "is it there"."""
    return isinstance(exc, botocore.exceptions.ClientError) and error_code(exc) in NOT_FOUND


def _or_none(request, **params):
    """request(**params)'s answer, or None when there is no such key; any other error is raised."""
    try:
        return request(**params)
    except botocore.exceptions.ClientError as exc:
        if missing(exc):
            return None
        raise


def head_or_none(client, bucket: str, key: str, **params) -> dict | None:
    """HEAD of an object (its size, metadata, ETag, ...), or None when there is no such key (a
    HEAD's answer has no body, so a bucket that does not exist is a 404 too: pre-flight checks the
    bucket before any of these)."""
    return _or_none(client.head_object, Bucket=bucket, Key=key, **params)


def get_or_none(client, bucket: str, key: str, **params) -> dict | None:
    """GET of an object (its Body to read, its ETag, ...), or None when there is no such key."""
    return _or_none(client.get_object, Bucket=bucket, Key=key, **params)


def download_or_none(client, bucket: str, key: str, path) -> Path | None:
    """An object downloaded to path (boto3's download_file: ranged, parallel parts), path, or None
    when there is no such key."""
    found = _or_none(lambda: client.download_file(bucket, key, str(path)) or True)
    return Path(path) if found else None


def get_text(client, target: Target, key: str) -> str | None:
    """An object's content as text, or None when there is no such key."""
    answer = get_or_none(client, target.bucket, key)
    return None if answer is None else answer["Body"].read().decode("utf-8", "replace")


def error_code(exc) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def describe(exc) -> str:
    """An S3 error in a few words, for a one-line message: the code and message S3 gave, or what
    went wrong on the way (never a request's headers, which carry the signature). Redacted: a
    botocore text can hold a header's value (a session token) or an endpoint's user:password@."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        text = f"{error.get('Code', 'error')} (HTTP {status}): {error.get('Message', '').strip() or 'no message'}"
    elif isinstance(exc, botocore.exceptions.CredentialRetrievalError):
        # Its text is a credential helper's stderr or output: never repeated.
        provider = exc.kwargs.get("provider")
        text = f"credentials could not be had from boto3's {provider} provider (what it said is not shown)"
    elif url := getattr(exc, "kwargs", {}).get("endpoint_url"):
        # Connection errors name the whole object URL: the endpoint is what matters.
        shown = urllib.parse.urlsplit(redact.userinfo_removed(url))._replace(path="", query="").geturl()
        text = f"cannot connect to {shown} ({type(exc).__name__})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(redact.redact(text).split())  # one line, whatever the text held
