"""Fuzzing the readers of what a maintainer or a user types: formulas, stacks, the runners file and
durations. Whatever the input, it is accepted, or refused with DataFileError / UsageError in one
line; never another exception (which pytest would print as a traceback, or an INTERNALERROR when it
happens while pytest configures itself).

Each document starts from a canary: a file that loads (checked on its own first, so that a reader
refusing everything cannot pass), into which one to three random changes are planted: a field set
to a random TOML value (any character in a string, an integer of thousands of digits, nested
arrays, dates), a field removed, or random text spliced in. What is accepted must hold what the
harness relies on, checked here independently of the readers' own patterns. The number of examples
is bounded by the profile in tests/conftest.py.
"""

import datetime
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import durations
from harness.errors import DataFileError, UsageError
from harness.formulas import load_formula
from harness.commands.matrix import load_runners
from harness.stacks import load_stack

FORMULA = {
    "version": "3.12.9",
    "url": "https://www.python.org/ftp/python/3.12.9/Python-3.12.9.tar.xz",
    "sha256": "7220835d9f90b37c006e9842a8dff4580aaca4278835f2e2c4e1e0ffd6c9b9f7",
    "configure_args": ["--with-lto"],
    "stacks": ["debian-12"],
    "end_of_life": datetime.date(2028, 10, 31),
}
STACK = {
    "description": "Debian 12 (bookworm)",
    "architectures": ["amd64", "arm64"],
    "base": {"image": "debian:bookworm-slim", "debian_suite": "bookworm"},
    "build": {"packages": ["build-essential", "libssl-dev"]},
    "run": {"packages": ["libssl3"]},
    "cross": {"compiler": ["crossbuild-essential-{arch}"], "tools": ["build-essential"]},
    "policy": {"libraries": ["libc.so.6", "libssl.so.3"], "glibc": "2.36"},
}
RUNNERS = {"runners": {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}}

# Strings near the valid ones (a trailing newline, a leading zero, a "/.." tail) and any text at all.
NEAR_MISSES = ["2.36\n", "libc.so.6\n", "3.12.9\n", "3.12.09", "3.012.9", "3.12.٩", "amd64", "amd64\n", "libssl-dev\n",
               "https://www.python.org/ftp/python/3.12.9/..", "https://www.python.org/ftp/python/3.12.9/Python.tgz",
               "https://h/Python-3.12.9.tar.gz?x", "debian-12\n", "-bookworm", "debian:bookworm-slim\nRUN id",
               FORMULA["sha256"] + "\n", FORMULA["sha256"].upper(), "", " ", "ubuntu 24.04", "{arch}", "{0}"]
TEXT = st.one_of(st.sampled_from(NEAR_MISSES), st.text(max_size=30))


class Raw(str):
    """TOML text written as it is: an integer of more digits than Python's int() reads (4300; made
    as text, since hypothesis itself cannot print such an int), arrays nested hundreds deep."""


SCALARS = st.one_of(TEXT, st.integers(), st.booleans(), st.floats(), st.dates(), st.datetimes(),
                    st.integers(4290, 4400).map(lambda n: Raw("9" * n)),
                    st.integers(100, 3000).map(lambda n: Raw("[" * n + "]" * n)))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


def toml_key(key: str) -> str:
    return key if key and all(c in string.ascii_letters + string.digits + "_-" for c in key) else toml_string(key)


def toml_string(text: str) -> str:
    # A basic string: every control character (and DEL) escaped, as TOML requires.
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c
                         for c in text) + '"'


def toml_value(value) -> str:
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return toml_string(value)


def toml_document(document: dict) -> str:
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in document.items() if not isinstance(v, dict)]
    for name, table in document.items():
        if isinstance(table, dict):
            lines += [f"[{toml_key(name)}]"] + [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@st.composite
def planted(draw, canary: dict) -> bytes:
    """The canary with one to three random changes: a value set (in a table or at the top), a key
    removed, or random text spliced into the document's text."""
    document = {k: dict(v) if isinstance(v, dict) else v for k, v in canary.items()}
    splices = []
    for _ in range(draw(st.integers(1, 3))):
        tables = [document] + [v for v in document.values() if isinstance(v, dict)]
        table = draw(st.sampled_from(tables))
        action = draw(st.sampled_from(["set", "set", "remove", "splice"]))
        if action == "set":
            key = draw(st.one_of(st.sampled_from(sorted(table) or ["x"]), TEXT))
            table[key] = draw(VALUES)
        elif action == "remove" and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif action == "splice":
            splices.append(draw(st.text(max_size=20)))
    text = toml_document(document)
    for splice in splices:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + splice + text[at:]
    return text.encode()


def assert_one_line_refusal(exc: UsageError, path=None):
    message = str(exc)
    assert message and len(message.splitlines()) == 1, message
    if path is not None:
        assert isinstance(exc, DataFileError) and message.startswith(f"{path}: field '"), message


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def load_formula_bytes(folder, data: bytes):
    path = folder / "python-3.12.9.toml"
    path.write_bytes(data)
    try:
        formula = load_formula(path)
    except DataFileError as exc:
        assert_one_line_refusal(exc, path)
        return None
    # What the harness relies on, checked without the reader's own patterns:
    major, minor, micro = formula.version.split(".")
    assert formula.version.isascii() and major == "3" and all(str(int(n)) == n for n in (minor, micro))
    assert len(formula.sha256) == 64 and set(formula.sha256) <= set("0123456789abcdef")
    assert formula.filename.endswith((".tar.xz", ".tar.gz", ".tgz")) and ".." not in formula.filename
    assert formula.url.startswith(("https://", "http://")) and formula.url.isprintable()
    assert all(arg.isprintable() for arg in formula.configure_args)
    assert all(name.isascii() and name.islower() and not name.startswith("-") and name.strip() == name
               for name in formula.stacks)
    return formula


def load_stack_bytes(folder, data: bytes, name="debian-99"):
    directory = folder / "stacks" / name
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stack.toml").write_bytes(data)
    try:
        stack = load_stack(directory)
    except DataFileError as exc:
        assert_one_line_refusal(exc)
        return None
    assert len(set(stack.architectures)) == len(stack.architectures) and set(stack.architectures) <= {"amd64", "arm64"}
    for package in (*stack.build_packages, *stack.run_packages, *stack.cross_packages("arm64")):
        assert package.isascii() and package.isprintable() and " " not in package and package[0] != "-", package
    for image in (stack.build_base, stack.run_base):
        assert image.isascii() and image.isprintable() and " " not in image, image
    assert not stack.debian_suite.startswith("-") and stack.debian_suite.isprintable()
    return stack


def test_the_canaries_load(folder):
    """Without this, a reader that refused every document would pass every fuzz test below."""
    assert load_formula_bytes(folder, toml_document(FORMULA).encode()).version == "3.12.9"
    assert load_stack_bytes(folder, toml_document(STACK).encode()).architectures == ("amd64", "arm64")
    (folder / "runners.toml").write_text(toml_document(RUNNERS))
    assert load_runners(folder / "runners.toml")["arm64"] == "ubuntu-24.04-arm"


@given(data=st.one_of(st.binary(max_size=300), planted(FORMULA)))
def test_formula_reader(folder, data):
    load_formula_bytes(folder, data)


@given(data=st.one_of(st.binary(max_size=300), planted(STACK)))
def test_stack_reader(folder, data):
    load_stack_bytes(folder, data)


@given(name=st.text(st.characters(exclude_characters="/\0", exclude_categories=["Cs"]), min_size=1, max_size=30))
def test_stack_folder_names(folder, name):
    """A stack's name is its folder's: accepted, it is fit for image tags and cache keys."""
    if name in (".", "..") or len(name.encode()) > 255:
        return
    if load_stack_bytes(folder / "names", toml_document(STACK).encode(), name=name):
        assert name.isascii() and name[0].isalpha() and name == name.lower() and "--" not in name
        assert not name.endswith("-") and set(name) <= set(string.ascii_lowercase + string.digits + "-")


@given(data=st.one_of(st.binary(max_size=200), planted(RUNNERS)))
def test_runners_reader(folder, data):
    path = folder / "runners.toml"
    path.write_bytes(data)
    try:
        labels = load_runners(path)
    except DataFileError as exc:
        assert_one_line_refusal(exc, path)
        return
    assert set(labels) == {"amd64", "arm64"}
    assert all(label and label.isprintable() and not any(c.isspace() for c in label) for label in labels.values())


@given(value=st.one_of(st.text(max_size=20), st.from_regex(r"\s*[0-9]{0,16}(\.[0-9]*)?\s*[smhdx]?\s*", fullmatch=True)))
def test_durations(value):
    try:
        seconds = durations.parse(value, "--build-timeout")
    except UsageError as exc:
        assert_one_line_refusal(exc)
        assert str(exc).startswith("--build-timeout ")
        return
    assert type(seconds) is int and 1 <= seconds <= durations.MAX_SECONDS
    assert durations.parse(durations.describe(seconds), "--build-timeout") == seconds
