"""Issue 11: hardened ELF files (the elf_hardening check) and the hash-pinned setuptools wheel.

The parser is tested on what the host's readelf says of shared objects its gcc links with and
without each hardening flag: real output, not hand-written samples of it."""

import json
import shutil
import subprocess

import pytest

from harness.checks import cext_check, elf_hardening, verify
from harness.checks.check import VERIFY_PREFIX, Check
from harness.errors import PairError
from harness.hashing import file_sha256

HARDENED = ["-Wl,-z,relro", "-Wl,-z,now"]
# A build statement asking nothing of the compiler: the linker's hardening alone is checked.
LINKER_ONLY = {"cflags": "", "fortify_source": None}


@pytest.fixture
def readelf_of(tmp_path):
    """Link a tiny shared object with the given linker flags; return `readelf -lW -d` of it."""
    source = tmp_path / "add.c"
    source.write_text("int add(int a, int b) { return a + b; }\n")

    def link(*flags, name="lib.so"):
        target = tmp_path / name
        subprocess.run(["gcc", "-shared", "-fPIC", *flags, "-o", target, source], check=True, capture_output=True)
        return subprocess.run(["readelf", "-lW", "-d", target], check=True, capture_output=True, text=True).stdout

    return link


def scan(**files):
    """What READELF_SCAN prints for these files (name -> readelf text) in the verification tree."""
    return "".join(f"== {VERIFY_PREFIX}/{name}\n{text}\n" for name, text in files.items())


def without(text, tag):
    """readelf output with the dynamic section's entries of one tag, e.g. "(FLAGS_1)", left out."""
    return "\n".join(line for line in text.splitlines() if tag not in line)


def test_fully_hardened_object_passes(readelf_of):
    assert elf_hardening.linker_problems(readelf_of(*HARDENED)) == []


def test_lazy_binding_and_no_relro_are_named(readelf_of):
    problems = elf_hardening.linker_problems(readelf_of("-Wl,-z,lazy", "-Wl,-z,norelro"))
    assert problems == ["no GNU_RELRO segment", "no BIND_NOW"]


def test_relro_without_now_is_not_full_relro(readelf_of):
    """dpkg-buildflags' default LDFLAGS: what the build linked with before issue 11."""
    assert elf_hardening.linker_problems(readelf_of("-Wl,-z,relro", "-Wl,-z,lazy")) == ["no BIND_NOW"]


def test_executable_stack_is_named(readelf_of):
    assert elf_hardening.linker_problems(readelf_of(*HARDENED, "-Wl,-z,execstack")) == ["executable stack"]


def test_writable_and_executable_segment_is_named(readelf_of):
    # -N (--omagic) puts text and data in one writable segment; without the C runtime's start
    # files, which a shared object does not need here.
    problems = elf_hardening.linker_problems(readelf_of(*HARDENED, "-nostdlib", "-Wl,-N"))
    assert "writable and executable LOAD segment" in problems, problems


@pytest.mark.parametrize("dropped", ["(FLAGS)", "(FLAGS_1)"])
def test_either_flags_entry_alone_means_bind_now(readelf_of, dropped):
    """GNU ld's -z now writes DF_BIND_NOW in DT_FLAGS and DF_1_NOW in DT_FLAGS_1; other linkers
    write one of them: each is enough, and without both (and no DT_BIND_NOW) binding is lazy."""
    text = readelf_of(*HARDENED)
    assert elf_hardening.linker_problems(without(text, dropped)) == []
    assert elf_hardening.linker_problems(without(without(text, "(FLAGS)"), "(FLAGS_1)")) == ["no BIND_NOW"]


def test_old_style_bind_now_tag_means_bind_now(readelf_of):
    text = without(readelf_of(*HARDENED, "-Wl,--disable-new-dtags"), "(FLAGS_1)")  # DT_BIND_NOW left alone
    assert "(BIND_NOW)" in text
    assert elf_hardening.linker_problems(text) == []


def test_readelf_failure_is_a_problem_not_a_pass():
    assert elf_hardening.linker_problems("sh: 1: readelf: not found") == [
        "readelf shows no program headers (sh: 1: readelf: not found)"]


def test_check_names_each_file_that_falls_short(readelf_of):
    good = readelf_of(*HARDENED, name="good.so")
    lazy = readelf_of("-Wl,-z,lazy", "-Wl,-z,norelro", name="lazy.so")
    execstack = readelf_of(*HARDENED, "-Wl,-z,execstack", name="execstack.so")
    dynload = "lib/python3.11/lib-dynload"

    passed = elf_hardening.elf_hardening_check(scan(**{"bin/python3.11": good, f"{dynload}/_ssl.so": good}), LINKER_ONLY)
    assert passed == Check("elf_hardening", True, "2 ELF files: full RELRO, non-executable stack, no W+X segment; "
                                                  "no compiler hardening stated; no _FORTIFY_SOURCE stated")

    failed = elf_hardening.elf_hardening_check(scan(**{"bin/python3.11": good, f"{dynload}/_ssl.so": lazy,
                                                        f"{dynload}/_ctypes.so": execstack}), LINKER_ONLY)
    assert not failed.ok
    assert failed.detail == (f"2 of 3 ELF files fall short: {dynload}/_ctypes.so: executable stack; "
                             f"{dynload}/_ssl.so: no GNU_RELRO segment, no BIND_NOW")


def test_check_detail_is_capped_but_counts_every_file(readelf_of):
    lazy = readelf_of("-Wl,-z,lazy")
    failed = elf_hardening.elf_hardening_check(scan(**{f"lib/m{i:02}.so": lazy for i in range(25)}), LINKER_ONLY)
    assert failed.detail.startswith("25 of 25 ELF files fall short: lib/m00.so: no BIND_NOW; ")
    assert failed.detail.endswith("lib/m09.so: no BIND_NOW; and 15 more")


def test_empty_scan_fails():
    assert not elf_hardening.elf_hardening_check("", LINKER_ONLY).ok


# -- the setuptools wheel, pinned by sha256 ---------------------------------------------------------

def test_tampered_cached_wheel_is_replaced(tmp_path):
    said = []
    wheels = cext_check.fetch_wheels(tmp_path, log=said.append)
    [wheel] = wheels.glob("*.whl")
    assert wheel.name == "setuptools-80.9.0-py3-none-any.whl"
    assert file_sha256(wheel) == cext_check.SETUPTOOLS_SHA256

    tampered = bytearray(wheel.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF  # one byte changed: still a wheel by its name and size
    wheel.write_bytes(tampered)
    said.clear()
    cext_check.fetch_wheels(tmp_path, log=said.append)
    assert said[0] == f"{wheel.name} in the cache does not match its pinned sha256; downloading it again"
    assert [p.name for p in wheels.glob("*.whl")] == [wheel.name]
    assert file_sha256(wheel) == cext_check.SETUPTOOLS_SHA256


def test_wrong_pin_fails_with_one_line_and_caches_nothing(tmp_path, monkeypatch):
    wrong = "0" * 64
    monkeypatch.setattr(cext_check, "SETUPTOOLS_SHA256", wrong)
    with pytest.raises(PairError) as raised:
        cext_check.fetch_wheels(tmp_path, log=lambda message: None)
    message = str(raised.value)
    assert "\n" not in message
    assert message == ("setuptools==80.9.0 for the C-extension check: the downloaded wheel has sha256 "
                       f"062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922, not the pinned {wrong}")
    assert not list(tmp_path.rglob("*.whl"))


def test_pin_is_part_of_the_checks_hash(monkeypatch):
    """A new pin makes earlier verification results stale, like a change to the checks' code."""
    before = verify.checks_sha256()
    monkeypatch.setattr(cext_check, "SETUPTOOLS_SHA256", "0" * 64)
    assert verify.checks_sha256() != before


def test_the_checks_hash_covers_every_file_of_the_checks_folder(tmp_path):
    """The verification key hashes harness/checks/ whole, not a list kept by hand: a module dropped
    into the folder (here into a copy of it, so that runs beside this test see the real one) makes
    earlier verification results stale, and so does a changed byte or a renamed file; bytecode
    caches do not."""
    copy = tmp_path / "checks"
    shutil.copytree(verify.CHECKS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert verify.checks_sha256(copy) == verify.checks_sha256()
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "verify.cpython-311.pyc").write_bytes(b"compiled")
    assert verify.checks_sha256(copy) == verify.checks_sha256()
    (copy / "new_check.py").write_text('"""A check module no list names."""\n')
    with_new = verify.checks_sha256(copy)
    assert with_new != verify.checks_sha256()
    (copy / "new_check.py").rename(copy / "newer_check.py")
    assert verify.checks_sha256(copy) not in (with_new, verify.checks_sha256())
    (copy / "newer_check.py").unlink()
    program = copy / "embed_program" / "embed.c"
    program.write_bytes(program.read_bytes() + b"\n")
    assert verify.checks_sha256(copy) != verify.checks_sha256()


# -- the real build ----------------------------------------------------------------------------------

@pytest.mark.engine
@pytest.mark.build
def test_quick_build_is_hardened(first_build):
    """The archive the pipeline tests build (python-3.11.2 on debian-12, where setup.py still
    links some extension modules) passes elf_hardening over every ELF file."""
    result, out = first_build
    assert result["returncode"] == 0, (result["stdout"] + result["stderr"])[-3000:]
    [record] = (out / "archives").rglob("python-3.11.2-quick-*.tar.zst.json")
    check = json.loads(record.read_text())["verification"]["elf_hardening"]
    assert check["ok"], check
    assert " ELF files: full RELRO, non-executable stack, no W+X segment; stack protector in every recorded " \
           "compilation; _FORTIFY_SOURCE=2: the core calls " in check["detail"], check
