"""--changed-since REF: the pairs whose inputs changed since a git ref (for pull-request checks).

A changed formula selects its runtime's pairs; a changed stack folder, that stack's pairs; a
change to anything that shapes every build (the build script, the pipeline's code in harness/,
checks/ and bucket/ included, the pinned dependencies) selects all pairs. Documentation, the
project's own tests, CI files and the commands beside pytest (harness/commands/, harness/__main__.py:
no case runs them) select none.
"""

import subprocess
from pathlib import Path

from .errors import UsageError
from .layout import RELATIVE

# Paths (or folders, ending in "/") whose change can alter every archive or its verification...
AFFECTS_ALL = (RELATIVE.build_script.as_posix(), f"{RELATIVE.harness.as_posix()}/", "conftest.py", "test_runtimes.py",
               "requirements.txt", "pytest.ini")
# ...except these, inside them: what `python -m harness` offers beside pytest, which no case runs.
AFFECTS_NONE = (f"{RELATIVE.commands.as_posix()}/", (RELATIVE.harness / "__main__.py").as_posix())


def changed_files(root: Path, ref: str) -> list[str]:
    """Files that differ between REF and the working tree (committed or not)."""
    check_ref(ref)
    # --end-of-options: whatever REF holds, git takes it as a revision, never as an option.
    merge_base = subprocess.run(["git", "merge-base", "--end-of-options", ref, "HEAD"], cwd=root,
                                capture_output=True, text=True)
    if merge_base.returncode != 0:
        raise UsageError(f"--changed-since {ref}: not a git ref this checkout knows "
                         f"({merge_base.stderr.strip().splitlines()[-1] if merge_base.stderr.strip() else 'no merge base'})"
                         "; fetch it first, e.g. git fetch origin main, and pass origin/main")
    diff = subprocess.run(["git", "diff", "--name-only", "--end-of-options", merge_base.stdout.strip(), "--"], cwd=root,
                          capture_output=True, text=True, check=True)
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=root,
                               capture_output=True, text=True, check=True)
    return sorted(set(diff.stdout.split()) | set(untracked.stdout.split()))


def check_ref(ref: str):
    """UsageError for a value no git ref can be, before git sees it: empty (which would select every
    pair, as if the option were not given), an option (-p, --output=FILE), or spaces and control
    characters (refs have none: git check-ref-format)."""
    if not ref:
        raise UsageError("--changed-since is empty: name a git ref, e.g. origin/main, or leave the option out")
    if ref.startswith("-"):
        raise UsageError(f"--changed-since {ref!r} starts with '-', so git would take it as an option: "
                         "name a git ref, e.g. origin/main")
    if not ref.isprintable() or " " in ref:
        raise UsageError(f"--changed-since {ref!r} holds a space or a control character, which no git ref has: "
                         "name a git ref, e.g. origin/main")


def select_pairs(pairs, files):
    """The pairs the changed files affect."""
    if any(_under(f, AFFECTS_ALL) and not _under(f, AFFECTS_NONE) for f in files):
        return list(pairs)
    runtimes = {Path(f).stem for f in files if f.startswith(f"{RELATIVE.runtimes.as_posix()}/") and f.endswith(".toml")}
    stacks = {f.split("/")[1] for f in files if f.startswith(f"{RELATIVE.stacks.as_posix()}/") and f.count("/") >= 2}
    return [(formula, stack) for formula, stack in pairs if formula.name in runtimes or stack.name in stacks]


def _under(file: str, paths) -> bool:
    """The file is one of the paths, or lies in one of those that are folders (ending in "/")."""
    return any(file == path or (path.endswith("/") and file.startswith(path)) for path in paths)
