"""Issue 13: the build_flags and interpreter_static checks, on what the host's gcc and readelf
really write and say (a real build runs both checks in test_pipeline.py and in every pair).

Each test compiles a tiny "core" the way a build might have, lays it out as the archive would
(bin/python3.99, lib/libpython3.99.so.1.0) and feeds the checks the scans' real output."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.checks import elf_checks, flags_check
from harness.checks.check import VERIFY_PREFIX

CLEAN_SYSCONFIG = {"CC": "gcc", "CXX": "g++", "CFLAGS": "-fno-strict-overflow -DNDEBUG -g -O3 -Wall -fstack-protector-strong",
                   "CPPFLAGS": "", "CCSHARED": "-fPIC", "LDFLAGS": "-Wl,-z,relro -Wl,-z,now",
                   "LDSHARED": "gcc -shared -Wl,-z,relro -Wl,-z,now", "LDCXXSHARED": "g++ -shared"}
STATED = {"optimization": "-O3", "lto": False, "pgo": False}


@pytest.fixture
def tree(tmp_path):
    """compile(flags...) builds bin/python3.99 and lib/libpython3.99.so.1.0 from one source with
    those flags (the interpreter linked against the library when linked_against_lib); scan()
    returns what SYSCONFIG_SCAN and READELF_SCAN print for the tree."""
    source, main, extra = tmp_path / "core.c", tmp_path / "main.c", tmp_path / "extra.c"
    source.write_text("int PyCore(int x) { return x * 3; }\n")
    main.write_text("int PyCore(int x);\nint main(void) { return PyCore(0); }\n")
    extra.write_text("int PyExtra(int x) { return x + 1; }\n")  # what only a whole core has
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()

    def compile_(*flags, linked_against_lib=False, whole_core=True, interpreter_flags=()):
        lib = tmp_path / "lib" / "libpython3.99.so.1.0"
        subprocess.run(["gcc", "-shared", "-fPIC", *flags, "-Wl,-soname,libpython3.99.so.1.0", "-o", lib, source,
                        extra], check=True, capture_output=True)
        link = (["-L", tmp_path / "lib", "-l:libpython3.99.so.1.0"] if linked_against_lib
                else [source, *([extra] if whole_core else [])])
        # -rdynamic: the interpreter exports its symbols, as CPython's LINKFORSHARED has it do.
        subprocess.run(["gcc", *flags, *interpreter_flags, "-rdynamic", "-o", tmp_path / "bin" / "python3.99", main, *link],
                       check=True, capture_output=True)

    def scan(sysconfig=CLEAN_SYSCONFIG):
        # As verify runs them, in one container: the sysconfig line, then every readelf the checks read.
        out = f"{flags_check.SYSCONFIG_LINE} {json.dumps(sysconfig)}\n"
        for name in ("bin/python3.99", "lib/libpython3.99.so.1.0"):
            text = subprocess.run(["readelf", "-hlW", "-d", "-p", ".GCC.command.line", "--dyn-syms", tmp_path / name],
                                  capture_output=True, text=True).stdout
            out += f"== {VERIFY_PREFIX}/{name}\n{text}\n"
        return out

    compile_.scan = scan
    return compile_


def test_code_compiled_as_stated_passes(tree):
    tree("-O3", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan(), STATED)
    assert check.ok, check.detail
    assert "2 ELF files compiled at -O3" in check.detail


def test_a_later_O2_wins_and_is_caught(tree):
    # What exporting dpkg's CFLAGS did: CPython's -O3, then dpkg's -O2.
    tree("-O3", "-Wall", "-g", "-O2", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan(), STATED)
    assert not check.ok
    assert "bin/python3.99 compiled at -O2" in check.detail and "lib/libpython3.99.so.1.0 compiled at -O2" in check.detail


def test_code_without_a_record_fails(tree):
    tree("-O3")
    check = flags_check.build_flags_check(tree.scan(), STATED)
    assert not check.ok and "no compilation record in bin/python3.99, lib/libpython3.99.so.1.0" in check.detail


def test_lto_stated_but_not_used_is_named(tree):
    tree("-O3", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan(), {**STATED, "lto": True})
    assert not check.ok and "link-time optimisation missing (stated lto: true)" in check.detail


def test_lto_used_as_stated_passes(tree):
    tree("-O3", "-flto", "-frecord-gcc-switches")  # the link records "GNU GIMPLE ... -O3"
    check = flags_check.build_flags_check(tree.scan(), {**STATED, "lto": True})
    assert check.ok, check.detail
    assert "compiled at -O3 with LTO" in check.detail


def test_an_interpreter_linked_as_stated_passes(tree):
    tree("-O3", "-frecord-gcc-switches", interpreter_flags=["-no-pie"])
    check = flags_check.build_flags_check(tree.scan(), {**STATED, "pie": False})
    assert check.ok, check.detail
    assert "bin/python3.99 position-dependent as stated" in check.detail


def test_a_position_independent_interpreter_stated_otherwise_is_named(tree):
    tree("-O3", "-frecord-gcc-switches", interpreter_flags=["-pie"])
    check = flags_check.build_flags_check(tree.scan(), {**STATED, "pie": False})
    assert not check.ok and "bin/python3.99 is DYN, not EXEC as stated (pie: false)" in check.detail, check.detail
    assert flags_check.build_flags_check(tree.scan(), {**STATED, "pie": True}).ok


def test_lto_of_objects_compiled_at_O2_is_caught(tree):
    tree("-O3", "-O2", "-flto", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan(), {**STATED, "lto": True})
    assert not check.ok and "bin/python3.99 compiled at -O2" in check.detail


def test_lto_present_where_not_stated_is_named(tree):
    tree("-O3", "-flto", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan(), STATED)
    assert not check.ok and "link-time optimisation present (stated lto: false)" in check.detail


@pytest.mark.parametrize("name, value, named", [
    ("CFLAGS", "-DNDEBUG -O3 -ffile-prefix-map=/tmp/python-src=. -Wall", "-ffile-prefix-map=/tmp/python-src=."),
    ("CFLAGS", "-O3 -Werror=format-security", "-Werror=format-security"),
    ("LDSHARED", "gcc -shared -flto -fuse-linker-plugin", "-flto"),
    ("LDFLAGS", "-fprofile-use -fprofile-correction", "-fprofile-use -fprofile-correction"),
    # CPython's own code is fortified; a user's -O0 debug build would get glibc's warning per file.
    ("CPPFLAGS", "-I. -Wdate-time -D_FORTIFY_SOURCE=2", "-D_FORTIFY_SOURCE=2"),
])
def test_build_only_flags_handed_to_extensions_are_named(tree, name, value, named):
    tree("-O3", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan({**CLEAN_SYSCONFIG, name: value}), STATED)
    assert not check.ok
    assert f"sysconfig {name} hands extensions build-only flags: {named}" in check.detail


def test_extensions_compiled_at_another_level_than_stated_is_named(tree):
    tree("-O3", "-frecord-gcc-switches")
    check = flags_check.build_flags_check(tree.scan({**CLEAN_SYSCONFIG, "CFLAGS": "-O3 -Wall -g -O2"}), STATED)
    assert not check.ok and "sysconfig CFLAGS ends at -O2, not the stated -O3" in check.detail


def test_no_statement_fails():
    check = flags_check.build_flags_check("", None)
    assert not check.ok and "stated no flags" in check.detail


def test_an_interpreter_that_needs_libpython_is_not_static(tree):
    tree("-O3", linked_against_lib=True)
    check = elf_checks.interpreter_static_check(tree.scan())
    assert not check.ok and check.detail == "bin/python3.99 needs libpython3.99.so.1.0"


def test_a_static_interpreter_beside_the_shared_library_passes(tree):
    tree("-O3")
    check = elf_checks.interpreter_static_check(tree.scan())
    assert check.ok, check.detail
    assert "exports all 2 C-API symbols" in check.detail


def test_an_interpreter_with_part_of_the_core_is_named(tree):
    # What linking the archive without --whole-archive gives: only what python.c pulls in.
    tree("-O3", whole_core=False)
    check = elf_checks.interpreter_static_check(tree.scan())
    assert not check.ok
    assert check.detail == ("bin/python3.99 lacks 1 of the 2 C-API symbols lib/libpython3.99.so.1.0 exports: "
                            "PyExtra")


@pytest.fixture
def modules_scan(tmp_path):
    """What the verification's scan prints of a real interpreter's modules (this host's python in
    place of the archive's: its built-in modules are python.org's few, _json and math among the
    shared ones)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to(sys.executable)
    script = flags_check.SYSCONFIG_SCAN.replace(VERIFY_PREFIX, str(tmp_path))
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout


def test_modules_stated_built_in_and_built_in_pass(modules_scan):
    check = flags_check.builtin_modules_check(modules_scan, {**STATED, "builtin_modules": ["_io", "posix"]})
    assert check.ok, check.detail
    assert "2 extension modules built into the core as stated" in check.detail


def test_a_module_stated_built_in_but_loaded_from_lib_dynload_is_named(modules_scan):
    assert "_json" not in sys.builtin_module_names  # python.org's build: _json is shared
    check = flags_check.builtin_modules_check(modules_scan, {**STATED, "builtin_modules": ["_io", "_json"]})
    assert not check.ok and check.detail == "stated built in but not: _json"


def test_a_module_both_built_in_and_in_lib_dynload_is_named(modules_scan):
    # What a Setup.local rule that makesetup ignored would leave: the module linked in, and its
    # shared copy installed all the same. The real scan's line, with posix's .so added to lib-dynload.
    line = next(line for line in modules_scan.splitlines() if line.startswith(flags_check.MODULES_LINE))
    modules = json.loads(line[len(flags_check.MODULES_LINE):])
    modules["dynload"].append("posix")
    check = flags_check.builtin_modules_check(f"{flags_check.MODULES_LINE} {json.dumps(modules)}\n",
                                              {**STATED, "builtin_modules": ["posix"]})
    assert not check.ok and check.detail == "built in and also in lib-dynload: posix"


def test_no_statement_of_built_in_modules_fails(modules_scan):
    check = flags_check.builtin_modules_check(modules_scan, STATED)
    assert not check.ok and "stated no builtin_modules" in check.detail


def test_elf_files_of_the_pairs_architecture_pass_and_others_are_named(tree):
    # This machine's gcc makes x86-64 code: right for an amd64 pair, wrong for an arm64 one.
    tree("-O3")
    check = elf_checks.elf_architecture_check(tree.scan(), "amd64")
    assert check.ok and check.detail == "2 ELF files, all amd64 (Advanced Micro Devices X86-64)", check.detail
    check = elf_checks.elf_architecture_check(tree.scan(), "arm64")
    assert not check.ok
    assert check.detail.startswith("2 of 2 ELF files are not arm64 (AArch64): bin/python3.99: Advanced Micro Devices X86-64")


# GCC before 11 records each option as a string of its own, merged per file (no "GNU C17 ..." line
# per compilation): what debian-11's gcc 10.2.1 and readelf printed for a tiny core compiled three
# ways, made in the debian-11 build image by
#   gcc -shared -fPIC FLAGS -o lib/libpython3.99.so.1.0 core.c; gcc FLAGS -no-pie -o bin/python3.99 main.c core.c
#   readelf -hlW -d -p .GCC.command.line --dyn-syms FILE
# (python-3.9.2 on debian-11 failed build_flags with "no compilation record" before the check read
# this form; the slow set builds that pair for real, tests/test_every_formula.py).
GCC10 = Path(__file__).with_name("data") / "readelf-gcc10.txt"


def _gcc10_scan(variant: str) -> str:
    sections = re.split(r"^::variant:: (.*)$", GCC10.read_text(), flags=re.M)
    readelf = dict(zip(sections[1::2], sections[2::2]))[variant]
    return f"{flags_check.SYSCONFIG_LINE} {json.dumps(CLEAN_SYSCONFIG)}\n{readelf}"


def test_gcc10_records_are_read_per_file():
    check = flags_check.build_flags_check(_gcc10_scan("-O3"), STATED)
    assert check.ok, check.detail
    assert "2 ELF files compiled at -O3 as stated (GCC before 11 records options per file" in check.detail


def test_gcc10_records_still_catch_a_second_level():
    check = flags_check.build_flags_check(_gcc10_scan("-O3 -O2"), STATED)
    assert not check.ok
    assert "bin/python3.99 compiled at -O2/-O3" in check.detail, check.detail


def test_gcc10_records_show_lto():
    assert flags_check.build_flags_check(_gcc10_scan("-O3 -flto"), {**STATED, "lto": True}).ok
    check = flags_check.build_flags_check(_gcc10_scan("-O3"), {**STATED, "lto": True})
    assert not check.ok and "link-time optimisation missing" in check.detail, check.detail
