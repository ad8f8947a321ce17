"""Durations given on the command line: 90s, 45m, 4h, 7d (a bare number is seconds)."""

import re

from .errors import UsageError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(value: str, option: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value or "")
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"{option} {value!r} is not a duration: write a positive number with a unit, "
                         "e.g. 90s, 45m, 4h or 7d")
    return int(float(match.group(1)) * UNITS[match.group(2) or "s"])


def describe(seconds) -> str:
    """The shortest exact form: 4h, 90m, 7d, 45s."""
    seconds = int(seconds)
    for unit in ("d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"
