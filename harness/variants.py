"""Variants of a runtime (builds/variants.toml): the same formula built with more configure
arguments or target options for CPython's own code (cflags), its own ABI and name; a candidate is
built and verified to be measured, never published (harness/case.py keep_unpublished). A variant
of a formula is a formula (Formula.variant names it): one value that travels through the pipeline
as the default build's does, so its pair id, cache key, archive, S3 key, manifest entry and uv
catalog entry all carry it by its name, python-3.13.15-freethreaded, while the default build keeps
every name it had."""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from .datafile import Fields, read_toml
from .errors import DataFileError
from .stacks import ARCHITECTURES

DEFAULT = "default"  # the build a formula describes, without a variant
NAME_RE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")  # freethreaded, x86-64-v3
UV_NAME_RE = re.compile(r"[a-z][a-z0-9]*")
# Code-generation options a variant may add for CPython's own code: target and tuning (-march=,
# -mtune=), nothing that changes what the code means or what users' extensions are built with.
# Never "native": that is the building machine's CPU, which no cache key or rebuild captures.
CFLAG_RE = re.compile(r"-m(arch|tune)=(?!native$)[a-z0-9][a-z0-9.-]*")
MINOR_RE = re.compile(r"3\.(0|[1-9][0-9]*)")
ABI_SUFFIX_RE = re.compile(r"[a-z]?")


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    configure_args: tuple
    abi_suffix: str  # appended to the X.Y of the ABI: python3.13t
    since: tuple  # (3, 13): the first minor it applies to
    uv_variant: str | None  # what uv calls it (cpython-3.13.15+freethreaded-...)
    stacks: tuple = ()  # the stacks it is built for; empty: all
    cflags: tuple = ()  # compiler options for CPython's own code (CFLAGS_NODIST): -march=x86-64-v3
    architectures: tuple = ()  # the architectures it is built for; empty: all
    # A candidate is built and measured (bench/), never deployed: a variant worth shipping only if
    # a benchmark shows it (x86-64-v3: issue 27, bench/RESULTS.md "speed").
    candidate: bool = False

    def applies_to(self, formula, stack=None, arch=None) -> bool:
        minor = tuple(int(part) for part in formula.minor.split("."))
        return (minor >= self.since and (stack is None or not self.stacks or stack.name in self.stacks)
                and (arch is None or not self.architectures or arch in self.architectures))

    def of(self, formula):
        """The formula of this variant of formula."""
        return dataclasses.replace(formula, name=f"{formula.name}-{self.name}", variant=self.name,
                                   configure_args=tuple(formula.configure_args) + self.configure_args,
                                   abi_suffix=self.abi_suffix, uv_variant=self.uv_variant,
                                   cflags=tuple(formula.cflags) + self.cflags, candidate=self.candidate)


def load_variants(path: Path) -> dict[str, Variant]:
    found = {}
    for name, table in read_toml(path).items():
        if not NAME_RE.fullmatch(name) or name == DEFAULT:
            raise DataFileError(path, name, f"is not a variant's name: lowercase letters and digits, not {DEFAULT!r}")
        if not isinstance(table, dict):
            raise DataFileError(path, name, "should be a table ([NAME] and its fields)")
        fields = Fields(path, table, prefix=f"{name}.")
        fields.reject_unknown({"description", "configure_args", "abi_suffix", "since", "uv_variant", "stacks", "cflags",
                               "architectures", "candidate"})
        since = fields.get("since", str)
        if not MINOR_RE.fullmatch(since):
            raise fields.error("since", f"must be a minor version such as \"3.13\", not {since!r}")
        abi_suffix = fields.get("abi_suffix", str, required=False, default="")
        if not ABI_SUFFIX_RE.fullmatch(abi_suffix):
            raise fields.error("abi_suffix", f"must be one lowercase letter (CPython's ABI flag, \"t\") or empty, "
                                             f"not {abi_suffix!r}")
        configure_args = fields.strings("configure_args", required=False)
        if not all(arg.startswith("--") and arg.isprintable() for arg in configure_args):
            raise fields.error("configure_args", "must be ./configure options, each one string starting with --")
        candidate = fields.get("candidate", bool, required=False, default=False)
        # Only what is published needs uv's name; a candidate is never in a catalog.
        uv_variant = fields.get("uv_variant", str, required=not candidate, default=None)
        if uv_variant is not None and not UV_NAME_RE.fullmatch(uv_variant):
            raise fields.error("uv_variant", f"must be uv's name of the variant (\"freethreaded\"), not {uv_variant!r}")
        cflags = fields.strings("cflags", required=False)
        if not all(CFLAG_RE.fullmatch(flag) for flag in cflags):
            raise fields.error("cflags", "must be target options for CPython's own code, -march=... or -mtune=... "
                                         "(e.g. \"-march=x86-64-v3\")")
        architectures = fields.strings("architectures", required=False)
        if cflags and not architectures:
            raise fields.error("architectures", "is missing: target options (cflags) are one architecture's; name it, "
                                                "e.g. [\"amd64\"]")
        if not configure_args and not cflags:
            raise fields.error("configure_args", "or cflags must say how the variant differs from the default build")
        for arch in architectures:
            if arch not in ARCHITECTURES:
                raise fields.error("architectures", f"{arch!r} is not an architecture: {', '.join(sorted(ARCHITECTURES))}")
        found[name] = Variant(name, fields.get("description", str), configure_args, abi_suffix,
                              tuple(int(part) for part in since.split(".")), uv_variant,
                              fields.strings("stacks", required=False), cflags,
                              architectures, candidate)
    return found
