"""Formulas and stacks: the shipped ones load; broken ones fail with the file and the field named."""

from pathlib import Path

import pytest

from harness import layout, selection
from harness.datafile import MAX_BYTES
from harness.errors import DataFileError
from harness.formulas import load_formula, load_formulas
from harness.commands.matrix import load_runners
from harness.stacks import load_stacks
from tests.helpers import copy_project

GOOD = '''version = "3.12.9"
url = "https://www.python.org/ftp/python/3.12.9/Python-3.12.9.tar.xz"
sha256 = "7220835d9f90b37c006e9842a8dff4580aaca4278835f2e2c4e1e0ffd6c9b9f7"
'''


def test_shipped_formulas_and_stacks_load():
    formulas = load_formulas(layout.RUNTIMES)
    assert {"python-3.11.2", "python-3.13.5", "python-3.13.15"} <= set(formulas)
    assert formulas["python-3.13.15"].sha256 == "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76"
    stacks = load_stacks(layout.STACKS)
    assert {"debian-12", "debian-13"} <= set(stacks)
    assert "liblzma-dev" in stacks["debian-12"].build_packages
    assert "liblzma-dev" not in stacks["debian-12"].run_packages


def write(tmp_path, text, name="python-3.12.9.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_formula(tmp_path):
    formula = load_formula(write(tmp_path, GOOD))
    assert (formula.name, formula.minor, formula.filename) == ("python-3.12.9", "3.12", "Python-3.12.9.tar.xz")


@pytest.mark.parametrize("text, field, words", [
    (GOOD.replace('sha256 = "7220', 'sha256 = "zz20'), "sha256", "64 lowercase hex"),
    (GOOD.replace("0ffd6c9b9f7", ""), "sha256", "53 characters"),
    (GOOD.replace('version = "3.12.9"\n', ""), "version", "is missing"),
    (GOOD.replace('"3.12.9"', '"3.12"'), "version", "3.X.Y"),
    (GOOD.replace('url = "https', 'url = "ftp'), "url", "http(s) URL"),
    (GOOD + "colour = 1\n", "colour", "not a known field"),
    (GOOD + "configure_args = \"--foo\"\n", "configure_args", "must be a list"),
    (GOOD.replace("sha256 =", "sha256 = = "), "(syntax)", "not valid TOML"),
    (GOOD + 'end_of_life = "2025-10-31"\n', "end_of_life", "YYYY-MM-DD without quotes"),
    (GOOD + 'patches = ["no-such.patch"]\n', "patches", "'no-such.patch' is not a file in builds/patches/"),
    (GOOD + 'patches = ["../runtimes/python-3.11.2.toml"]\n', "patches", "is not a file in builds/patches/"),
    # Patterns are matched whole: `$` alone would let a trailing newline through (into paths, keys
    # and, for a package name, a Dockerfile's RUN line).
    (GOOD.replace('b9f7"', 'b9f7\\n"'), "sha256", "64 lowercase hex"),
    (GOOD.replace('"3.12.9"', '"3.12.9\\n"'), "version", "3.X.Y"),
    # 3.12.09 would be a second formula for 3.12.9; other scripts' digits are digits to \d.
    (GOOD.replace('"3.12.9"', '"3.12.09"'), "version", "without leading zeros"),
    (GOOD.replace('"3.12.9"', '"3.012.9"'), "version", "without leading zeros"),
    (GOOD.replace('"3.12.9"', '"3.12.\u0669"'), "version", "3.X.Y"),
    # The URL's last segment is the cached file's name: a tarball's, never a path.
    (GOOD.replace("Python-3.12.9.tar.xz", ".."), "url", "last segment is the source tarball"),
    (GOOD.replace("Python-3.12.9.tar.xz", "x/.."), "url", "last segment is the source tarball"),
    (GOOD.replace("Python-3.12.9.tar.xz", ""), "url", "last segment is the source tarball"),
    (GOOD.replace("Python-3.12.9.tar.xz", "..tar.xz"), "url", "last segment is the source tarball"),
    (GOOD.replace("Python-3.12.9.tar.xz", "Python-3.12.9.zip"), "url", "(NAME.tar.xz, .tar.gz or .tgz)"),
    (GOOD.replace("Python-3.12.9.tar.xz", "Python-3.12.9.tar.xz?mirror=1"), "url", "no query or fragment"),
    (GOOD.replace("Python-3.12.9.tar.xz", "%2e%2e"), "url", "last segment is the source tarball"),
    (GOOD.replace("tar.xz", "tar.xz\\n"), "url", "without spaces or control characters"),
    (GOOD.replace("https://www.python.org", "https://"), "url", "an http(s) URL"),
    (GOOD + 'configure_args = ["--with-lto\\n--prefix=/"]\n', "configure_args", "one ./configure argument per string"),
    (GOOD + "stacks = []\n", "stacks", "is empty"),
    (GOOD + 'stacks = ["Debian 12"]\n', "stacks", "'Debian 12' is not a stack name"),
    # Any character can be in a key: the message shows it escaped, on one line.
    (GOOD + '"a\\nb" = 1\n', "a\\nb", "not a known field"),
    # What tomllib raises beside TOMLDecodeError, and a file no formula needs to be.
    (GOOD + "end_of_life = " + "9" * 4400 + "\n", "(syntax)", "an integer too long"),
    (GOOD + "configure_args = " + "[" * 2000 + "]" * 2000 + "\n", "(syntax)", "nested too deep"),
    (GOOD + "#" * MAX_BYTES, "(file)", "larger than 16 KiB"),
])
def test_broken_formula_names_file_and_field(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as info:
        load_formula(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field '{field}':") and words in message, message
    assert "\n" not in message


@pytest.mark.parametrize("tail", ["Python-3.12.9.tgz", "Python-3.12.9.tar.gz", "Python-3.12.9rc1.tar.xz"])
def test_every_tarball_kind_is_a_source(tmp_path, tail):
    formula = load_formula(write(tmp_path, GOOD.replace("Python-3.12.9.tar.xz", tail)))
    assert formula.filename == tail


def test_invalid_utf8_is_one_line_for_each_data_file(tmp_path):
    """Latin-1 from an old editor: the file and what to do, not a UnicodeDecodeError."""
    bad = "# caf\u00e9\n".encode("latin-1")
    formula = tmp_path / "python-3.12.9.toml"
    formula.write_bytes(bad + GOOD.encode())
    stack = tmp_path / "stacks" / "debian-99" / "stack.toml"
    stack.parent.mkdir(parents=True)
    stack.write_bytes((layout.STACKS / "debian-12" / "stack.toml").read_bytes() + bad)
    runners = tmp_path / "runners.toml"
    runners.write_bytes(bad + (layout.RUNNERS).read_bytes())
    lines = (layout.STACKS / "debian-12" / "stack.toml").read_text().count("\n") + 1
    for path, load, line in ((formula, load_formula, 1), (stack, lambda _: load_stacks(tmp_path / "stacks"), lines),
                             (runners, load_runners, 1)):
        with pytest.raises(DataFileError) as info:
            load(path)
        assert str(info.value) == f"{path}: field '(file)': is not UTF-8 (byte 0xe9 on line {line}): save it as UTF-8"


def test_end_of_life_is_data_of_formulas_and_stacks():
    """3.9 and the heroku-18/20 and debian-11 stacks have reached their end of life: they say so
    (and are still built)."""
    import datetime

    formulas = load_formulas(layout.RUNTIMES)
    assert formulas["python-3.9.1"].end_of_life == datetime.date(2025, 10, 31)
    assert formulas["python-3.13.15"].end_of_life is None
    stacks = load_stacks(layout.STACKS)
    assert stacks["heroku-20"].end_of_life == datetime.date(2025, 4, 30)
    assert stacks["heroku-18"].end_of_life < stacks["heroku-20"].end_of_life < stacks["debian-11"].end_of_life
    assert stacks["debian-12"].end_of_life is None


def test_formula_named_after_another_version(tmp_path):
    with pytest.raises(DataFileError, match="rename it to python-3.12.9.toml"):
        load_formula(write(tmp_path, GOOD, name="python-3.12.8.toml"))


@pytest.mark.parametrize("old, new, message", [
    ('"libssl-dev"', '"libssl dev"', r"field 'build.packages': 'libssl dev' is not a Debian"),
    ('architectures = ["amd64", "arm64"]', 'architectures = ["sparc"]',
     "field 'architectures': 'sparc' is not one of amd64, arm64"),
    ('tools = ["build-essential",', 'tools = ["make",', r"field 'cross.tools': 'make' is not one of \[build\] packages"),
    # Each pair would be built and published twice.
    ('architectures = ["amd64", "arm64"]', 'architectures = ["amd64", "arm64", "amd64"]',
     "field 'architectures': names 'amd64' twice: name each architecture once"),
    # A package name goes into a Dockerfile's RUN line: a trailing newline would end it there.
    ('"libssl-dev"', '"libssl-dev\\n"', r"field 'build.packages': 'libssl-dev\\n' is not a Debian"),
    ('"libssl3"', '"libssl3\\n"', r"field 'run.packages': 'libssl3\\n' is not a Debian"),
    ('compiler = ["crossbuild-essential-{arch}"]', 'compiler = ["crossbuild-essential-{arch}\\n"]',
     "field 'cross.compiler': .* is not a Debian package name"),
    ('image = "debian:bookworm-slim"', 'image = "debian:bookworm-slim\\nRUN id"', "field 'base.image': .* is not an image"),
    # debootstrap would take it as an option.
    ('debian_suite = "bookworm"', 'debian_suite = "--variant=buildd"', "field 'base.debian_suite': .* is not a Debian suite"),
    # The ELF policy (issue 28): required, sonames as NEEDED names them, the stack's glibc.
    ('glibc = "2.36"', 'glibc = "bookworm"', "field 'policy.glibc': 'bookworm' is not a glibc version: the stack's own"),
    ('"libssl.so.3",', '"openssl",', "field 'policy.libraries': 'openssl' is not a soname as a NEEDED entry names it"),
    ('glibc = "2.36"', 'glibc = "2.36"\nlibs = []', "field 'policy.libs': is not a known field"),
])
def test_broken_stack_names_file_and_field(tmp_path, old, new, message):
    folder = tmp_path / "stacks" / "debian-99"
    folder.mkdir(parents=True)
    text = (layout.STACKS / "debian-12" / "stack.toml").read_text()
    assert old in text
    (folder / "stack.toml").write_text(text.replace(old, new))
    with pytest.raises(DataFileError, match=r"stack.toml: " + message):
        load_stacks(tmp_path / "stacks")


def test_a_stack_without_an_elf_policy_is_refused(tmp_path):
    """Nothing would say which system libraries its runtimes may need (issue 28)."""
    folder = tmp_path / "stacks" / "debian-99"
    folder.mkdir(parents=True)
    text = (layout.STACKS / "debian-12" / "stack.toml").read_text()
    (folder / "stack.toml").write_text(text[:text.index("\n[policy]")] + "\n")
    with pytest.raises(DataFileError, match=r"stack.toml: field 'policy': is missing"):
        load_stacks(tmp_path / "stacks")


@pytest.mark.parametrize("name", ["Debian-12", "debian_12", "debian 12", "12-debian", "debian-", "debian--12",
                                  "debian-12\n", ".debian-12", "d\u00e9bian-12"])
def test_stack_folder_name_is_checked(tmp_path, name):
    """A stack's name is its folder's, and it goes into cache keys, image tags and bucket keys."""
    folder = tmp_path / "stacks" / name
    folder.mkdir(parents=True)
    (folder / "stack.toml").write_bytes((layout.STACKS / "debian-12" / "stack.toml").read_bytes())
    with pytest.raises(DataFileError) as info:
        load_stacks(tmp_path / "stacks")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'stacks'}: field '(folder name)': {name!r} is not a stack name: "
                              "name the folder like debian-12"), message
    assert len(message.splitlines()) == 1


def test_good_stack_folder_names(tmp_path):
    for name in ("debian-12", "heroku-24", "ubuntu-24-04", "alpine3"):
        (tmp_path / "stacks" / name).mkdir(parents=True)
        (tmp_path / "stacks" / name / "stack.toml").write_bytes((layout.STACKS / "debian-12" / "stack.toml").read_bytes())
    assert list(load_stacks(tmp_path / "stacks")) == ["alpine3", "debian-12", "heroku-24", "ubuntu-24-04"]


def test_formula_naming_a_stack_that_does_not_exist_is_refused(tmp_path):
    """Else the runtime would be left out of every stack it meant, unseen (a typo, a stack renamed)."""
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.13.5.toml"
    formula.write_text(formula.read_text() + 'stacks = ["debian-13", "debain-12"]\n')
    with pytest.raises(DataFileError) as info:
        selection.select(project)
    assert str(info.value).startswith(f"{formula}: field 'stacks': 'debain-12' is not a stack (a folder of stacks/): "
                                      "name one of debian-11, debian-12,")


def test_cross_section_of_a_stack():
    """[cross] names the cross compiler and which [build] packages are tools; every other build
    package is installed for the target."""
    stack = load_stacks(layout.STACKS)["debian-12"]
    packages = stack.cross_packages("arm64")
    assert packages[0] == "crossbuild-essential-arm64"
    assert "libssl-dev:arm64" in packages and not any(p.startswith(("pkg-config", "xz-utils")) for p in packages)
    assert not load_stacks(layout.STACKS)["heroku-24"].cross_compiles  # built under emulation


def test_patches_are_data_of_formulas():
    """3.13.5 carries upstream's revert of gh-91555 (python/cpython#135858); it applies to the
    source, and its name and hash are what keys and records see."""
    formula = load_formulas(layout.RUNTIMES)["python-3.13.5"]
    [patch] = formula.patch_hashes()
    assert patch["name"] == "python-3.13.5-gh-135858.patch" and len(patch["sha256"]) == 64
    assert load_formulas(layout.RUNTIMES)["python-3.13.15"].patch_hashes() == []
