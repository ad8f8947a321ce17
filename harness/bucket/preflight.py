"""Before any build of a --deploy run: can these credentials write this bucket, and does the store
honour the conditional writes that keep concurrent deploys from overwriting each other?

A 15-minute release build that then fails at upload is the expensive way to find out, so each
question is asked of the real store once, up front, and answered in one line.
"""

import uuid

from .. import redact
from ..errors import UsageError
from . import s3


def check(target: s3.Target, overwrite: bool, say=print):
    """Each line it says and each error it raises is redacted (harness/redact.py)."""
    try:
        _check(target, overwrite, lambda line: say(redact.redact(line)))
    except UsageError as exc:
        raise UsageError(redact.redact(exc)) from None


def _check(target: s3.Target, overwrite: bool, say):
    try:
        client = s3.client_for(target)
    except (s3.botocore.exceptions.BotoCoreError, ValueError, OSError) as exc:  # credentials.for_deploy checked these
        raise UsageError(f"pre-flight: boto3 cannot make an S3 client of these settings ({type(exc).__name__}); "
                         "check AWS_ENDPOINT_URL_S3, AWS_REGION and the AWS profile") from None
    where = target.url(target.prefix)
    try:
        client.head_bucket(Bucket=target.bucket)
    except s3.botocore.exceptions.ClientError as exc:
        code = s3.error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise UsageError(f"pre-flight: bucket {target.bucket!r} does not exist (check S3_BUCKET, and "
                             "AWS_ENDPOINT_URL_S3 for a store other than AWS)") from None
        raise UsageError(f"pre-flight: these credentials cannot reach bucket {target.bucket!r}: "
                         f"{s3.describe(exc)}") from None
    except s3.botocore.exceptions.BotoCoreError as exc:
        raise UsageError(f"pre-flight: S3 cannot be reached for bucket {target.bucket!r}: {s3.describe(exc)}") from None
    say(f"pre-flight: {where} reachable with these credentials")

    ignored = _conditions_ignored(client, target)
    if not ignored:
        say("pre-flight: the store honours conditional writes (If-None-Match, If-Match)")
    elif overwrite:
        say(f"pre-flight: WARNING: the store ignores {' and '.join(ignored)}; deploying anyway (--overwrite): "
            "concurrent deploys of one key may overwrite each other")
    else:
        raise UsageError(f"pre-flight: the store at {where} ignores conditional writes ({', '.join(ignored)}), "
                         "so a deploy could silently replace a published archive; use a store that honours "
                         "them, or pass --overwrite to deploy anyway")


def _conditions_ignored(client, target) -> list[str]:
    """Write a scratch key, then try to write it again under conditions that must fail; the
    scratch key is removed whatever happens."""
    key = f"{target.prefix}.pyruntimes-preflight-{uuid.uuid4().hex}"
    ignored = []
    try:
        _put(client, target, key, IfNoneMatch="*")
        if _put(client, target, key, IfNoneMatch="*"):
            ignored.append("If-None-Match")
        if _put(client, target, key, IfMatch='"0123456789abcdef0123456789abcdef"'):
            ignored.append("If-Match")
    except s3.ERRORS as exc:
        raise UsageError(f"pre-flight: these credentials cannot write to {target.url(target.prefix)}: "
                         f"{s3.describe(exc)}") from None
    finally:
        try:
            client.delete_object(Bucket=target.bucket, Key=key)
        except s3.ERRORS:
            pass
    return ignored


def _put(client, target, key, **condition) -> bool:
    """True when the write landed, False when the store refused it for its condition."""
    try:
        client.put_object(Bucket=target.bucket, Key=key, Body=b"pre-flight probe of pyruntimes\n", **condition)
        return True
    except s3.botocore.exceptions.ClientError as exc:
        if s3.error_code(exc) in s3.CONDITION_FAILED:
            return False
        raise
