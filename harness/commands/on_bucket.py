"""What the commands that read the real bucket share (check-published, attest-subjects, rebuild):
its options, the target they name, and one line for whatever stops the command."""

import sys

from .. import redact
from ..bucket import credentials, manifest, s3, settings
from ..errors import UsageError


def add_options(parser):
    """--s3-bucket, --s3-prefix and --env-file, as pytest's harness spells them."""
    parser.add_argument("--s3-bucket", help="bucket (default: S3_BUCKET from --env-file, then the environment)")
    parser.add_argument("--s3-prefix", help="prefix (default: S3_PREFIX from --env-file, then the environment)")
    parser.add_argument("--env-file", help="S3_BUCKET, S3_PREFIX and AWS_* in Docker's env-file format")


def target(args, command: str) -> s3.Target:
    """The real bucket to read, from --s3-bucket/--s3-prefix, --env-file and the environment."""
    env_file = settings.read_env_file(args.env_file) if args.env_file else {}
    bucket, prefix, bucket_source = settings.bucket_and_prefix(args.s3_bucket, args.s3_prefix, env_file, args.env_file)
    if not bucket:
        raise UsageError(f"{command} needs a bucket: set S3_BUCKET (environment or --env-file) or pass --s3-bucket")
    return credentials.deploy_target(bucket, prefix, bucket_source, env_file, args.env_file, command=command)


def run(args, command: str, work):
    """work(client, target) on the bucket the options name, its outcome; or the exit status of a
    failure, after one line: bad input 2, an unreadable manifest or S3 failing 1."""
    try:
        where = target(args, command)
        return work(s3.client_for(where), where)
    except (UsageError, ValueError) as exc:
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 2
    except manifest.Invalid as exc:
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 1
    except s3.ERRORS as exc:
        print(f"error: S3 failed: {s3.describe(exc)}", file=sys.stderr)
        return 1


def say(line):
    print(redact.redact(line), file=sys.stderr)
