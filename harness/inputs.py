"""A pair's inputs: the one definition of which checkout files can change a pair's archive or its
verification, read by the archive's cache key (harness/cache_policy.py, which hashes the files that
shape the archive's bytes) and by --changed-since (harness/changes.py, which selects a pair when a
changed file is among its inputs).

    the formula file          builds/runtimes/RUNTIME.toml
    the variants file         builds/variants.toml, for a variant's pair (python-3.13.15-freethreaded)
    its patches               builds/patches/NAME, each one the formula names
    the build script          builds/build-python.sh
    the cross answers         builds/cross/*.config.site, for a cross-built pair (configure's answers
                              for the target: CONFIG_SITE)
    the stack's folder        stacks/STACK/ (the key hashes what it yields, the build image's packages,
                              not the files: a refresh that changes no package keeps every archive)
    the pipeline's code       harness/ but harness/commands/ and harness/__main__.py (which no case
                              runs), conftest.py, test_runtimes.py, requirements.txt, pytest.ini: an
                              input of every pair (the key stands for it with ARCHIVE_FORMAT, bumped
                              when packaging changes; the verification key hashes harness/checks/)

Whether a pair is cross-built depends on the machine that builds it (harness/build.py, method()): the
key knows (method is CROSS); --changed-since cannot, and takes the cross answers as inputs of every
pair whose architecture is not amd64. That is what the pull-request check (validate-runtimes.yml, an
amd64 runner) and an amd64 workstation cross-build (where the stack can; else they emulate, and the
pair is selected needlessly, never missed). The release builds every pair on a runner of its own
architecture, where no pair is cross-built and the answers are no input at all.
"""

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .layout import RELATIVE, Checkout

CROSS_ANSWERS = "*.config.site"  # the files of builds/cross/ the build script reads
# Every pair's input (folders end in "/")...
PIPELINE = (f"{RELATIVE.harness.as_posix()}/", "conftest.py", "test_runtimes.py", "requirements.txt", "pytest.ini")
# ...except these, inside it: what `python -m harness` offers beside pytest, which no case runs.
NOT_PIPELINE = (f"{RELATIVE.commands.as_posix()}/", (RELATIVE.harness / "__main__.py").as_posix())
# The architecture of the machine --changed-since assumes builds the pairs (see above).
CHECK_MACHINE_ARCH = "amd64"


@dataclass(frozen=True)
class ArchiveFiles:
    """The checkout files whose bytes shape a pair's archive: the key hashes each of them."""
    formula: Path
    patches: tuple  # in the order they are applied
    build_script: Path
    cross_answers: tuple  # empty unless the pair is cross-built
    variants: Path | None = None  # a variant's pair: the file that declares it


def archive_files(checkout: Checkout, formula, cross: bool) -> ArchiveFiles:
    """The files of `checkout` that shape the formula's archive, cross-built or not."""
    return ArchiveFiles(formula=checkout.runtimes / f"{formula.base_name}.toml",
                        patches=tuple(checkout.patches / patch.name for patch in formula.patches),
                        build_script=checkout.build_script,
                        cross_answers=tuple(sorted(checkout.cross.glob(CROSS_ANSWERS))) if cross else (),
                        variants=checkout.variants if formula.variant else None)


def is_input(relative: str, formula, stack, arch: str) -> bool:
    """Whether a file (its path relative to the checkout, as git names it; one that is gone counts
    too) is an input of the pair (formula, stack, arch), as --changed-since assumes it is built."""
    files = archive_files(RELATIVE, formula, cross=False)
    path = PurePosixPath(relative)
    return (path in (PurePosixPath(files.formula), PurePosixPath(files.build_script))
            or (files.variants is not None and path == PurePosixPath(files.variants))
            or path in {PurePosixPath(patch) for patch in files.patches}
            or (arch != CHECK_MACHINE_ARCH and path.parent == PurePosixPath(RELATIVE.cross)
                and path.match(CROSS_ANSWERS))
            or _under(relative, (f"{(RELATIVE.stacks / stack.name).as_posix()}/",))
            or is_pipeline(relative))


def is_pipeline(relative: str) -> bool:
    """The harness's own code that shapes every archive or its verification."""
    return _under(relative, PIPELINE) and not _under(relative, NOT_PIPELINE)


def _under(file: str, paths) -> bool:
    """The file is one of the paths, or lies in one of those that are folders (ending in "/")."""
    return any(file == path or (path.endswith("/") and file.startswith(path)) for path in paths)
