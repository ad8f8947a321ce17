"""Reading the TOML data files a maintainer edits, with errors that name the file and the field."""

import datetime
import tomllib
from pathlib import Path

from .errors import DataFileError

# The largest data file read: five times the largest today (a stack.toml of 3 KB). tomllib's memory
# grows with the square of a dotted key's length (a 20 KB key took 400 MB), so a bound on size is
# what keeps a runaway file a one-line error rather than a machine out of memory.
MAX_BYTES = 16 * 1024


def read_toml(path: Path) -> dict:
    if not str(path).isprintable():  # every message names the file: it must fit on one line
        raise DataFileError(ascii(str(path)), "(file name)", "holds a control or unprintable character: rename it")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise DataFileError(path, "(file)", f"cannot be read: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise DataFileError(path, "(file)", f"is larger than {MAX_BYTES // 1024} KiB, far more than a formula or "
                                            "stack needs: is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFileError(path, "(file)", f"is not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}): "
                                            "save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, "(syntax)", f"not valid TOML: {exc}") from None
    except ValueError:  # an integer of more than 4300 digits: Python's limit on int("...")
        raise DataFileError(path, "(syntax)", "not valid here: an integer too long to read") from None
    except RecursionError:  # arrays or inline tables nested hundreds deep
        raise DataFileError(path, "(syntax)", "not valid here: arrays or tables nested too deep") from None


class Fields:
    """Typed access to a table's fields; every problem names the file and the dotted field."""

    def __init__(self, path: Path, table: dict, prefix: str = ""):
        self.path, self.table, self.prefix = path, table, prefix

    def error(self, key, problem):
        return DataFileError(self.path, shown(self.prefix + key), problem)

    def get(self, key, kind, *, required=True, default=None):
        if key not in self.table:
            if required:
                raise self.error(key, "is missing")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"must be {_kind_name(kind)}, not {type(value).__name__} {value!r}")
        return value

    def strings(self, key, *, required=True, default=()):
        values = self.get(key, list, required=required, default=list(default))
        for value in values:
            if not isinstance(value, str) or not value:
                raise self.error(key, f"must be a list of non-empty strings; found {value!r}")
        return tuple(values)

    def date(self, key):
        """An optional TOML date (end_of_life = 2025-10-31, unquoted), or None."""
        value = self.table.get(key)
        if value is None:
            return None
        if type(value) is not datetime.date:
            raise self.error(key, f"must be a date written YYYY-MM-DD without quotes, not {value!r}")
        return value

    def table_of(self, key, *, required=True):
        return Fields(self.path, self.get(key, dict, required=required, default={}), f"{self.prefix}{key}.")

    def reject_unknown(self, known):
        for key in self.table:
            if key not in known:
                raise self.error(key, f"is not a known field (known: {', '.join(sorted(known))})")


def shown(text: str) -> str:
    """Text as a one-line message may show it: a TOML key or value may hold any character ("a\nb")."""
    return text if text.isprintable() else ascii(text)[1:-1]


def _kind_name(kind):
    return {str: "a string", list: "a list", dict: "a table", int: "an integer", bool: "true or false"}.get(
        kind, kind.__name__
    )

