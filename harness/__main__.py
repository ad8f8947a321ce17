"""Small commands beside the pytest harness:

    python -m harness build-image STACK     the id of the stack's build image, building it first when
                                            its inputs changed (used by `make buildenv`)
    python -m harness check-published [--s3-bucket B] [--s3-prefix P] [--env-file F]
                                            proves what the bucket's manifest lists (harness/published.py);
                                            exit status 1 with one line per problem
"""

import argparse
import sys
from pathlib import Path

from . import credentials, engine, images, manifest, published, s3, settings
from .errors import PairError, UsageError
from .selection import parse_names
from .stacks import load_stacks

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness")
    sub = parser.add_subparsers(dest="command", required=True)
    image = sub.add_parser("build-image", help="print the stack's build image id, bringing it up to date first")
    image.add_argument("stack")
    check = sub.add_parser("check-published", help="prove every archive the manifest lists, and list strays")
    check.add_argument("--s3-bucket", help="bucket (default: S3_BUCKET from --env-file, then the environment)")
    check.add_argument("--s3-prefix", help="prefix (default: S3_PREFIX from --env-file, then the environment)")
    check.add_argument("--env-file", help="S3_BUCKET, S3_PREFIX and AWS_* in Docker's env-file format")
    args = parser.parse_args(argv)
    if args.command == "check-published":
        return check_published(args)
    try:
        stacks = load_stacks(ROOT / "stacks")
        (name,) = parse_names([args.stack], list(stacks), "stack", "STACK")
        client = engine.connect()
        build, _ = images.ensure_stack_images(client, stacks[name], settings.cache_dir() / "locks",
                                              log=lambda message: print(message, file=sys.stderr))
    except (UsageError, PairError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(build.id)
    return 0


def check_published(args) -> int:
    try:
        env_file = settings.read_env_file(args.env_file) if args.env_file else {}
        bucket, prefix, bucket_source = settings.bucket_and_prefix(args.s3_bucket, args.s3_prefix, env_file,
                                                                   args.env_file)
        if not bucket:
            raise UsageError("check-published needs a bucket: set S3_BUCKET (environment or --env-file) or pass --s3-bucket")
        target = credentials.deploy_target(bucket, prefix, bucket_source, env_file, args.env_file,
                                           command="check-published")
        problems, checked = published.check(s3.client_for(target), target,
                                            say=lambda line: print(line, file=sys.stderr))
    except (UsageError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except manifest.Invalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except s3.ERRORS as exc:
        print(f"error: S3 failed: {s3.describe(exc)}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    where = f"s3://{target.bucket}/{target.prefix}"
    if problems:
        print(f"{len(problems)} problem(s) in {where} ({checked} archive(s) listed)", file=sys.stderr)
        return 1
    print(f"{where}: {checked} archive(s) listed, each present with its sha256, size, checksum file, record, "
          "SBOM and provenance; no archive unlisted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
