"""The build_flags check: what the archive's code was really compiled with, read back from the
binaries and held to what the build script states; and that sysconfig, which hands its flags to
every extension users compile later, carries none that belong to our build alone. And the
builtin_modules check: the extension modules the script states it linked into the core are built
in, and not also left in lib-dynload.

Why it exists: the build script once exported dpkg's CFLAGS, which CPython places after its own
OPT, so the interpreter was built at "-O3 ... -O2" (-O2 wins) while everything said -O3, and
dpkg's -ffile-prefix-map, which names our build folder, reached users' extensions. Neither shows
in a test run; both show in the binaries and in sysconfig.

verify.runtime_checks runs SYSCONFIG_SCAN then elf_checks.READELF_SCAN in one container of the
stack's BUILD image (readelf comes with its binutils): the runtime under test prints its sysconfig
variables, then readelf prints, among the rest, every ELF file's .GCC.command.line section, where
GCC writes each compilation's options (the build script compiles and links with -frecord-gcc-switches).
With LTO the section holds the link-time compilation's record ("GNU GIMPLE 12.2.0 ... -O3 ...
-flinker-output=pie"): the level is the one the objects were compiled at, and "GIMPLE" shows the
code was made by LTO. Profile use does not show there (GCC records no -fprofile-use at link time);
that the training ran and left a profile is the record's pgo_training, checked during the build.
The build script states its flags on a "::flags::" line (record "build_flags"). build_flags_check
only parses, so tests feed it real output (tests/test_flags.py).
"""

import json
import re

from .check import VERIFY_PREFIX, Check
from .elf_checks import _by_file, _capped

SYSCONFIG_LINE = "::sysconfig::"
MODULES_LINE = "::modules::"
# What sysconfig hands a compiler of extensions (setuptools' customize_compiler reads these).
EXTENSION_VARS = ("CC", "CXX", "CFLAGS", "CPPFLAGS", "CCSHARED", "LDFLAGS", "LDSHARED", "LDCXXSHARED")
SYSCONFIG_SCAN = (
    f"""echo "{SYSCONFIG_LINE} $({VERIFY_PREFIX}/bin/python3 -c 'import json, sys, sysconfig; """
    f"""print(json.dumps({{n: sysconfig.get_config_var(n) for n in sys.argv[1:]}}))' {' '.join(EXTENSION_VARS)})"\n"""
    # The modules linked into the core, and those lib-dynload holds (a module built in must not
    # also be there: the import system would never load that copy, and it would cost space).
    f"""echo "{MODULES_LINE} $({VERIFY_PREFIX}/bin/python3 -c 'import json, os, sys, sysconfig; """
    f"""d = os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload"); """
    f"""print(json.dumps({{"builtin": sorted(sys.builtin_module_names), """
    f""""dynload": sorted(n.split(".")[0] for n in os.listdir(d) if n.endswith(".so"))}}))')"\n""")

# Flags that belong to our build alone: paths of our build folder, profile data, LTO (it ties an
# extension to our exact compiler), option records, warnings made errors (a new compiler's new
# warning would fail an old sdist), BOLT's relocations, and _FORTIFY_SOURCE (glibc warns on every
# file of a user's -O0 debug build; builds/build-python.sh gives it to CPython's own code).
BUILD_ONLY = re.compile(r"-f(?:file|debug|macro|profile)-prefix-map=\S*|-frecord-gcc-switches|-fprofile-\S+"
                        r"|-flto\S*|-ffat-lto-objects|-Werror\S*|-Wl,--emit-relocs|\S*/tmp/python-src\S*"
                        r"|-D_FORTIFY_SOURCE\S*")
# The files whose code is the interpreter's core: the statement must hold for them exactly.
CORE = re.compile(r"bin/python3\.\d+t?|lib/libpython3\.\d+t?\.so(?:\.1\.0)?")
RECORD_LINE = re.compile(r"^\s*\[\s*[0-9a-f]+\]\s+GNU (\S+) \S+ (.*)$", re.MULTILINE)  # GNU C17 12.2.0 -O3 ...
# GCC before 11 (bullseye's 10.2, so python-3.9.2 on debian-11) writes no such line: each option
# is a string of its own ("-O3", "-I ./Include"), and the link merges equal strings, so a file's
# section holds the set of options used anywhere in it, not one line per compilation.
MERGED = " (merged record)"  # the language of a compilation read from such a section
RECORD_STRING = re.compile(r"^\s*\[\s*[0-9a-f]+\]\s+(.*)$", re.MULTILINE)


def _printed(scan_out: str, mark: str):
    """The JSON the scan printed after `mark` (SYSCONFIG_LINE, MODULES_LINE): the last such line
    that parses, or None."""
    found = None
    for line in scan_out.splitlines():
        if line.startswith(mark):
            try:
                found = json.loads(line[len(mark):])
            except ValueError:
                pass
    return found


def optimization(options: list[str]) -> str | None:
    """The optimisation level in effect: the last -O option wins, as with GCC."""
    levels = [option for option in options if re.fullmatch(r"-O[0-3sgz]?|-Ofast", option)]
    return levels[-1] if levels else None


def recorded_compilations(readelf_text: str) -> list[tuple[str, list[str]]]:
    """Each compilation recorded in one file's .GCC.command.line: its language ("C17", or "GIMPLE"
    for link-time optimisation) and its options.

    From GCC 10's merged records (RECORD_STRING) no single compilation can be told apart: each
    distinct -O level found stands for the compilations made at it (any level but the stated one
    still fails the check), and LTO shows as "-fltrans", which GCC 10 records for the code an
    LTRANS unit generated at link time (seen on debian-11's gcc 10.2.1 with -flto)."""
    lines = RECORD_LINE.findall(readelf_text)
    if lines:
        return [(language, options.split()) for language, options in lines]
    section = readelf_text.split("String dump of section '.GCC.command.line':", 1)
    strings = [found.strip() for found in RECORD_STRING.findall(section[1])] if len(section) == 2 else []
    if not strings:
        return []
    language = ("GIMPLE" if "-fltrans" in strings else "C") + MERGED
    levels = [option for option in strings if optimization([option])] or ["(no -O option)"]
    return [(language, [level]) for level in dict.fromkeys(levels)]


def build_flags_check(scan_out: str, stated: dict | None) -> Check:
    """The core's recorded compilations against the statement (optimisation level, LTO, PGO); every
    other recorded compilation at the stated level; sysconfig's flags free of BUILD_ONLY and at the
    stated level; BOLT's note and the interpreter's ELF type as stated. One property a function,
    their problems in this order."""
    if not stated:
        return Check("build_flags", False, "the build stated no flags (no ::flags:: line in its log)")
    if "optimization" not in stated:
        return Check("build_flags", False, f"the build's ::flags:: line could not be read: {str(stated)[:200]}")
    scan = _Scan(scan_out)
    problems = (_sysconfig_problems(scan_out, stated) + _compilation_problems(scan, stated)
                + _bolt_problems(scan, stated) + _pie_problems(scan, stated))
    if problems:
        return Check("build_flags", False, _capped(problems))
    return Check("build_flags", True, _as_stated(scan, stated))


class _Scan:
    """The readelf scan's output by file: what readelf printed of each (by_file), each file's
    recorded compilations (files), those that have any (recorded), the core's among them (core),
    and the interpreters (bin/python3.X)."""

    def __init__(self, scan_out: str):
        self.by_file = _by_file(scan_out)  # file -> what readelf printed of it
        self.files = {name: recorded_compilations(text) for name, text in self.by_file.items()}
        self.recorded = {name: compilations for name, compilations in self.files.items() if compilations}
        self.core = [name for name in self.recorded if CORE.fullmatch(name)]
        self.interpreters = [name for name in self.files if re.fullmatch(r"bin/python3\.\d+t?", name)]

    def bolted(self) -> list[str]:
        return [name for name, text in self.by_file.items() if "BOLT revision" in text]


def _sysconfig_problems(scan_out: str, stated: dict) -> list[str]:
    """sysconfig hands extensions no BUILD_ONLY flag, and its CFLAGS end at the stated level."""
    sysconfig_vars = _printed(scan_out, SYSCONFIG_LINE)
    if sysconfig_vars is None:
        return ["the runtime printed no sysconfig variables"]
    problems = []
    for name in EXTENSION_VARS:
        found = BUILD_ONLY.findall(sysconfig_vars.get(name) or "")
        if found:
            problems.append(f"sysconfig {name} hands extensions build-only flags: {' '.join(found)}")
    level = optimization((sysconfig_vars.get("CFLAGS") or "").split())
    if level != stated["optimization"]:
        problems.append(f"sysconfig CFLAGS ends at {level}, not the stated {stated['optimization']}")
    return problems


def _compilation_problems(scan: _Scan, stated: dict) -> list[str]:
    """The core has compilation records; every recorded compilation is at the stated level; the
    core's show link-time optimisation exactly when the statement says lto."""
    problems = []
    missing_core = [name for name in scan.files if CORE.fullmatch(name) and name not in scan.recorded]
    if missing_core or not scan.core:
        problems.append("no compilation record in " + (", ".join(missing_core) or "the interpreter or libpython"))
    for name, compilations in scan.recorded.items():
        levels = sorted({optimization(options) or "none" for _, options in compilations})
        if levels != [stated["optimization"]]:
            problems.append(f"{name} compiled at {'/'.join(levels)}")
        lto = any(language.startswith("GIMPLE") for language, _ in compilations)
        if name in scan.core and lto != bool(stated.get("lto")):
            problems.append(f"{name}: link-time optimisation {'missing' if stated.get('lto') else 'present'} "
                            f"(stated lto: {str(bool(stated.get('lto'))).lower()})")
    return problems


def _bolt_problems(scan: _Scan, stated: dict) -> list[str]:
    """BOLT writes its version and command line into a .note.bolt_info section ("BOLT revision:
    ..., command line: ..."), which strip keeps: the interpreter has one when, and only when, the
    build states it used BOLT (on the interpreter alone: libpython3.X.so gets no profile)."""
    bolted = scan.bolted()
    if bolted == (scan.interpreters if stated.get("bolt") else []):
        return []
    if stated.get("bolt"):
        return [f"stated BOLT ({stated['bolt']}) on {', '.join(scan.interpreters) or 'the interpreter'}; "
                f"BOLT's note is in: {', '.join(bolted) or 'no file'}"]
    return [f"BOLT's note is in {', '.join(bolted)}, but the build states no BOLT"]


def _pie_problems(scan: _Scan, stated: dict) -> list[str]:
    """The interpreter's ELF type against the statement: "pie": false is a position-dependent
    executable (EXEC), true a position-independent one (DYN). Older statements say nothing."""
    if "pie" not in stated:
        return []
    want_type = "DYN" if stated["pie"] else "EXEC"
    problems = []
    for name in scan.interpreters:
        found = re.search(r"^\s*Type:\s+(\w+)", scan.by_file[name], re.MULTILINE)
        if not found or found.group(1) != want_type:
            problems.append(f"{name} is {found.group(1) if found else 'of no readable type'}, "
                            f"not {want_type} as stated (pie: {str(stated['pie']).lower()})")
    return problems


def _as_stated(scan: _Scan, stated: dict) -> str:
    """The passing check's detail: what was found as stated."""
    want, bolted = stated["optimization"], scan.bolted()
    linked = ""
    if "pie" in stated:
        linked = (f"; {', '.join(scan.interpreters)} "
                  f"{'position-independent' if stated['pie'] else 'position-dependent'} as stated")
    bolt = f"; BOLT ({stated['bolt']}) applied to {', '.join(bolted)}" if bolted else ""
    merged = [name for name, compilations in scan.recorded.items()
              if any(lang.endswith(MERGED) for lang, _ in compilations)]
    merged_note = (f" (GCC before 11 records options per file, not per compilation: in {len(merged)} files the level "
                   "read is every -O option used)") if merged else ""
    return (f"{len(scan.recorded)} ELF files compiled at {want}{' with LTO' if stated.get('lto') else ''} as stated"
            f"{merged_note} (core: {', '.join(scan.core)}){bolt}{linked}; sysconfig hands extensions {want} "
            "and no build-only flags")


def builtin_modules_check(scan_out: str, stated: dict | None) -> Check:
    """The extension modules the build script states it linked into the core (its ::flags::
    "builtin_modules") are built in (sys.builtin_module_names) and are not also in lib-dynload."""
    wanted = (stated or {}).get("builtin_modules")
    if wanted is None:
        return Check("builtin_modules", False, "the build stated no builtin_modules (no ::flags:: line, or an old one)")
    modules = _printed(scan_out, MODULES_LINE)
    if not modules:
        return Check("builtin_modules", False, "the runtime printed no list of its modules")
    problems = []
    not_builtin = [name for name in wanted if name not in modules["builtin"]]
    if not_builtin:
        problems.append("stated built in but not: " + ", ".join(not_builtin))
    twice = sorted(set(modules["builtin"]) & set(modules["dynload"]))
    if twice:
        problems.append("built in and also in lib-dynload: " + ", ".join(twice))
    if problems:
        return Check("builtin_modules", False, "; ".join(problems))
    if not wanted:
        return Check("builtin_modules", True, "no extension module stated built in (before 3.11, setup.py builds them); "
                                              f"{len(modules['dynload'])} in lib-dynload")
    return Check("builtin_modules", True, f"{len(wanted)} extension modules built into the core as stated "
                                          f"({', '.join(wanted[:6])}, ...); none of them also in lib-dynload")
