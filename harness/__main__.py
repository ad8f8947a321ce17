"""Small commands beside the pytest harness:

    python -m harness build-image STACK     the id of the stack's build image, building it first when
                                            its inputs changed (used by `make buildenv`)
    python -m harness check-published [--s3-bucket B] [--s3-prefix P] [--env-file F]
                                            proves what the bucket's manifest lists (harness/published.py);
                                            exit status 1 with one line per problem
    python -m harness matrix [--runtimes NAMES] [--stacks NAMES] [--arch NAMES] [--profile P]
                             [--changed-since REF]
                                            the pairs pytest would build, one per architecture, as a
                                            GitHub Actions matrix (harness/matrix.py); exit status 5
                                            when the options select nothing
    python -m harness rebuild RUNTIME STACK [--arch A] [--out-dir DIR] [--s3-bucket B] [--s3-prefix P]
                              [--env-file F]
                                            rebuilds what the bucket publishes for the pair, from its
                                            record and profile, and compares bytes (harness/rebuild.py);
                                            exit status 1 with the files that differ
    python -m harness attest-subjects DIR [--s3-bucket B] [--s3-prefix P] [--env-file F]
                                            the archives whose records lie under DIR and that the
                                            manifest lists with their sha256, in sha256sum format
                                            (harness/subjects.py)

Bad input: one line on stderr starting with "error:", exit status 2, as pytest's harness does.
"""

import argparse
import sys
from pathlib import Path

from . import credentials, emulation, engine, images, layout, manifest, matrix, published, rebuild, redact, s3, settings, subjects
from .errors import PairError, UsageError
from .selection import parse_names
from .stacks import load_stacks



class OneLineParser(argparse.ArgumentParser):
    """A malformed command line is bad input like any other: one line, not argparse's usage block."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def main(argv=None):
    parser = OneLineParser(prog="python -m harness")
    sub = parser.add_subparsers(dest="command", required=True)
    image = sub.add_parser("build-image", help="print the stack's build image id, bringing it up to date first")
    image.add_argument("stack")
    image.add_argument("--arch", default=emulation.host_arch(),
                       help=f"the image's architecture (default: this machine's, {emulation.host_arch()})")
    check = sub.add_parser("check-published", help="prove every archive the manifest lists, and list strays")
    check.add_argument("--s3-bucket", help="bucket (default: S3_BUCKET from --env-file, then the environment)")
    check.add_argument("--s3-prefix", help="prefix (default: S3_PREFIX from --env-file, then the environment)")
    check.add_argument("--env-file", help="S3_BUCKET, S3_PREFIX and AWS_* in Docker's env-file format")
    pairs = sub.add_parser("matrix", help="print the selected pairs as a GitHub Actions matrix (JSON)")
    # The same options, spelt as pytest's (conftest.py): repeated, space- or comma-separated.
    pairs.add_argument("--runtimes", action="append", help="runtimes (default: every formula)")
    pairs.add_argument("--stacks", action="append", help="stacks (default: every stack)")
    pairs.add_argument("--arch", action="append", help="architectures (default: each that a stack declares)")
    pairs.add_argument("--profile", default="release", help="release (default) or quick, copied into every entry")
    pairs.add_argument("--changed-since", help="only the pairs whose inputs changed since the git ref")
    attest = sub.add_parser("attest-subjects", help="the archives this run's records name that the bucket serves")
    attest.add_argument("records", help="a folder holding the records (.json beside each archive) of this run")
    attest.add_argument("--s3-bucket", help="bucket (default: S3_BUCKET from --env-file, then the environment)")
    attest.add_argument("--s3-prefix", help="prefix (default: S3_PREFIX from --env-file, then the environment)")
    attest.add_argument("--env-file", help="S3_BUCKET, S3_PREFIX and AWS_* in Docker's env-file format")
    again = sub.add_parser("rebuild", help="rebuild a published runtime and compare its bytes with the bucket's")
    again.add_argument("runtime")
    again.add_argument("stack")
    again.add_argument("--arch", default="amd64", help="the pair's architecture (default: amd64)")
    again.add_argument("--out-dir", help="where the rebuild goes (default: a fresh temporary folder); an out folder "
                                         "that already holds a build of the same inputs is reused")
    again.add_argument("--s3-bucket", help="bucket (default: S3_BUCKET from --env-file, then the environment)")
    again.add_argument("--s3-prefix", help="prefix (default: S3_PREFIX from --env-file, then the environment)")
    again.add_argument("--env-file", help="S3_BUCKET, S3_PREFIX and AWS_* in Docker's env-file format")
    args = parser.parse_args(argv)
    if args.command == "rebuild":
        return rebuild_published(args)
    if args.command == "check-published":
        return check_published(args)
    if args.command == "matrix":
        return print_matrix(args)
    if args.command == "attest-subjects":
        return attest_subjects(args)
    try:
        stacks = load_stacks(layout.STACKS)
        (name,) = parse_names([args.stack], list(stacks), "stack", "STACK")
        (arch,) = parse_names([args.arch], list(stacks[name].architectures), f"architecture of {name}", "--arch")
        emulation.ensure(arch, say=lambda message: print(message, file=sys.stderr))
        client = engine.connect()
        build, _ = images.ensure_stack_images(client, stacks[name], layout.cache_dir() / "locks",
                                              log=lambda message: print(message, file=sys.stderr), arch=arch)
    except (UsageError, PairError, ValueError) as exc:
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 2
    print(build.id)
    return 0


def print_matrix(args) -> int:
    try:
        document = matrix.build(layout.ROOT, args.runtimes, args.stacks, args.arch, args.profile, args.changed_since)
    except UsageError as exc:  # DataFileError too: a formula, stack or runners file that does not validate
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 2
    except matrix.NothingSelected as exc:
        print(exc, file=sys.stderr)
        return 5
    print(matrix.dumps(document))
    return 0


def attest_subjects(args) -> int:
    records = Path(args.records)
    if not records.is_dir():
        print(f"error: attest-subjects {args.records}: no such folder (give the folder the run's records were "
              "downloaded to)", file=sys.stderr)
        return 2
    outcome = _against_bucket(args, "attest-subjects",
                              lambda client, target: (target, manifest.load(client, target).usable()))
    if isinstance(outcome, int):
        return outcome
    target, listing = outcome
    found = subjects.subjects(listing, subjects.records_under(records))
    sys.stdout.write(subjects.checksum_lines(found))
    print(f"{len(found)} archive(s) built by this run and listed in s3://{target.bucket}/{target.prefix} "
          "with the same sha256", file=sys.stderr)
    return 0


def _bucket_target(args, command: str) -> s3.Target:
    """The real bucket to read, from --s3-bucket/--s3-prefix, --env-file and the environment."""
    env_file = settings.read_env_file(args.env_file) if args.env_file else {}
    bucket, prefix, bucket_source = settings.bucket_and_prefix(args.s3_bucket, args.s3_prefix, env_file, args.env_file)
    if not bucket:
        raise UsageError(f"{command} needs a bucket: set S3_BUCKET (environment or --env-file) or pass --s3-bucket")
    return credentials.deploy_target(bucket, prefix, bucket_source, env_file, args.env_file, command=command)


def _against_bucket(args, command: str, work):
    """work(client, target) on the bucket the options name, its outcome; or the exit status of a
    failure, after one line: bad input 2, an unreadable manifest or S3 failing 1."""
    try:
        target = _bucket_target(args, command)
        return work(s3.client_for(target), target)
    except (UsageError, ValueError) as exc:
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 2
    except manifest.Invalid as exc:
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 1
    except s3.ERRORS as exc:
        print(f"error: S3 failed: {s3.describe(exc)}", file=sys.stderr)
        return 1


def _say(line):
    print(redact.redact(line), file=sys.stderr)


def rebuild_published(args) -> int:
    return _against_bucket(args, "rebuild", lambda client, target: rebuild.run(
        client, target, args.runtime, args.stack, args.arch, args.out_dir, say=_say))


def check_published(args) -> int:
    outcome = _against_bucket(args, "check-published", lambda client, target: (
        target, *published.check(client, target, say=_say)))
    if isinstance(outcome, int):
        return outcome
    target, problems, checked = outcome
    for problem in problems:
        print(redact.redact(problem))
    where = f"s3://{target.bucket}/{target.prefix}"
    if problems:
        print(f"{len(problems)} problem(s) in {where} ({checked} archive(s) listed)", file=sys.stderr)
        return 1
    print(f"{where}: {checked} archive(s) listed, each present with its sha256, size, checksum file, record, "
          "SBOM and provenance; no archive unlisted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
