"""Small commands beside the pytest harness:

    python -m harness build-image STACK     the id of the stack's build image, building it first when
                                            its inputs changed (used by `make buildenv`;
                                            harness/commands/build_image.py)
    python -m harness check-published [--s3-bucket B] [--s3-prefix P] [--env-file F]
                                            proves what the bucket's manifest lists (harness/commands/published.py);
                                            exit status 1 with one line per problem
    python -m harness matrix [--runtimes NAMES] [--variants NAMES] [--stacks NAMES] [--arch NAMES] [--profile P]
                             [--changed-since REF]
                                            the pairs pytest would build, one per architecture, as a
                                            GitHub Actions matrix (harness/commands/matrix.py); exit status 5
                                            when the options select nothing
    python -m harness rebuild RUNTIME STACK [--arch A] [--out-dir DIR] [--s3-bucket B] [--s3-prefix P]
                              [--env-file F]
                                            rebuilds what the bucket publishes for the pair, from its
                                            record and profile, and compares bytes (harness/commands/rebuild.py);
                                            exit status 1 with the files that differ
    python -m harness prune                 removes the stack images a refresh or a changed stack
                                            superseded, for every stack (used by `make prune`;
                                            harness/commands/prune.py)
    python -m harness attest-subjects DIR [--s3-bucket B] [--s3-prefix P] [--env-file F]
                                            the archives whose records lie under DIR and that the
                                            manifest lists with their sha256, in sha256sum format
                                            (harness/commands/subjects.py)

Bad input: one line on stderr starting with "error:", exit status 2, as pytest's harness does.
"""

import argparse
import sys

from . import emulation
from .commands import build_image, matrix, on_bucket, prune, published, rebuild, subjects

COMMANDS = {"build-image": build_image.main, "check-published": published.main, "matrix": matrix.main,
            "attest-subjects": subjects.main, "rebuild": rebuild.main, "prune": prune.main}


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
    on_bucket.add_options(check)
    pairs = sub.add_parser("matrix", help="print the selected pairs as a GitHub Actions matrix (JSON)")
    # The same options, spelt as pytest's (conftest.py): repeated, space- or comma-separated.
    pairs.add_argument("--runtimes", action="append", help="runtimes (default: every formula)")
    pairs.add_argument("--stacks", action="append", help="stacks (default: every stack)")
    pairs.add_argument("--variants", action="append", help="builds of each runtime: default, freethreaded "
                                                           "(builds/variants.toml; default: default)")
    pairs.add_argument("--arch", action="append", help="architectures (default: each that a stack declares)")
    pairs.add_argument("--profile", default="release", help="release (default) or quick, copied into every entry")
    pairs.add_argument("--changed-since", help="only the pairs whose inputs changed since the git ref")
    attest = sub.add_parser("attest-subjects", help="the archives this run's records name that the bucket serves")
    attest.add_argument("records", help="a folder holding the records (.json beside each archive) of this run")
    on_bucket.add_options(attest)
    again = sub.add_parser("rebuild", help="rebuild a published runtime and compare its bytes with the bucket's")
    again.add_argument("runtime")
    again.add_argument("stack")
    again.add_argument("--arch", default="amd64", help="the pair's architecture (default: amd64)")
    again.add_argument("--out-dir", help="where the rebuild goes (default: a fresh temporary folder); an out folder "
                                         "that already holds a build of the same inputs is reused")
    on_bucket.add_options(again)
    sub.add_parser("prune", help="remove the stack images a refresh or a changed stack superseded, every stack's")
    args = parser.parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
