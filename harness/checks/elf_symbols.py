"""What one ELF file asks of the system, from READELF_SCAN's output of it: the libraries it needs
(`readelf -d`: NEEDED) and the symbols it imports (`readelf --dyn-syms -W`: UND), each with the
symbol version it was linked against (memcpy@GLIBC_2.14). Read by the elf_policy check (the
stack's allowed libraries and newest glibc) and the elf_hardening check (fortified calls)."""

import re
from dataclasses import dataclass

NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]")
# An undefined (imported) symbol in `readelf --dyn-syms -W`:
#     "   5: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND __memcpy_chk@GLIBC_2.3.4 (3)"
# (Blanks, not \s: symbol 0 has no name, and \s would read on into the next line.)
IMPORTED = re.compile(r"^[ \t]*\d+:[ \t]+[0-9a-f]+[ \t]+\d+[ \t]+\w+[ \t]+\w+[ \t]+\w+[ \t]+UND[ \t]+([^@\s]+)(?:@+(\S+))?",
                      re.MULTILINE)
GLIBC_VERSION = re.compile(r"GLIBC_(\d+(?:\.\d+)+)")


@dataclass(frozen=True)
class Imports:
    needed: tuple  # sonames, in the order the dynamic section lists them
    symbols: dict  # imported symbol -> its version ("GLIBC_2.14"), or "" when unversioned

    @classmethod
    def of(cls, readelf_text: str) -> "Imports":
        return cls(tuple(NEEDED.findall(readelf_text)),
                   {name: version or "" for name, version in IMPORTED.findall(readelf_text)})

    def glibc_versions(self) -> dict:
        """symbol -> the glibc version it binds to, as a tuple: {"memcpy": (2, 14)}."""
        found = {}
        for name, version in self.symbols.items():
            match = GLIBC_VERSION.fullmatch(version)
            if match:
                found[name] = tuple(int(part) for part in match.group(1).split("."))
        return found
