"""--changed-since REF: the pairs whose inputs changed since a git ref (for pull-request checks).

A pair is selected when a changed file is among its inputs (harness/inputs.py, the definition the
archive's cache key hashes too): its formula, the formula's patches, its stack's folder, the build
script, the cross answers (a pair of another architecture than amd64), or the pipeline's code
(harness/ but the commands beside pytest, conftest.py, test_runtimes.py, requirements.txt,
pytest.ini), which selects every pair. Documentation, the project's own tests, CI files and the
commands beside pytest (harness/commands/, harness/__main__.py: no case runs them) select none.
"""

import subprocess
from pathlib import Path

from . import inputs
from .errors import UsageError


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
    """The (formula, stack, arch) pairs that have one of the changed files among their inputs."""
    return [(formula, stack, arch) for formula, stack, arch in pairs
            if any(inputs.is_input(file, formula, stack, arch) for file in files)]
