"""Small commands for the Makefile: `python -m harness build-image STACK` prints the id of the
stack's build image, building it first when its inputs changed (used by `make buildenv`)."""

import argparse
import sys
from pathlib import Path

from . import engine, images, settings
from .errors import PairError, UsageError
from .selection import parse_names
from .stacks import load_stacks

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness")
    sub = parser.add_subparsers(dest="command", required=True)
    image = sub.add_parser("build-image", help="print the stack's build image id, bringing it up to date first")
    image.add_argument("stack")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
