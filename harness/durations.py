"""Durations given on the command line: 90s, 45m, 4h, 7d (a bare number is seconds).

A duration is a whole number of seconds, at least 1 and at most MAX_SECONDS: the clocks it is handed
to count whole seconds (a 0.5s limit would be a 0-second one), and a value past a year is a typo
that some of them would overflow on (99999999999d is 8.6e15 seconds).
"""

import re

from .errors import UsageError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SECONDS = 365 * UNITS["d"]
EXAMPLES = "e.g. 90s, 45m, 4h or 7d"


def parse(value: str, option: str) -> int:
    # ASCII digits only: \d would take other scripts' digits too, and int() reads them.
    match = re.fullmatch(r"\s*([0-9]+)\s*([smhd]?)\s*", value or "", re.ASCII)
    if not match:
        if re.fullmatch(r"\s*[0-9]*\.[0-9]*\s*[smhd]?\s*", value or "", re.ASCII):
            raise UsageError(f"{option} {value!r} is not a whole number: write whole units, e.g. 90m "
                             "rather than 1.5h, 1s at the least")
        raise UsageError(f"{option} {value!r} is not a duration: write a whole number with a unit, {EXAMPLES}")
    digits = match.group(1).lstrip("0") or "0"
    # Compared by length first: int() refuses strings of more than 4300 digits.
    seconds = int(digits) * UNITS[match.group(2) or "s"] if len(digits) <= 12 else MAX_SECONDS + 1
    if seconds < 1:
        raise UsageError(f"{option} {value!r} is zero: a duration is 1s at the least, {EXAMPLES}")
    if seconds > MAX_SECONDS:
        raise UsageError(f"{option} {value!r} is longer than {describe(MAX_SECONDS)}, the longest duration "
                         f"taken: {EXAMPLES}")
    return seconds


def describe(seconds) -> str:
    """The shortest exact form: 4h, 90m, 7d, 45s."""
    seconds = int(seconds)
    for unit in ("d", "h", "m"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"
