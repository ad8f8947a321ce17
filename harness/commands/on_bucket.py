"""What the commands that read the real bucket share (check-published, attest-subjects, rebuild):
its options, the target they name, and one line for whatever stops the command."""

import sys

from .. import redact
from ..bucket import manifest, s3
from ..bucket import target as bucket_target
from ..errors import UsageError


def add_options(parser):
    """--s3-bucket, --s3-prefix and --env-file, declared once for pytest's harness and the commands
    (harness/bucket/target.py)."""
    bucket_target.add_options(parser.add_argument)


def target(args, command: str) -> s3.Target:
    """The real bucket to read, from --s3-bucket/--s3-prefix, --env-file and the environment."""
    return bucket_target.resolve(args.s3_bucket, args.s3_prefix, args.env_file, real=True, command=command,
                                 public_url_option=args.public_url)


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
