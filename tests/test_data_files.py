"""Formulas and stacks: the shipped ones load; broken ones fail with the file and the field named."""

from pathlib import Path

import pytest

from harness.errors import DataFileError
from harness.formulas import load_formula, load_formulas
from harness.stacks import load_stacks
from tests.helpers import ROOT

GOOD = '''version = "3.12.9"
url = "https://www.python.org/ftp/python/3.12.9/Python-3.12.9.tar.xz"
sha256 = "7220835d9f90b37c006e9842a8dff4580aaca4278835f2e2c4e1e0ffd6c9b9f7"
'''


def test_shipped_formulas_and_stacks_load():
    formulas = load_formulas(ROOT / "builds" / "runtimes")
    assert {"python-3.11.2", "python-3.13.5", "python-3.13.15"} <= set(formulas)
    assert formulas["python-3.13.15"].sha256 == "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76"
    stacks = load_stacks(ROOT / "stacks")
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
])
def test_broken_formula_names_file_and_field(tmp_path, text, field, words):
    path = write(tmp_path, text)
    with pytest.raises(DataFileError) as info:
        load_formula(path)
    message = str(info.value)
    assert message.startswith(f"{path}: field '{field}':") and words in message, message
    assert "\n" not in message


def test_end_of_life_is_data_of_formulas_and_stacks():
    """3.9 and the heroku-18/20 and debian-11 stacks have reached their end of life: they say so
    (and are still built)."""
    import datetime

    formulas = load_formulas(ROOT / "builds" / "runtimes")
    assert formulas["python-3.9.1"].end_of_life == datetime.date(2025, 10, 31)
    assert formulas["python-3.13.15"].end_of_life is None
    stacks = load_stacks(ROOT / "stacks")
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
])
def test_broken_stack_names_file_and_field(tmp_path, old, new, message):
    folder = tmp_path / "stacks" / "debian-99"
    folder.mkdir(parents=True)
    text = (ROOT / "stacks" / "debian-12" / "stack.toml").read_text()
    assert old in text
    (folder / "stack.toml").write_text(text.replace(old, new))
    with pytest.raises(DataFileError, match=r"stack.toml: " + message):
        load_stacks(tmp_path / "stacks")


def test_cross_section_of_a_stack():
    """[cross] names the cross compiler and which [build] packages are tools; every other build
    package is installed for the target."""
    stack = load_stacks(ROOT / "stacks")["debian-12"]
    packages = stack.cross_packages("arm64")
    assert packages[0] == "crossbuild-essential-arm64"
    assert "libssl-dev:arm64" in packages and not any(p.startswith(("pkg-config", "xz-utils")) for p in packages)
    assert not load_stacks(ROOT / "stacks")["heroku-24"].cross_compiles  # built under emulation


def test_patches_are_data_of_formulas():
    """3.13.5 carries upstream's revert of gh-91555 (python/cpython#135858); it applies to the
    source, and its name and hash are what keys and records see."""
    formula = load_formulas(ROOT / "builds" / "runtimes")["python-3.13.5"]
    [patch] = formula.patch_hashes()
    assert patch["name"] == "python-3.13.5-gh-135858.patch" and len(patch["sha256"]) == 64
    assert load_formulas(ROOT / "builds" / "runtimes")["python-3.13.15"].patch_hashes() == []
