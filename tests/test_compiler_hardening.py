"""Issue 28: the compiler's hardening read back from the binaries (elf_hardening), and the stack's
ELF policy (elf_policy), each tested on what the host's gcc and readelf make of tiny programs built
with and without it: real output, read with the scan's own readelf command."""

import subprocess

import pytest

from harness.checks import elf_hardening, elf_policy
from harness.checks.check import VERIFY_PREFIX
from harness.checks.elf_checks import READELF_COMMAND
from harness.stacks import ElfPolicy

LINKED = ["-Wl,-z,relro", "-Wl,-z,now"]
# What bookworm's build states (its ::flags:: line), and trixie's, which adds two protections.
BOOKWORM = {"cflags": "-fstack-protector-strong", "fortify_source": 2, "cf_protection": False, "stack_clash": False}
TRIXIE = {**BOOKWORM, "cflags": "-fstack-protector-strong -fstack-clash-protection -fcf-protection",
          "cf_protection": True, "stack_clash": True}
# A program that reads into a buffer of known size: fortified, glibc's read becomes __read_chk.
PROGRAM = """
#include <string.h>
#include <unistd.h>
int copy(const char *text) { char buffer[64]; strcpy(buffer, text); return buffer[1]; }
int main(int argc, char **argv) { char buffer[64]; ssize_t n = read(0, buffer, sizeof buffer + argc);
                                  return (int)n + copy(argv[0]); }
"""


@pytest.fixture
def readelf_of(tmp_path):
    """Compile PROGRAM (or the given source) with gcc and these flags; return what the scan's
    readelf command prints of it."""
    def build(*flags, source=PROGRAM, shared=False, name="prog"):
        path = tmp_path / f"{name}.c"
        path.write_text(source)
        target = tmp_path / name
        shape = ["-shared", "-fPIC"] if shared else []
        subprocess.run(["gcc", "-O2", "-frecord-gcc-switches", *shape, *LINKED, *flags, "-o", target, path],
                       check=True, capture_output=True)
        return subprocess.run(["sh", "-c", READELF_COMMAND], env={"f": str(target), "PATH": "/usr/bin:/bin"},
                              check=True, capture_output=True, text=True).stdout

    return build


def scan(**files):
    """What READELF_SCAN prints for these files (name -> readelf text) in the verification tree."""
    return "".join(f"== {VERIFY_PREFIX}/{name}\n{text}\n" for name, text in files.items())


# -- _FORTIFY_SOURCE ----------------------------------------------------------------------------

def test_an_interpreter_built_without_fortify_is_refused_by_name(readelf_of):
    protected = "-fstack-protector-strong"
    fortified = readelf_of(protected, "-D_FORTIFY_SOURCE=2", name="fortified")
    plain = readelf_of(protected, name="plain")
    assert "__read_chk" in fortified and "__read_chk" not in plain

    passed = elf_hardening.elf_hardening_check(scan(**{"bin/python3.13": fortified}), BOOKWORM)
    assert passed.ok, passed.detail
    assert "_FORTIFY_SOURCE=2: the core calls 2 checked functions (__read_chk, __strcpy_chk, ...)" in passed.detail

    failed = elf_hardening.elf_hardening_check(scan(**{"bin/python3.13": plain}), BOOKWORM)
    assert failed.detail == ("1 of 1 ELF files fall short: bin/python3.13: no fortified call (__*_chk) though the "
                             "build states _FORTIFY_SOURCE=2; it calls read, strcpy unchecked")


def test_a_module_without_checked_calls_is_not_refused(readelf_of):
    """Fortified calls appear only where the compiler knows the buffer's size: a module whose
    every copy goes to memory of unknown size has none, built with _FORTIFY_SOURCE or not."""
    module = readelf_of("-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", shared=True, name="mod",
                        source="#include <string.h>\nvoid put(char *to, const char *from, size_t n) { memcpy(to, from, n); }\n")
    assert "_chk" not in module
    check = elf_hardening.elf_hardening_check(scan(**{"lib/python3.13/lib-dynload/_mod.so": module}), BOOKWORM)
    assert check.ok, check.detail


def test_a_build_that_states_no_fortify_level_is_refused():
    check = elf_hardening.elf_hardening_check(scan(**{"bin/python3.13": ""}), {"cflags": "", "optimization": "-O3"})
    assert check.detail == ("the build states no _FORTIFY_SOURCE level (no ::flags:: line, or one from before it was "
                            "stated): rebuild")


# -- the stack protector, stack-clash and control-flow protection ---------------------------------

def test_a_module_compiled_without_the_stack_protector_is_named(readelf_of):
    protected = readelf_of("-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", name="protected")
    unprotected = readelf_of("-fno-stack-protector", "-D_FORTIFY_SOURCE=2", name="unprotected")
    check = elf_hardening.elf_hardening_check(
        scan(**{"bin/python3.13": protected, "lib/python3.13/lib-dynload/_x.so": unprotected}), BOOKWORM)
    assert check.detail == ("1 of 2 ELF files fall short: lib/python3.13/lib-dynload/_x.so: no stack protector "
                            "in 1 of 1 compilations")


def test_the_option_given_last_is_the_one_in_effect(readelf_of):
    """-fstack-protector-strong then -fno-stack-protector: GCC protects nothing, and neither may the check."""
    text = readelf_of("-fstack-protector-strong", "-fno-stack-protector", "-D_FORTIFY_SOURCE=2")
    assert "-fstack-protector-strong" in text
    assert elf_hardening.compiler_problems(text, BOOKWORM) == ["no stack protector in 1 of 1 compilations"]


def test_stack_clash_and_control_flow_protection_where_the_stack_asks(readelf_of):
    trixie_flags = TRIXIE["cflags"].split()
    full = readelf_of(*trixie_flags, "-D_FORTIFY_SOURCE=2", name="full")
    bookworm = readelf_of("-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", name="bookworm")
    assert elf_hardening.compiler_problems(full, TRIXIE) == []
    assert elf_hardening.compiler_problems(bookworm, TRIXIE) == [
        "no stack-clash protection in 1 of 1 compilations", "no control-flow protection in 1 of 1 compilations"]
    assert elf_hardening.compiler_problems(bookworm, BOOKWORM) == []  # bookworm's flags do not ask for them


def test_gcc_10s_merged_record_is_read_as_a_set():
    """GCC before 11 writes each option once per file, in no compilation's order (debian-11's gcc
    10): a -fno- form there was some compilation's, whatever came after it; and -D options are
    recorded, so the fortify level is read per file. The section as readelf prints it there."""
    def record(*options):
        return "String dump of section '.GCC.command.line':\n" + "".join(
            f"  [{index * 16:6x}]  {option}\n" for index, option in enumerate(options))

    fortified = record("-D_FORTIFY_SOURCE=2", "-O3", "-fstack-protector-strong", "-fstack-protector")
    assert elf_hardening.compiler_problems(fortified, BOOKWORM) == []
    mixed = record("-D_FORTIFY_SOURCE=2", "-fno-stack-protector", "-fstack-protector-strong")
    assert elf_hardening.compiler_problems(mixed, BOOKWORM) == ["no stack protector in 1 of 1 compilations"]
    assert elf_hardening.compiler_problems(record("-O3", "-fstack-protector"), BOOKWORM) == [
        "no -D_FORTIFY_SOURCE=2 in its compilation record"]


def test_a_file_with_code_and_no_compilation_record_cannot_show_its_hardening(tmp_path, readelf_of):
    source = tmp_path / "bare.c"
    source.write_text("int add(int a, int b) { return a + b; }\n")
    target = tmp_path / "bare.so"
    subprocess.run(["gcc", "-shared", "-fPIC", *LINKED, "-o", target, source], check=True)
    text = subprocess.run(["sh", "-c", READELF_COMMAND], env={"f": str(target), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True).stdout
    assert elf_hardening.compiler_problems(text, BOOKWORM) == ["no compilation record to show stack protector"]


# -- the stack's ELF policy ---------------------------------------------------------------------------

POLICY = ElfPolicy(libraries=("libc.so.6", "ld-linux-x86-64.so.2"), glibc="2.36")


def test_a_file_within_the_policy_passes(readelf_of):
    check = elf_policy.elf_policy_check(scan(**{"bin/python3.13": readelf_of("-D_FORTIFY_SOURCE=2")}), POLICY)
    assert check.ok, check.detail
    assert check.detail.startswith("1 ELF files need 1 system libraries, all allowed (libc.so.6); newest glibc "
                                   "symbol version 2.")


def test_a_library_outside_the_policy_is_refused_by_file(readelf_of):
    needs_libm = readelf_of("-Wl,--no-as-needed", "-lm", shared=True, name="m",
                            source="int f(void) { return 1; }\n")
    check = elf_policy.elf_policy_check(scan(**{"lib/python3.13/lib-dynload/math.so": needs_libm}), POLICY)
    assert check.detail == ("1 outside the stack's policy: lib/python3.13/lib-dynload/math.so needs libm.so.6, "
                            "which the stack's policy does not allow")


def test_a_symbol_newer_than_the_stacks_glibc_is_refused_by_file(readelf_of):
    """This host's glibc (2.36) binds a program's start to __libc_start_main@GLIBC_2.34: on a
    stack whose glibc is 2.31 it would not load ("version `GLIBC_2.34' not found")."""
    program = readelf_of()
    assert "__libc_start_main@GLIBC_2.34" in program
    old_stack = ElfPolicy(libraries=POLICY.libraries, glibc="2.31")
    check = elf_policy.elf_policy_check(scan(**{"bin/python3.13": program}), old_stack)
    assert check.detail == ("1 outside the stack's policy: bin/python3.13 references "
                            "__libc_start_main@GLIBC_2.34, newer than the stack's glibc 2.31")


def test_the_archives_own_libraries_need_no_policy(readelf_of, tmp_path):
    (tmp_path / "core.c").write_text("int core(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", tmp_path / "libpython3.13.so.1.0", tmp_path / "core.c"], check=True)
    shim = readelf_of("-Wl,--no-as-needed", f"-L{tmp_path}", "-l:libpython3.13.so.1.0", shared=True, name="shim",
                      source="int g(void) { return 2; }\n")
    assert "[libpython3.13.so.1.0]" in shim
    core = subprocess.run(["readelf", "-d", "--dyn-syms", "-W", tmp_path / "libpython3.13.so.1.0"],
                          capture_output=True, text=True).stdout
    check = elf_policy.elf_policy_check(scan(**{"lib/libpython3.so": shim, "lib/libpython3.13.so.1.0": core}), POLICY)
    assert check.ok, check.detail


def test_no_policy_is_a_failure_not_a_pass(readelf_of):
    check = elf_policy.elf_policy_check(scan(**{"bin/python3.13": readelf_of()}), None)
    assert not check.ok and "no [policy]" in check.detail
