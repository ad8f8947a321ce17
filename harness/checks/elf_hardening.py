"""The elf_hardening check: every ELF file of the archive hardened as the build asked, read from
the file itself (READELF_SCAN's output of it), each failure naming the file and what it lacks.

From the linker, in every file: full RELRO (a GNU_RELRO segment and immediate binding), a
non-executable stack, no segment both writable and executable. python-build-standalone's
validation requires the same (src/validation.rs, astral-sh/python-build-standalone#1166).

From the compiler, as the build states it (its ::flags:: line: the stack's dpkg-buildflags):
- the stack protector, and stack-clash and control-flow protection where the stack's flags ask
  for them (trixie's dpkg does: -fstack-clash-protection -fcf-protection), in every compilation
  each file records (.GCC.command.line: the build compiles with -frecord-gcc-switches; the option
  in effect is the last one, as with GCC). The records are what shows this per file: a function
  gets no canary unless it has a character array (-fstack-protector, as Debian builds python3.X),
  so many small modules rightly import no __stack_chk_fail.
- _FORTIFY_SOURCE: GCC does not record -D options, so what shows is its effect, the glibc
  functions called through their checked __*_chk versions. Those appear only where the compiler
  knows the size of the buffer a call writes into: a module whose every memcpy targets memory of
  unknown size (lzma's, ssl's) rightly has none. The interpreter and libpython3.X.so call
  hundreds of such functions, and without _FORTIFY_SOURCE import no __*_chk at all (ours before
  issue 28; Debian's python3.11 imports 15): they must import some, every other file is counted.

The CET note (the x86 feature property "IBT, SHSTK") is not required: the linker keeps it only
when every object linked in has it, and trixie's glibc links crti.o, which carries no property
note, into every program and library (gcc's crtbeginS.o has the note; trixie's own /usr/bin/bash
ends up with only "x86 ISA needed", as our debian-13 builds do). The records show the code was
compiled for it, which is what the stack's flags ask.
"""

import re

from .check import Check
from .elf_checks import _by_file, _capped
from .elf_symbols import Imports
from .flags_check import CORE, RECORD_LINE, RECORD_STRING

# A program header line of `readelf -lW`: type, offset, virtual and physical address, file and
# memory size, flags ("R E", "RW ", "RWE"), alignment. The flags hold spaces, so they are what
# lies between the fifth number and the last.
PROGRAM_HEADER = re.compile(r"^[ \t]*(\S+)[ \t]+(?:0x[0-9a-f]+[ \t]+){5}([RWE ]*?)[ \t]*0x[0-9a-f]+[ \t]*$",
                            re.MULTILINE)
# Immediate binding, however the linker recorded it in the dynamic section: the DT_BIND_NOW tag,
# DF_BIND_NOW in DT_FLAGS, DF_1_NOW in DT_FLAGS_1 (GNU ld's -z now writes the last two).
BIND_NOW = re.compile(r"\((?:BIND_NOW\)|FLAGS\)[ \t].*\bBIND_NOW\b|FLAGS_1\)[ \t]+Flags:.*\bNOW\b)")
STACK_PROTECTOR = re.compile(r"-f(no-)?stack-protector(-strong|-all|-explicit)?")
CF_PROTECTION = re.compile(r"-f(no-)?cf-protection(=\w+)?")
STACK_CLASH = re.compile(r"-f(no-)?stack-clash-protection")
# glibc's functions that _FORTIFY_SOURCE replaces by a checked __NAME_chk version where the
# compiler knows the destination's size (<bits/string_fortified.h>, <bits/stdio2.h>,
# <bits/unistd.h>, <bits/wchar2.h>, <bits/socket2.h>, <bits/poll2.h>, <bits/stdlib.h>).
FORTIFIABLE = frozenset("""
    memcpy memmove mempcpy memset stpcpy stpncpy strcpy strncpy strcat strncat explicit_bzero
    sprintf snprintf vsprintf vsnprintf printf fprintf vprintf vfprintf dprintf vdprintf asprintf vasprintf
    fgets fgets_unlocked fread fread_unlocked gets
    read pread pread64 readlink readlinkat getcwd getwd realpath confstr getgroups ttyname_r getlogin_r
    gethostname getdomainname
    recv recvfrom poll ppoll syslog vsyslog longjmp siglongjmp
    wctomb mbstowcs wcstombs mbsrtowcs wcsrtombs mbsnrtowcs wcsnrtombs wcrtomb
    wmemcpy wmemmove wmempcpy wmemset wcscpy wcpcpy wcsncpy wcpncpy wcscat wcsncat
    swprintf vswprintf wprintf fwprintf vwprintf vfwprintf fgetws fgetws_unlocked
""".split())
CHECKED = re.compile(r"__\w+_chk")
# A function the file defines and exports (`readelf --dyn-syms -W`: a section index, not UND).
DEFINED_FUNCTION = re.compile(r"^[ \t]*\d+:[ \t]+[0-9a-f]+[ \t]+\d+[ \t]+FUNC[ \t]+(?:GLOBAL|WEAK)[ \t]+\w+[ \t]+\d+[ \t]",
                              re.MULTILINE)


def linker_problems(readelf_text: str) -> list[str]:
    """What one ELF file lacks of the linker's hardening, from `readelf -lW -d` on it: [] when it
    has full RELRO (a GNU_RELRO segment, sealed read-only after relocation, and immediate
    binding, so that the GOT is part of it), a non-executable stack, and no segment both writable
    and executable."""
    if "There are no program headers in this file." in readelf_text:
        return []  # an object file (ET_REL): never loaded as it is
    segments = PROGRAM_HEADER.findall(readelf_text)
    if not segments:
        return [f"readelf shows no program headers ({readelf_text.strip()[:100] or 'no output'})"]
    kinds = {kind for kind, _ in segments}
    stack_flags = [flags for kind, flags in segments if kind == "GNU_STACK"]
    problems = []
    if "GNU_RELRO" not in kinds:
        problems.append("no GNU_RELRO segment")
    # Without a dynamic section (statically linked) nothing is bound at run time, lazily or not.
    if "There is no dynamic section in this file." not in readelf_text and not BIND_NOW.search(readelf_text):
        problems.append("no BIND_NOW")
    if not stack_flags:
        problems.append("no GNU_STACK segment (the stack defaults to executable)")
    elif any("E" in flags for flags in stack_flags):
        problems.append("executable stack")
    problems += [f"writable and executable {kind} segment" for kind, flags in segments
                 if kind != "GNU_STACK" and "W" in flags and "E" in flags]
    return problems


def c_compilations(readelf_text: str) -> tuple[list[list[str]], bool]:
    """The options of each C compilation one file records (link-time GIMPLE ones left out: they
    repeat the link's options, not the source's), and whether they are merged: GCC 10's records
    (debian-11) are one set of every option found in the file, in no compilation's order."""
    lines = RECORD_LINE.findall(readelf_text)
    if lines:
        return [options.split() for language, options in lines if language != "GIMPLE"], False
    section = readelf_text.split("String dump of section '.GCC.command.line':", 1)
    strings = [found.strip() for found in RECORD_STRING.findall(section[1])] if len(section) == 2 else []
    return ([strings] if strings else []), True


def _in_effect(pattern: re.Pattern, options: list[str], merged: bool) -> str | None:
    """The option of a family in effect in one compilation: the last one given, as with GCC. In a
    merged set the order means nothing: any disabling form there was some compilation's."""
    found = [option for option in options if pattern.fullmatch(option)]
    if merged and any(option.startswith("-fno-") for option in found):
        return next(option for option in found if option.startswith("-fno-"))
    return found[-1] if found else None


def _wanted(stated: dict) -> list[tuple]:
    """The compiler protections the build states, each (what it is, its option family, whether
    the option in effect gives it): a stack protector when its CFLAGS have one, stack-clash and
    control-flow protection when stated."""
    wanted = []
    if STACK_PROTECTOR.search(stated.get("cflags", "")):
        wanted.append(("stack protector", STACK_PROTECTOR, lambda option: not option.startswith("-fno-")))
    if stated.get("stack_clash"):
        wanted.append(("stack-clash protection", STACK_CLASH, lambda option: not option.startswith("-fno-")))
    if stated.get("cf_protection"):
        wanted.append(("control-flow protection", CF_PROTECTION,
                       lambda option: option in ("-fcf-protection", "-fcf-protection=full")))
    return wanted


def compiler_problems(readelf_text: str, stated: dict) -> list[str]:
    """What one file's recorded C compilations lack of the compiler hardening the build states
    (_wanted). A file with no record cannot show any: that is a problem when something is stated."""
    wanted = _wanted(stated)
    if not wanted:
        return []
    compilations, merged = c_compilations(readelf_text)
    if not compilations:
        if not DEFINED_FUNCTION.search(readelf_text):
            return []  # no code of its own: lib/libpython3.so is a link of libpython3.X.so alone
        return [f"no compilation record to show {', '.join(what for what, _, _ in wanted)}"]
    problems = []
    if merged and stated.get("fortify_source"):
        # GCC 10 records -D options (GCC 11+ does not): the level can be read per file there.
        levels = {match for options in compilations for option in options
                  for match in re.findall(r"^-D ?_FORTIFY_SOURCE=(\d)$", option)}
        if str(stated["fortify_source"]) not in levels:
            problems.append(f"no -D_FORTIFY_SOURCE={stated['fortify_source']} in its compilation record")
    for what, pattern, protects in wanted:
        lacking = [options for options in compilations if not protects(_in_effect(pattern, options, merged) or "-fno-")]
        if lacking:
            problems.append(f"no {what} in {len(lacking)} of {len(compilations)} compilations")
    return problems


def _checked_calls(imports: Imports) -> set[str]:
    """The checked (__*_chk) functions a file imports."""
    return {symbol for symbol in imports.symbols if CHECKED.fullmatch(symbol)}


def fortify_problems(name: str, imports: Imports, stated: dict) -> list[str]:
    """The core (the interpreter, libpython3.X.so) calls fortifiable functions through their
    checked versions when the build states a _FORTIFY_SOURCE level; other files are not required
    to (see the module's docstring)."""
    if not stated.get("fortify_source") or not CORE.fullmatch(name) or _checked_calls(imports):
        return []
    unchecked = sorted(FORTIFIABLE & imports.symbols.keys())
    more = f" and {len(unchecked) - 5} more" if len(unchecked) > 5 else ""
    return [f"no fortified call (__*_chk) though the build states _FORTIFY_SOURCE={stated['fortify_source']}"
            + (f"; it calls {', '.join(unchecked[:5])}{more} unchecked" if unchecked else "")]


def elf_hardening_check(readelf_out: str, stated: dict | None) -> Check:
    """Every ELF file hardened as the build asked (builds/build-python.sh: LDFLAGS, and the
    compiler's flags it states): a file that falls short is named with what it lacks."""
    files = _by_file(readelf_out)
    if not files:
        return Check("elf_hardening", False, "no ELF file found in the tree")
    stated = stated or {}
    if "fortify_source" not in stated:
        return Check("elf_hardening", False, "the build states no _FORTIFY_SOURCE level (no ::flags:: line, or one "
                                             "from before it was stated): rebuild")
    imports = {name: Imports.of(text) for name, text in files.items()}  # each file's symbols, read once
    short = [f"{name}: {', '.join(problems)}" for name, text in files.items()
             if (problems := linker_problems(text) + compiler_problems(text, stated)
                 + fortify_problems(name, imports[name], stated))]
    if short:
        return Check("elf_hardening", False, f"{len(short)} of {len(files)} ELF files fall short: {_capped(short)}")
    return Check("elf_hardening", True, f"{len(files)} ELF files: full RELRO, non-executable stack, no W+X segment; "
                                        + _compiler_summary(imports, stated))


def _compiler_summary(imports: dict, stated: dict) -> str:
    """The passing check's detail on what the compiler added, as found (imports: each file's)."""
    parts = [what for what, _, _ in _wanted(stated)]
    compiled = f"{', '.join(parts)} in every recorded compilation" if parts else "no compiler hardening stated"
    if not stated.get("fortify_source"):
        return compiled + "; no _FORTIFY_SOURCE stated"
    calls = {name: _checked_calls(found) for name, found in imports.items()}
    fortified = [name for name, checked in calls.items() if checked]
    core = sorted(set().union(*(checked for name, checked in calls.items() if CORE.fullmatch(name))))
    return (f"{compiled}; _FORTIFY_SOURCE={stated['fortify_source']}: the core calls {len(core)} checked "
            f"functions ({', '.join(core[:4])}, ...), {len(fortified)} of {len(imports)} files some")
