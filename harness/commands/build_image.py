"""`python -m harness build-image STACK [--arch A]`: the id of the stack's build image, building it
first when its inputs changed (used by `make buildenv`)."""

import sys

from .. import emulation, engine, images, layout, redact
from ..errors import PairError, UsageError
from ..selection import parse_names
from ..stacks import load_stacks


def main(args) -> int:
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
