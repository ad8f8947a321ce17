"""Turning --runtimes / --stacks values into validated names."""

import re

from .errors import UsageError


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
