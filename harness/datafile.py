"""Reading the TOML data files a maintainer edits, with errors that name the file and the field."""

import datetime
import tomllib
from pathlib import Path

from .errors import DataFileError


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(path, "(syntax)", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise DataFileError(path, "(file)", f"cannot be read: {exc.strerror}") from None


class Fields:
    """Typed access to a table's fields; every problem names the file and the dotted field."""

    def __init__(self, path: Path, table: dict, prefix: str = ""):
        self.path, self.table, self.prefix = path, table, prefix

    def error(self, key, problem):
        return DataFileError(self.path, self.prefix + key, problem)

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


def _kind_name(kind):
    return {str: "a string", list: "a list", dict: "a table", int: "an integer", bool: "true or false"}.get(
        kind, kind.__name__
    )

