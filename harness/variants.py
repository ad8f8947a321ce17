"""Variants of a runtime (builds/variants.toml): the same formula built with more configure
arguments, its own ABI and name. A variant of a formula is a formula (Formula.variant names it):
one value that travels through the pipeline as the default build's does, so its pair id, cache key,
archive, S3 key, manifest entry and uv catalog entry all carry it by its name,
python-3.13.15-freethreaded, while the default build keeps every name it had."""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from .datafile import Fields, read_toml
from .errors import DataFileError

DEFAULT = "default"  # the build a formula describes, without a variant
NAME_RE = re.compile(r"[a-z][a-z0-9]*")
MINOR_RE = re.compile(r"3\.(0|[1-9][0-9]*)")
ABI_SUFFIX_RE = re.compile(r"[a-z]?")


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    configure_args: tuple
    abi_suffix: str  # appended to the X.Y of the ABI: python3.13t
    since: tuple  # (3, 13): the first minor it applies to
    uv_variant: str  # what uv calls it (cpython-3.13.15+freethreaded-...)
    stacks: tuple = ()  # the stacks it is built for; empty: all

    def applies_to(self, formula, stack=None) -> bool:
        minor = tuple(int(part) for part in formula.minor.split("."))
        return minor >= self.since and (stack is None or not self.stacks or stack.name in self.stacks)

    def of(self, formula):
        """The formula of this variant of formula."""
        return dataclasses.replace(formula, name=f"{formula.name}-{self.name}", variant=self.name,
                                   configure_args=tuple(formula.configure_args) + self.configure_args,
                                   abi_suffix=self.abi_suffix, uv_variant=self.uv_variant)


def load_variants(path: Path) -> dict[str, Variant]:
    found = {}
    for name, table in read_toml(path).items():
        if not NAME_RE.fullmatch(name) or name == DEFAULT:
            raise DataFileError(path, name, f"is not a variant's name: lowercase letters and digits, not {DEFAULT!r}")
        if not isinstance(table, dict):
            raise DataFileError(path, name, "should be a table ([NAME] and its fields)")
        fields = Fields(path, table, prefix=f"{name}.")
        fields.reject_unknown({"description", "configure_args", "abi_suffix", "since", "uv_variant", "stacks"})
        since = fields.get("since", str)
        if not MINOR_RE.fullmatch(since):
            raise fields.error("since", f"must be a minor version such as \"3.13\", not {since!r}")
        abi_suffix = fields.get("abi_suffix", str, required=False, default="")
        if not ABI_SUFFIX_RE.fullmatch(abi_suffix):
            raise fields.error("abi_suffix", f"must be one lowercase letter (CPython's ABI flag, \"t\") or empty, "
                                             f"not {abi_suffix!r}")
        configure_args = fields.strings("configure_args")
        if not all(arg.startswith("--") and arg.isprintable() for arg in configure_args):
            raise fields.error("configure_args", "must be ./configure options, each one string starting with --")
        uv_variant = fields.get("uv_variant", str)
        if not NAME_RE.fullmatch(uv_variant):
            raise fields.error("uv_variant", f"must be uv's name of the variant (\"freethreaded\"), not {uv_variant!r}")
        found[name] = Variant(name, fields.get("description", str), configure_args, abi_suffix,
                              tuple(int(part) for part in since.split(".")), uv_variant,
                              fields.strings("stacks", required=False))
    return found
