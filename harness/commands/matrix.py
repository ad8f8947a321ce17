"""`python -m harness matrix`: the pairs a run would build, as a GitHub Actions matrix.

    {"include": [{"runtime": "python-3.13.15", "variant": "default", "stack": "heroku-24", "arch": "amd64",
                  "runner": "ubuntu-24.04", "profile": "release", "source_sha256": "..."}, ...]}

A workflow takes it whole (`strategy: matrix: ${{ fromJSON(...) }}`) and runs each entry as
`pytest test_runtimes.py --runtimes RUNTIME --variants VARIANT --stacks STACK --arch ARCH --profile PROFILE`
(RUNTIME: the formula's name; VARIANT: builds/variants.toml's, or "default"). The pairs are
harness/selection.py's, the ones pytest collects; this module only adds one entry per architecture
the stack declares, the runner that builds it natively (stacks/runners.toml), and the source's
sha256 (the key of the verified-source cache). Pairs pytest would skip (a formula that lists other
stacks) are left out: a runner started only to skip is wasted.
"""

import json
import sys
from pathlib import Path

from ..datafile import Fields, read_toml
from .. import redact
from ..errors import DataFileError, UsageError
from ..layout import ROOT, Checkout
from ..selection import PROFILES, parse_names, select, unsupported
from ..stacks import ARCHITECTURES
from ..variants import DEFAULT

# GitHub refuses a matrix of more jobs than this (the whole workflow run fails to start).
GITHUB_MATRIX_LIMIT = 256


class NothingSelected(Exception):
    """The options are valid but select no pair (pytest's "no tests collected", exit status 5)."""


def load_runners(path: Path) -> dict[str, str]:
    """{arch: runner label}, one for every architecture a stack may declare."""
    fields = Fields(path, read_toml(path))
    fields.reject_unknown({"runners"})
    runners = fields.table_of("runners")
    runners.reject_unknown(ARCHITECTURES)
    labels = {arch: runners.get(arch, str) for arch in sorted(ARCHITECTURES)}
    for arch, label in labels.items():
        if not label.strip():
            raise DataFileError(path, f"runners.{arch}", "is empty: write the runner label, e.g. ubuntu-24.04")
        # The label goes into the matrix and a workflow's runs-on: one word, as GitHub's labels are.
        if not label.isprintable() or any(c.isspace() for c in label):
            raise DataFileError(path, f"runners.{arch}", f"{label!r} holds a space or a control character: write "
                                                         "one runner label, e.g. ubuntu-24.04")
    return labels


def build(root: Path, runtimes=None, stacks=None, arch=None, profile="release", changed_since=None,
          variants=None) -> dict:
    """The matrix for these option values (None: all), or UsageError / NothingSelected."""
    if profile not in PROFILES:
        raise UsageError(f"--profile: unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    arches = parse_names(arch, sorted(ARCHITECTURES), "architecture", "--arch")
    runners = load_runners(Checkout(root).runners)
    every_arch = select(root, runtimes, stacks, changed_since, variants=variants)
    if not every_arch:  # only --changed-since empties a selection of valid names
        raise NothingSelected(f"nothing selected: no formula, stack or build input changed since {changed_since}")
    built = [(formula, stack, a) for formula, stack, a in every_arch if not unsupported(formula, stack)]
    if not built:
        raise NothingSelected("nothing selected: " + "; ".join(sorted({unsupported(f, s) for f, s, _ in every_arch})))
    include = [{"runtime": formula.base_name, "variant": formula.variant or DEFAULT, "stack": stack.name, "arch": a,
                "runner": runners[a], "profile": profile, "source_sha256": formula.sha256}
               for formula, stack, a in built if a in arches]
    if not include:
        declared = ", ".join(f"{s.name}: {' '.join(s.architectures)}" for s in dict.fromkeys(s for _, s, _ in built))
        raise NothingSelected(f"nothing selected: no selected stack declares {' or '.join(arches)} ({declared})")
    if len(include) > GITHUB_MATRIX_LIMIT:
        raise UsageError(f"{len(include)} pairs selected, and a GitHub Actions matrix takes at most "
                         f"{GITHUB_MATRIX_LIMIT}: narrow --runtimes, --stacks or --arch")
    return {"include": include}


def dumps(matrix: dict) -> str:
    """One line: what $GITHUB_OUTPUT takes as `matrix=...`."""
    return json.dumps(matrix, separators=(",", ":"))


def main(args) -> int:
    try:
        document = build(ROOT, args.runtimes, args.stacks, args.arch, args.profile, args.changed_since, args.variants)
    except UsageError as exc:  # DataFileError too: a formula, stack or runners file that does not validate
        print(f"error: {redact.redact(exc)}", file=sys.stderr)
        return 2
    except NothingSelected as exc:
        print(exc, file=sys.stderr)
        return 5
    print(dumps(document))
    return 0
