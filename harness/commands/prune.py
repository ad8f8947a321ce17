"""`python -m harness prune` (`make prune`): remove the stack images a refresh or a changed stack superseded, for every stack.

A run already removes those of the stacks it uses, when it takes their images
(images.remove_superseded); this does the same for every stack of stacks/ at once, under each
stack's image lock, by the same rules: only the harness's own images, of the same stack, role and
architecture as an image the stack's tags point at now, never one a container uses, never one a
run took within images.USE_GRACE. A stack whose current images are not there is left alone:
nothing says which of its images are the current ones.
"""

import sys
from pathlib import Path

from filelock import FileLock

from .. import emulation, engine, images, layout
from ..errors import DataFileError, UsageError
from ..stacks import load_stacks


def prune(client, stacks, cache_dir: Path, log=print, grace=images.USE_GRACE) -> list:
    """Remove every stack's superseded images; return what was removed (tags, or ids)."""
    machine = emulation.host_arch()
    removed = []
    lock_dir = cache_dir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    for stack in stacks.values():
        with FileLock(str(lock_dir / f"images-{stack.name}.lock")):
            for arch in stack.architectures:
                for role in images.ROLES:
                    current = images._current_layered(client, stack, role, arch)
                    if current is not None:
                        removed += images.remove_superseded(client, stack, role, arch, current, cache_dir, log, grace)
            machine_build = images._current_layered(client, stack, "build", machine)
            for arch in stack.architectures if stack.cross_compiles and machine_build is not None else ():
                if arch == machine:
                    continue
                tag = images._cross_inputs_and_tag(stack, images.StackImage(machine_build, {}, machine), arch)[1]
                current = images._get(client, tag)
                if current is not None:
                    removed += images.remove_superseded(client, stack, "cross", machine, current, cache_dir, log, grace)
    return removed


def main(args=None) -> int:
    """Every stack's superseded images removed, one line saying how many; exit status 2, one line,
    when no engine answers or a stack file does not validate."""
    try:
        client = engine.connect()
        removed = prune(client, load_stacks(layout.STACKS), layout.cache_dir())
    except (UsageError, DataFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"prune: {len(removed)} superseded image(s) removed")
    return 0
