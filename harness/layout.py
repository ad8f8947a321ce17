"""Where things are: the one module that knows the checkout's layout, and where the cache lies.

    builds/runtimes/*.toml    the formulas            builds/patches/   patches a formula names
    builds/build-python.sh    the build script        builds/cross/     config.site of cross builds
    builds/dockerenv.default  the env-file template   stacks/           one folder per stack
    stacks/runners.toml       the CI runner of each architecture
    harness/                  the pipeline's code     harness/commands/ what `python -m harness` offers

Checkout(root) is that layout under any root (a copy of the project the tests edit, or Path() for
the paths relative to a checkout, as git names them); CHECKOUT is this one, and the names below
are its paths.
"""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Checkout:
    root: Path

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def runtimes(self) -> Path:
        return self.builds / "runtimes"

    @property
    def patches(self) -> Path:
        return self.builds / "patches"

    @property
    def cross(self) -> Path:
        """configure's answers for cross builds, one file per target triple (the script's CONFIG_SITE)."""
        return self.builds / "cross"

    @property
    def build_script(self) -> Path:
        return self.builds / "build-python.sh"

    @property
    def variants(self) -> Path:
        return self.builds / "variants.toml"

    @property
    def dockerenv(self) -> Path:
        return self.builds / "dockerenv.default"

    @property
    def stacks(self) -> Path:
        return self.root / "stacks"

    @property
    def runners(self) -> Path:
        return self.stacks / "runners.toml"

    @property
    def harness(self) -> Path:
        return self.root / "harness"

    @property
    def commands(self) -> Path:
        return self.harness / "commands"

    @property
    def out(self) -> Path:
        return self.root / "out"


ROOT = Path(__file__).resolve().parent.parent
CHECKOUT = Checkout(ROOT)
RELATIVE = Checkout(Path())  # the same paths relative to a checkout's root

BUILDS = CHECKOUT.builds
RUNTIMES = CHECKOUT.runtimes
PATCHES = CHECKOUT.patches
CROSS = CHECKOUT.cross
BUILD_SCRIPT = CHECKOUT.build_script
DOCKERENV = CHECKOUT.dockerenv
VARIANTS = CHECKOUT.variants
STACKS = CHECKOUT.stacks
RUNNERS = CHECKOUT.runners


def cache_dir() -> Path:
    """Verified sources, the private apt index, wheels and locks: $PYRUNTIMES_CACHE, else ~/.cache/pyruntimes."""
    return Path(os.environ.get("PYRUNTIMES_CACHE", Path.home() / ".cache" / "pyruntimes"))
