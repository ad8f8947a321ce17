"""Which runtime x stack x architecture pairs a run takes: the one selection that the pytest harness
(conftest.py) and `python -m harness matrix` (the CI matrix) both make, so a workflow never repeats
its rules.

The rules: --runtimes / --stacks name formulas and stacks (all when not given); --variants the
builds of each (builds/variants.toml; "default", the formula's own, when not given), a variant only
of the runtimes it applies to (freethreaded: 3.13 on); every named runtime (and variant)
pairs with every named stack, in that order, each pair once per architecture its stack declares
(stack.toml: architectures) that --arch names (all when not given); --changed-since keeps the pairs
whose inputs changed (harness/changes.py, harness/inputs.py: the cross answers are inputs of the
pairs of another architecture than amd64 only); a pair whose formula lists
other stacks is unsupported (pytest reports it as skipped, the CI matrix leaves it out). A runtime
or stack past its end of life is still selected.
"""

import re
from pathlib import Path

from . import changes
from .errors import DataFileError, UsageError
from .formulas import load_formulas
from .layout import Checkout
from .stacks import ARCHITECTURES, load_stacks
from .variants import DEFAULT, load_variants

# release: PGO + LTO, what gets deployed; quick: neither, for validation.
PROFILES = ("release", "quick")


def select(root: Path, runtimes=None, stacks=None, changed_since: str | None = None, arches=None,
           variants=None) -> list[tuple]:
    """(formula, stack, arch) triples, runtime-major, then variant, then stack, then the stack's
    architectures in its order, from the option values (None: all, but for variants: the default
    build only); UsageError (or DataFileError, for a formula, stack or variants file that does not
    validate) before any work. A variant's pair is a formula of that variant (harness/variants.py)."""
    formulas = load_formulas(Checkout(root).runtimes)
    all_stacks = load_stacks(Checkout(root).stacks)
    all_variants = load_variants(Checkout(root).variants)
    check_formula_stacks(formulas, all_stacks)
    runtime_names = parse_names(runtimes, list(formulas), "runtime", "--runtimes")
    stack_names = parse_names(stacks, list(all_stacks), "stack", "--stacks")
    arch_names = parse_names(arches, sorted(ARCHITECTURES), "architecture", "--arch")
    variant_names = parse_names(variants, [DEFAULT, *all_variants], "variant", "--variants") if variants else [DEFAULT]
    chosen = [formulas[r] if v == DEFAULT else all_variants[v].of(formulas[r]) for r in runtime_names
              for v in variant_names if v == DEFAULT or all_variants[v].applies_to(formulas[r])]
    for name in variant_names:
        if name != DEFAULT and not any(formula.variant == name for formula in chosen):
            variant = all_variants[name]
            raise UsageError(f"--variants: no runtime selected has the {name} variant (from "
                             f"{'.'.join(map(str, variant.since))} on): name one with --runtimes")
    pairs = [(formula, all_stacks[s], arch) for formula in chosen for s in stack_names
             for arch in all_stacks[s].architectures if arch in arch_names
             and (not formula.variant or all_variants[formula.variant].applies_to(formula, all_stacks[s], arch))]
    if changed_since is not None:  # given empty, it is refused (harness/changes.py), not ignored
        pairs = changes.select_pairs(pairs, changes.changed_files(root, changed_since))
    return pairs


def refuse_candidates(pairs: list):
    """A candidate variant (builds/variants.toml `candidate = true`) is built and measured, never
    deployed: UsageError naming it."""
    for formula, _stack, _arch in pairs:
        if formula.candidate:
            raise UsageError(f"--variants {formula.variant} is a candidate, built to be measured and not deployed "
                             "(builds/variants.toml; bench/RESULTS.md says why): leave it out of --deploy runs")


def check_formula_stacks(formulas: dict, stacks: dict):
    """A formula's `stacks` naming no stack folder would leave the runtime out of those it meant
    unseen (a typo, a stack renamed or removed): refused when the two are loaded together."""
    for formula in formulas.values():
        for name in formula.stacks:
            if name not in stacks:
                raise DataFileError(formula.path, "stacks", f"{name!r} is not a stack (a folder of stacks/): "
                                                            f"name one of {', '.join(stacks)}")


def runtime_named(root: Path, name: str) -> tuple[str, str] | None:
    """(formula, variant) of a runtime's published name: python-3.13.15 is (python-3.13.15,
    default), python-3.13.15-freethreaded (python-3.13.15, freethreaded); None when no formula and
    variant of this checkout give that name."""
    formulas = load_formulas(Checkout(root).runtimes)
    if name in formulas:
        return name, DEFAULT
    for variant in load_variants(Checkout(root).variants).values():
        base = name.removesuffix(f"-{variant.name}")
        if base != name and base in formulas and variant.applies_to(formulas[base]):
            return base, variant.name
    return None


def pair_id(formula, stack, arch: str) -> str:
    """A pair's name in test ids, logs, out-folder file names and the summary. amd64 pairs keep the
    names they had before architectures were part of a pair (python-3.13.15-debian-12); other
    architectures are named (python-3.13.15-heroku-24-arm64)."""
    base = f"{formula.name}-{stack.name}"
    return base if arch == "amd64" else f"{base}-{arch}"


def unsupported(formula, stack) -> str | None:
    """Why the pair is not built (its formula names the stacks it supports, and not this one), or None."""
    if formula.stacks and stack.name not in formula.stacks:
        return f"{formula.name} does not support {stack.name} (its formula lists {', '.join(formula.stacks)})"
    return None


def parse_names(values, valid, kind, option):
    """Names from repeated, comma- or space-separated option values; all when none given.

    Unknown or repeated names and an explicitly empty value are usage errors that list the valid
    names.
    """
    if values is None:
        return list(valid)
    names = [name for value in values for name in re.split(r"[\s,]+", value) if name]
    listing = ", ".join(valid)
    if not names:
        raise UsageError(f"{option} is empty: name at least one {kind} ({listing})")
    seen = set()
    for name in names:
        if name not in valid:
            raise UsageError(f"{option}: unknown {kind} {name!r}; valid: {listing}")
        if name in seen:
            raise UsageError(f"{option}: {kind} {name!r} is named twice")
        seen.add(name)
    return names
