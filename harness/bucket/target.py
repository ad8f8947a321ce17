"""Which bucket a run or a command works on: the one declaration of its options (--s3-bucket,
--s3-prefix, --env-file), which pytest's harness (conftest.py) and `python -m harness`'s commands
(harness/commands/on_bucket.py) both add to their parsers, and the one resolver of the Target they
name.

Settings come from the options, then the env file, then the environment (harness/bucket/settings.py).
A real target (--deploy, or a command that reads the published bucket) needs a bucket and
credentials boto3 can sign with (harness/bucket/credentials.py); a dry run writes to the embedded
S3, under the bucket named or DRY_RUN_BUCKET.
"""

import dataclasses
import os

from ..errors import UsageError
from . import credentials, s3, s3server, settings

DRY_RUN_BUCKET = "pyruntimes-dry-run"  # a dry run's bucket in the embedded S3 when none is named

# (name, metavar, help): the options both parsers declare.
OPTIONS = (
    ("--env-file", "PATH", "S3_BUCKET, S3_PREFIX, PUBLIC_URL and AWS_* in Docker's env-file format"),
    ("--s3-bucket", "NAME", "bucket (default: S3_BUCKET from --env-file, then the environment)"),
    ("--s3-prefix", "PREFIX", "key prefix (default: S3_PREFIX from --env-file, then the environment, else none)"),
    ("--public-url", "URL", "the URL consumers download from, KEY appended (a CDN in front of the bucket); the "
                            "uv catalogs' links (default: PUBLIC_URL from --env-file, then the environment, else "
                            "the bucket's own URL)"),
)


def add_options(add):
    """Declare the options with add(name, metavar=..., help=...): pytest's group.addoption and
    argparse's add_argument both take that shape. Each option's value lands as env_file, s3_bucket,
    s3_prefix and public_url."""
    for name, metavar, help_text in OPTIONS:
        add(name, metavar=metavar, help=help_text)


def resolve(bucket_option: str | None, prefix_option: str | None, env_file_path: str | None, real: bool,
            command: str = "--deploy", public_url_option: str | None = None) -> s3.Target:
    """The bucket the options name. real: the bucket itself, once it is named, valid and boto3 has
    credentials for it (UsageError otherwise, naming `command`: what needs it); else a dry run's
    target in the embedded S3 (a bucket named is still checked). The env file is read (and its
    secrets registered with the redactor) either way."""
    env_file = settings.read_env_file(env_file_path) if env_file_path else {}
    bucket, prefix, bucket_source = settings.bucket_and_prefix(bucket_option, prefix_option, env_file, env_file_path)
    public_url = settings.public_url(public_url_option, env_file, env_file_path)
    if not real:
        if bucket:
            settings.check_bucket(bucket, bucket_source)
        return s3.Target(bucket=bucket or DRY_RUN_BUCKET, prefix=s3.normalise_prefix(prefix),
                         endpoint=os.environ.get(s3server.ENDPOINT_ENV), dry_run=True, public_url=public_url)
    if not bucket:
        raise UsageError(f"{command} needs a bucket: set S3_BUCKET (environment or --env-file) or pass --s3-bucket")
    # Half a key pair or a missing profile fails here, not at upload after a long build.
    target = credentials.deploy_target(bucket, prefix, bucket_source, env_file, env_file_path, command=command)
    return dataclasses.replace(target, public_url=public_url)
