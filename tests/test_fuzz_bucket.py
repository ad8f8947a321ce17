"""Fuzzing the readers of what the bucket holds (harness/bucket/manifest.py): the manifest, and the record,
SBOM and provenance statement beside each archive. Whatever JSON (or bytes) is there, it is accepted
or refused with one line per problem; never an exception, never exit status 0 for a manifest the
harness would not write, never the canary secret planted in the environment.

Each manifest starts as one the harness writes (entries made by publish.manifest_entry, placed by
manifest.put, as manifest.update does: schema 2) or wrote before issue 25 (schema 1, placed here as
that harness placed them: amd64 at the top, other architectures under "architectures"), checked on
its own first so that a reader refusing everything cannot pass; then one change known to make it
wrong is planted: a level of another JSON type, a field removed or added, a name no layout has, a
schema no reader knows, an entry keyed at another pair, a value of a type (or a string of a form)
its field does not take. Which values a field takes is written here on
its own (by JSON type and form), not read from the reader's tables. Completely random JSON is fed
too: whatever it accepts must be what a consumer can rely on. Most examples feed the reader
directly (fast); a few run `python -m harness check-published`, `attest-subjects` and `rebuild`
against a real moto server over HTTP. The number of examples is bounded by the profile in
tests/conftest.py (the end-to-end test runs a fifteenth of it).
"""

import hashlib
import json
import math
import os
import tempfile
import uuid

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.bucket import listings, manifest, publish, s3
from tests.test_check_published import REFUSED_RECIPE, harness
from tests.test_publish import endpoint, provenance_of, sbom_of  # noqa: F401  (fixtures)

CANARY = "canary-" + uuid.uuid4().hex  # a secret no line may ever show
PREFIX = "runtimes/"
TARGET = s3.Target("fuzz", PREFIX)
STACKS = ("debian-12", "heroku-24")
ARCHES = ("amd64", "arm64")
RUNTIMES = ("python-3.11.2", "python-3.13.15")
WRITTEN = ("key", "sha256", "size", "version", "arch", "formula_sha256", "build_seconds")


@pytest.fixture(scope="module", autouse=True)
def canary_in_the_environment():
    """Planted where a careless message could pick it up: the credentials and a variable of its own."""
    saved = {name: os.environ.get(name) for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "FUZZ_CANARY")}
    os.environ.update(AWS_SECRET_ACCESS_KEY=CANARY, AWS_SESSION_TOKEN=CANARY, FUZZ_CANARY=CANARY)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- JSON values, and which of them a field takes (by JSON type and form, on its own) ---------------

NEAR_MISSES = ["", " ", "\n", "a\nb", "\x1b[31mred", "\ud800", "é", "debian-12\n", "../debian-12", "debian/12",
               "amd64 ", "AMD64", "python-3.13.15\x00", "0" * 63, "0" * 65, "g" * 64, "0" * 64 + "\n", "A" * 64,
               "runtimes/debian-12/amd64/python-3.13.15.tar.zst\n", CANARY[:5]]
TEXT = st.one_of(st.sampled_from(NEAR_MISSES), st.text(max_size=20))
NUMBERS = st.one_of(st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.sampled_from([0, -1, 1.0, 10 ** 70, 1e308]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
HEX = "0123456789abcdef"
SHA256S = st.text(HEX, min_size=64, max_size=64)


def is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def is_name(value) -> bool:
    # A path segment of the layout: ASCII letters, digits, "._+-", not starting with a punctuation mark.
    return (isinstance(value, str) and 0 < len(value) <= 100 and value[0].isascii() and value[0].isalnum()
            and all(c.isascii() and (c.isalnum() or c in "._+-") for c in value))


def is_seconds(value) -> bool:
    return value is None or type(value) in (int, float) and math.isfinite(value) and value >= 0


TAKES = {  # what a manifest entry's field takes, as publish.manifest_entry writes it
    "key": lambda value: isinstance(value, str),  # and it must be the layout's: checked apart
    "sha256": is_sha256,
    "size": lambda value: type(value) is int and value >= 0,
    "version": lambda value: isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable(),
    "arch": is_name,  # and the architecture it is listed under: checked apart
    "formula_sha256": is_sha256,
    "build_seconds": is_seconds,
}
# Per field, values one step from right (a bool is an int to Python, 46.0 equals 46, a sha256 with a
# newline matches a careless "$"): drawn half the time, any JSON value the other half.
WRONG_NEAR = {
    "key": [None, 1, ["runtimes/debian-12/amd64/python-3.13.15.tar.zst"],
            "runtimes/debian-12/amd64/python-3.13.15.tar.zst\n",
            "/runtimes/debian-12/amd64/python-3.13.15.tar.zst", "debian-12/amd64/python-3.13.15.tar.zst"],
    "sha256": [True, None, 0, "0" * 63, "0" * 65, "0" * 64 + "\n", "A" * 64, "g" * 64, ["0" * 64]],
    "size": [True, False, -1, 46.0, 1.5, "46", None, [46], float("inf"), float("nan")],
    "version": [None, 3.13, "", "3.13\n", "x" * 201, ["3.13.15"], {"v": 1}],
    "arch": [None, "", "arm 64", "../arm64", "arm64\n", 64, ["amd64"]],
    "formula_sha256": [None, "f" * 63, "F" * 64, 0],
    "build_seconds": [True, -1, -0.5, float("inf"), float("nan"), "12.5", [1.0], {}],
}


def wrong_value(name, right):
    """A value the field does not take (or, for key and arch, not the one its place gives)."""
    def wrong(value):
        return not TAKES[name](value) or name in ("key", "arch") and value != right
    return st.one_of(st.sampled_from(WRONG_NEAR[name]).filter(wrong), VALUES.filter(wrong))


NAMES_NOT_TAKEN = st.one_of(st.sampled_from(NEAR_MISSES), st.text(max_size=12)).filter(lambda name: not is_name(name))


def assert_lines(lines):
    """Each problem: one printable ASCII line of reasonable length, never the canary."""
    for line in lines:
        assert isinstance(line, str) and line.isascii() and line.isprintable() and 0 < len(line) < 1000, ascii(line)
        assert CANARY not in line


# -- Manifests the harness writes, and each made wrong in one known way ----------------------------

@st.composite
def right_manifests(draw, min_size=0, schemas=(1, 2)):
    """(a manifest as manifest.update writes it (schema 2) or the harness wrote it before (schema
    1), {(stack, arch, runtime): (sha256, size)})."""
    schema = draw(st.sampled_from(schemas))
    hypothesis.event(f"schema {schema}")
    pairs = draw(st.lists(st.tuples(st.sampled_from(STACKS), st.sampled_from(ARCHES), st.sampled_from(RUNTIMES)),
                          unique=True, min_size=min_size, max_size=5))
    document, listed = ({"schema": 2, "stacks": {}} if schema == 2 else {"stacks": {}}), {}
    for stack, arch, runtime in pairs:
        sha256, size = draw(SHA256S), draw(st.integers(0, 2 ** 40))
        local = publish.Local(keys=s3.keys_for(TARGET, stack, arch, runtime), cache_key="k",
                              entry={"version": runtime.removeprefix("python-"), "arch": arch,
                                     "formula_sha256": draw(SHA256S),
                                     "build_seconds": draw(st.none() | st.floats(0, 1e5))})
        entry = publish.manifest_entry(local, publish.Remote(sha256=sha256, size=size, metadata={}))
        if schema == 2:
            manifest.put(document, stack, arch, runtime, entry)
        else:
            stacks = document["stacks"] if arch == "amd64" else document.setdefault("architectures", {}).setdefault(
                arch, {"stacks": {}})["stacks"]
            stacks.setdefault(stack, {})[runtime] = entry
        listed[(stack, arch, runtime)] = (sha256, size)
    return document, listed


def not_an_object():
    return VALUES.filter(lambda value: not isinstance(value, dict))


def schema_of(document) -> int:
    return 2 if "schema" in document else 1


def places(document) -> dict:
    """{(stack, architecture): its {runtime: entry}} of a manifest of either schema the harness writes."""
    if schema_of(document) == 2:
        return {(stack, arch): runtimes for stack, arches in document["stacks"].items()
                for arch, runtimes in arches.items()}
    found = {(stack, "amd64"): runtimes for stack, runtimes in document["stacks"].items()}
    for arch, member in document.get("architectures", {}).items():
        found.update({(stack, arch): runtimes for stack, runtimes in member["stacks"].items()})
    return found


def set_place(document, stack, arch, value):
    """Put value where a manifest of its schema lists the runtimes of stack on arch."""
    if schema_of(document) == 2:
        document["stacks"].setdefault(stack, {})[arch] = value
    elif arch == "amd64":
        document["stacks"][stack] = value
    else:
        document.setdefault("architectures", {}).setdefault(arch, {"stacks": {}})["stacks"][stack] = value


SCHEMA_1_PLANTS = ["architectures", "architecture", "architecture's field", "amd64 under architectures",
                   "architecture for a runtime"]
SCHEMA_2_PLANTS = ["architectures of a stack", "schema unknown", "schema missing"]
PLANTS = ["top", "unknown top field", "no stacks", "stacks", "name", "runtimes", "entry", "field", "field missing",
          "field unknown", "key elsewhere"]


@st.composite
def wrong_manifests(draw):
    """(a manifest with one planted problem, "frame" or "entry" (whose it is), the pair it made
    wrong or None, the pairs it left right)."""
    document, listed = draw(right_manifests(min_size=1))
    schema = schema_of(document)
    kind = draw(st.sampled_from(PLANTS + (SCHEMA_2_PLANTS if schema == 2 else SCHEMA_1_PLANTS)))
    hypothesis.event(f"planted: {kind} (schema {schema})")
    if kind == "top":
        return draw(not_an_object()), "frame", None, {}
    if kind == "unknown top field":
        document[draw(TEXT.filter(lambda name: name not in ("stacks", "architectures", "schema")))] = draw(VALUES)
        return document, "frame", None, {}
    if kind == "no stacks":
        del document["stacks"]
        return document, "frame", None, {}
    if kind == "stacks":
        document["stacks"] = draw(not_an_object())
        return document, "frame", None, {}
    if kind == "schema unknown":  # anything but the integer 2, or 1 (read as schema 1: a frame of another shape)
        document["schema"] = draw(VALUES.filter(lambda value: not (type(value) is int and value in (1, 2))))
        return document, "frame", None, {}
    if kind == "schema missing":  # a schema 2 manifest read as schema 1: architectures where runtimes are
        del document["schema"]
        return document, "frame", None, {}
    if kind == "architectures of a stack":
        document["stacks"][draw(st.sampled_from(STACKS))] = draw(not_an_object())
        return document, "frame", None, {}
    if kind == "architectures":
        document["architectures"] = draw(not_an_object())
        return document, "frame", None, {}
    if kind == "architecture":
        document.setdefault("architectures", {})[draw(st.sampled_from(["arm64", "riscv64"]))] = draw(not_an_object())
        return document, "frame", None, {}
    if kind == "architecture's field":
        member = document.setdefault("architectures", {}).setdefault("arm64", {"stacks": {}})
        member[draw(TEXT.filter(lambda name: name != "stacks"))] = draw(VALUES)
        return document, "frame", None, {}
    if kind == "amd64 under architectures":
        document.setdefault("architectures", {})["amd64"] = {"stacks": {}}
        return document, "frame", None, {}
    if kind == "architecture for a runtime":  # schema 2's level in a schema 1 manifest
        stack, arch, runtime = draw(st.sampled_from(sorted(listed)))
        places(document)[(stack, arch)][draw(st.sampled_from(ARCHES))] = {runtime: places(document)[(stack, arch)][
            runtime]}
        return document, "frame", None, {}
    if kind == "name":  # a stack, runtime or architecture named as no layout names one
        level = draw(st.sampled_from(["arch", "stack", "runtime"]))
        name = draw(NAMES_NOT_TAKEN)
        if level == "arch":
            set_place(document, draw(st.sampled_from(STACKS)), name, {})
        elif level == "stack":
            set_place(document, name, draw(st.sampled_from(ARCHES)), {})
        else:
            (stack, arch, runtime) = draw(st.sampled_from(sorted(listed)))
            runtimes = places(document)[(stack, arch)]
            runtimes[name] = runtimes[runtime]
        return document, "frame", None, {}
    (stack, arch, runtime) = pair = draw(st.sampled_from(sorted(listed)))
    runtimes = places(document)[(stack, arch)]
    left = {other: value for other, value in listed.items() if other[:2] != (stack, arch)}
    if kind == "runtimes":
        set_place(document, stack, arch, draw(not_an_object()))
        return document, "frame", None, {}
    left.update({other: value for other, value in listed.items() if other[:2] == (stack, arch) and other != pair})
    entry = runtimes[runtime]
    if kind == "entry":
        runtimes[runtime] = draw(not_an_object())
    elif kind == "field":
        name = draw(st.sampled_from(WRITTEN))
        entry[name] = draw(wrong_value(name, entry[name]))
    elif kind == "field missing":
        name = draw(st.sampled_from(WRITTEN))
        del entry[name]
        if name not in ("key", "sha256", "size"):
            # Descriptive: named, and the entry still used (what every command reads of it is right).
            return document, "entry", None, listed
    elif kind == "field unknown":
        entry[draw(TEXT.filter(lambda name: name not in WRITTEN))] = draw(VALUES)
    else:  # "key elsewhere": another pair's key, every other field right
        elsewhere = draw(st.sampled_from([(s, a, r) for s in STACKS for a in ARCHES for r in RUNTIMES
                                          if (s, a, r) != pair]))
        entry["key"] = s3.keys_for(TARGET, *elsewhere).archive
    return document, "entry", pair, left


def expected_entries(listed):
    return {(stack, arch, runtime, s3.keys_for(TARGET, stack, arch, runtime).archive, sha256, size)
            for (stack, arch, runtime), (sha256, size) in listed.items()}


def entries_of(checked):
    return {(e.stack, e.arch, e.runtime, e.key, e.sha256, e.size) for e in checked.entries}


def in_schema_2(document) -> dict:
    """A manifest of either schema the harness writes, as schema 2 lists it (converted here on its own)."""
    converted = {"schema": 2, "stacks": {}}
    for (stack, arch), runtimes in places(document).items():
        converted["stacks"].setdefault(stack, {})[arch] = runtimes
    return converted


@given(right_manifests())
def test_a_manifest_the_harness_writes_is_accepted_with_every_entry(case):
    document, listed = case
    checked = manifest.check(json.loads(json.dumps(document)), TARGET)  # as read back from the bucket
    assert checked.problems() == []
    assert checked.schema == schema_of(document)
    assert entries_of(checked) == expected_entries(listed)
    assert checked.usable() is checked
    # What an update writes back: schema 2, every entry where schema 2 lists it, read the same.
    assert checked.document == in_schema_2(document)
    again = manifest.check(json.loads(json.dumps(checked.document)), TARGET)
    assert (again.schema, again.problems(), entries_of(again)) == (2, [], entries_of(checked))


@given(right_manifests(min_size=1), st.data())
def test_an_update_of_either_schema_writes_schema_2_keeping_every_entry(case, data):
    """manifest.put on what the reader made of a manifest: one entry added or replaced, the rest kept."""
    document, listed = case
    pair = data.draw(st.tuples(st.sampled_from(STACKS), st.sampled_from(ARCHES), st.sampled_from(RUNTIMES)))
    sha256, size = data.draw(SHA256S), data.draw(st.integers(0, 2 ** 40))
    entry = {"key": s3.keys_for(TARGET, *pair).archive, "sha256": sha256, "size": size}
    checked = manifest.check(json.loads(json.dumps(document)), TARGET)
    written = json.loads(manifest.put(checked.document, pair[0], pair[1], pair[2], entry))
    again = manifest.check(written, TARGET)
    assert written["schema"] == 2 and set(written) == {"schema", "stacks"}
    assert again.frame == [] and not again.wrong
    assert entries_of(again) == expected_entries({**listed, pair: (sha256, size)})


@given(wrong_manifests())
def test_a_manifest_made_wrong_is_refused_in_lines_and_its_wrong_entry_never_used(case):
    document, whose, pair, left = case
    checked = manifest.check(document, TARGET)
    problems = checked.problems()
    assert problems, document  # never a pass
    assert_lines(problems)
    if whose == "frame":
        with pytest.raises(manifest.Invalid) as refused:
            checked.usable()
        assert_lines([str(refused.value)])
        return
    assert checked.usable() is checked  # an entry's problem is its pair's, not every publish's
    assert entries_of(checked) == expected_entries(left)  # the others still used; the wrong one never
    assert checked.document == in_schema_2(document)  # and an update keeps it: its pair's publish replaces it
    if pair is not None:
        assert s3.keys_for(TARGET, *pair).archive in checked.keys()  # its archive is no stray: the line names it


@given(right_manifests(min_size=1), st.data())
def test_an_entry_with_a_field_made_wrong_is_refused_and_never_used(case, data):
    """The planted change most likely to slip through, on its own: one field of one entry."""
    document, listed = case
    pair = data.draw(st.sampled_from(sorted(listed)))
    entry = places(document)[pair[:2]][pair[2]]
    name = data.draw(st.sampled_from(WRITTEN))
    entry[name] = data.draw(wrong_value(name, entry[name]))
    checked = manifest.check(document, TARGET)
    assert checked.problems() and not checked.frame, (name, entry[name])
    assert_lines(checked.problems())
    assert entries_of(checked) == expected_entries({other: value for other, value in listed.items() if other != pair})


@given(VALUES)
def test_any_json_is_accepted_or_refused_in_lines(document):
    checked = manifest.check(document, TARGET)
    assert_lines(checked.problems())
    if not checked.frame:
        # Whatever is accepted is what a consumer can rely on, checked here on its own.
        assert isinstance(document, dict)
        if "schema" not in document or type(document["schema"]) is int and document["schema"] == 1:
            assert checked.schema == 1 and set(document) - {"schema"} <= {"stacks", "architectures"}
        else:
            assert checked.schema == 2 and type(document["schema"]) is int and document["schema"] == 2
            assert set(document) == {"schema", "stacks"}
        for entry in checked.entries:
            assert entry.key == s3.keys_for(TARGET, entry.stack, entry.arch, entry.runtime).archive
            assert is_name(entry.stack) and is_name(entry.arch) and is_name(entry.runtime)
            assert is_sha256(entry.sha256) and type(entry.size) is int and entry.size >= 0


@given(st.one_of(st.binary(max_size=200), VALUES.map(lambda value: json.dumps(value).encode()),
                 st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
                 st.integers(4290, 4400).map(lambda n: b'{"stacks": {}, "n": ' + b"9" * n + b"}")))
def test_any_bytes_are_json_or_a_value_error(body):
    try:
        document = manifest.loads(body)
    except ValueError as exc:
        assert_lines([str(exc)[:80] or "empty"])
        return
    assert_lines(manifest.check(document, TARGET).problems())


# -- Records, SBOMs and provenance statements ------------------------------------------------------

PAIR = manifest.Entry("debian-12", "arm64", "python-3.13.15", s3.keys_for(TARGET, "debian-12", "arm64",
                                                                              "python-3.13.15").archive, "a" * 64, 46)


@st.composite
def right_records(draw):
    """As harness/record.py writes one, in the fields anything reads back."""
    return {"runtime": PAIR.runtime, "python_version": "3.13.15", "stack": PAIR.stack, "arch": PAIR.arch,
            "profile": draw(st.sampled_from(["quick", "release"])), "cache_key": "k", "archive_sha256": draw(SHA256S),
            "archive_size": draw(st.integers(0, 2 ** 40)),
            "profile_data": draw(st.none() | st.fixed_dictionaries({"sha256": SHA256S, "size": st.integers(0, 2 ** 30),
                                                                      "given": st.booleans()})),
            "formula_sha256": draw(SHA256S), "build_script_sha256": draw(SHA256S),
            "patches": draw(st.lists(st.fixed_dictionaries({"name": st.just("fix.patch"), "sha256": SHA256S}),
                                     max_size=2)),
            "harness_revision": {"git_commit": draw(st.sampled_from(["unknown", "0" * 40])), "git_tree_dirty": None},
            "images": {"build": {"id": "sha256:" + "1" * 64, "packages": {"libc6": "2.36-9+deb12u13"}},
                       "run": {"id": "sha256:" + "2" * 64, "packages": {}}},
            "build_seconds": 12.5}


# Values a record's field may take; every value outside is wrong. (For the nested fields, only
# their JSON type: what is inside is tests/test_check_published.py's.)
RECORD_TAKES = {
    "runtime": lambda value: value == PAIR.runtime, "stack": lambda value: value == PAIR.stack,
    "arch": lambda value: value == PAIR.arch, "archive_sha256": is_sha256,
    "archive_size": TAKES["size"], "profile": lambda value: value in ("quick", "release"),
    "profile_data": lambda value: value is None or isinstance(value, dict),
    "formula_sha256": is_sha256, "build_script_sha256": is_sha256,
    "patches": lambda value: isinstance(value, list),
    "harness_revision": lambda value: value is None or isinstance(value, dict),
    "images": lambda value: isinstance(value, dict),
}
NAMED = ("runtime", "stack", "arch", "archive_sha256")  # every record names them
OTHER_NAMES = ["python-3.11.2", "debian-13", "heroku-24", "amd64", "riscv64"]  # names, of another pair
RECORD_NEAR = {"runtime": OTHER_NAMES + WRONG_NEAR["arch"], "stack": OTHER_NAMES + WRONG_NEAR["arch"],
               "arch": OTHER_NAMES + WRONG_NEAR["arch"], "archive_sha256": WRONG_NEAR["sha256"],
               "archive_size": WRONG_NEAR["size"], "profile": ["Release", "quick\n", "", None, ["quick"]],
               "profile_data": ["release", True, [], 0], "formula_sha256": WRONG_NEAR["sha256"],
               "build_script_sha256": WRONG_NEAR["sha256"], "patches": [{}, "fix.patch", None],
               "harness_revision": ["abc", [], True], "images": [[], "build", None]}


@given(right_records(), st.data())
def test_a_record_is_accepted_as_written_and_refused_once_made_wrong(record, data):
    assert manifest.record_problems(json.loads(json.dumps(record)), PAIR) == []
    assert manifest.record_sha256(record) == record["archive_sha256"]
    name = data.draw(st.sampled_from(sorted(RECORD_TAKES)))
    wrong = dict(record)
    missing = name in NAMED and data.draw(st.booleans())
    if missing:
        del wrong[name]
    else:
        wrong[name] = data.draw(st.one_of(st.sampled_from(RECORD_NEAR[name]), VALUES).filter(
            lambda value: not RECORD_TAKES[name](value)))
    problems = manifest.record_problems(wrong, PAIR)
    assert problems, (name, wrong.get(name))
    assert_lines(problems)
    if not missing and not (name in ("runtime", "stack", "arch") and is_name(wrong[name])):
        # Of a wrong type: publishing does not take it as describing any archive (it restores it).
        assert manifest.record_sha256(wrong) is None


@given(VALUES, VALUES, VALUES)
def test_any_json_beside_an_archive_is_accepted_or_refused_in_lines(record, bom, statement):
    for problems in (manifest.record_problems(record, PAIR), manifest.record_problems(record, PAIR, complete=False),
                     manifest.sbom_problems(bom), manifest.provenance_problems(statement)):
        assert_lines(problems)
    # What publishing asks of them never raises either; a sha256 it gets is one.
    for described in (manifest.record_sha256(record), manifest.sbom_sha256(bom), manifest.provenance_sha256(statement)):
        assert described is None or is_sha256(described)


@given(SHA256S, st.data())
def test_an_sbom_and_a_statement_name_their_archive_or_are_refused(sha256, data):
    assert manifest.sbom_problems(sbom_of(sha256)) == [] and manifest.sbom_sha256(sbom_of(sha256)) == sha256
    assert manifest.provenance_sha256(provenance_of(sha256)) == sha256
    bom = sbom_of(sha256)
    bom["metadata"]["component"]["hashes"] = data.draw(VALUES.filter(
        lambda value: not (isinstance(value, list) and sum(isinstance(h, dict) and h.get("alg") == "SHA-256"
                                                           and is_sha256(h.get("content")) for h in value) == 1
                           and sum(isinstance(h, dict) and h.get("alg") == "SHA-256" for h in value) == 1)))
    statement = provenance_of(sha256)
    statement["subject"][0]["digest"]["sha256"] = data.draw(VALUES.filter(lambda value: not is_sha256(value)))
    for problems in (manifest.sbom_problems(bom), manifest.provenance_problems(statement)):
        assert problems
        assert_lines(problems)
    assert manifest.sbom_sha256(bom) is None and manifest.provenance_sha256(statement) is None


# -- End to end: the commands against a real moto server over HTTP ---------------------------------

E2E_EXAMPLES = max(2, hypothesis.settings.default.max_examples // 15)
BUILT = [("debian-12", "amd64", "python-3.13.15"), ("debian-12", "arm64", "python-3.13.15")]


def fill_bucket(target):
    """Two pairs published as publish.py leaves them (each object as it writes it, the manifest by
    manifest.update, the listings by listings.refresh): check-published passes on it as it is. Their records name a build script
    that is not this checkout's, so that a rebuild is refused before it could start building."""
    client = s3.client_for(target)
    s3.ensure_bucket(client, target.bucket)
    objects = {}
    for stack, arch, runtime in BUILT:
        keys = s3.keys_for(target, stack, arch, runtime)
        body = f"archive of {runtime} on {stack} ({arch})".encode()
        sha256 = hashlib.sha256(body).hexdigest()
        record = {"runtime": runtime, "stack": stack, "arch": arch, "archive_sha256": sha256,
                  "archive_size": len(body), **REFUSED_RECIPE}
        for key, content in ((keys.archive, body), (keys.sha256, f"{sha256}  {keys.filename}\n".encode()),
                             (keys.record, json.dumps(record).encode()),
                             (keys.sbom, json.dumps(sbom_of(sha256)).encode()),
                             (keys.provenance, json.dumps(provenance_of(sha256)).encode())):
            client.put_object(Bucket=target.bucket, Key=key, Body=content)
        local = publish.Local(keys=keys, cache_key="k", entry={"version": "3.13.15", "arch": arch,
                                                                "formula_sha256": "f" * 64, "build_seconds": 1.0})
        manifest.update(client, target, stack, runtime,
                        publish.manifest_entry(local, publish.Remote(sha256, len(body), {})), arch=arch)
        objects[(stack, arch, runtime)] = (keys, record, sha256)
    listings.refresh(client, target)  # the uv catalog and index page, as a publish ends
    return client, objects


def dumps(document) -> bytes:
    return json.dumps(document).encode()  # NaN and Infinity as json writes them: not JSON, to be refused


@st.composite
def bucket_cases(draw):
    """(what is changed, its new bytes, for a manifest: whose problem it is)"""
    what = draw(st.sampled_from(["nothing", "nothing, schema 1", "manifest", "record", "SBOM", "provenance"]))
    if what.startswith("nothing"):
        return what, None, None
    if what == "manifest":
        if draw(st.booleans()):
            return what, draw(st.binary(max_size=100)), "frame"
        document, whose, _, _ = draw(wrong_manifests())
        return what, document, whose
    if draw(st.integers(0, 4)) == 0:
        return what, draw(st.binary(max_size=100)), None
    return what, draw(VALUES if what != "record" else VALUES.filter(lambda value: not isinstance(value, dict))
                      | right_records().map(lambda record: {**record, "stack": "heroku-24"})), None


def assert_no_leak(result):
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert CANARY not in output


@hypothesis.settings(max_examples=E2E_EXAMPLES)
@given(bucket_cases())
def test_check_published_attest_and_rebuild_against_a_fuzzed_bucket(endpoint, case):  # noqa: F811
    what, content, whose = case
    hypothesis.event(f"changed: {what}")
    target = s3.Target("fuzz-" + uuid.uuid4().hex[:20], PREFIX, endpoint=endpoint)
    client, objects = fill_bucket(target)
    keys, record, sha256 = objects[BUILT[0]]
    if what == "manifest":
        # The fuzzed manifest's keys are TARGET's: the same prefix, so its entries are this bucket's.
        client.put_object(Bucket=target.bucket, Key=target.prefix + manifest.NAME,
                          Body=content if isinstance(content, bytes) else dumps(content))
    elif what == "nothing, schema 1":  # the same entries, as the harness wrote them before issue 25
        document = json.loads(client.get_object(Bucket=target.bucket, Key=target.prefix + manifest.NAME)["Body"].read())
        old = {"stacks": {stack: arches["amd64"] for stack, arches in document["stacks"].items() if "amd64" in arches},
               "architectures": {"arm64": {"stacks": {stack: arches["arm64"] for stack, arches
                                                      in document["stacks"].items() if "arm64" in arches}}}}
        client.put_object(Bucket=target.bucket, Key=target.prefix + manifest.NAME, Body=dumps(old))
    elif what != "nothing":
        key = {"record": keys.record, "SBOM": keys.sbom, "provenance": keys.provenance}[what]
        client.put_object(Bucket=target.bucket, Key=key, Body=content if isinstance(content, bytes) else dumps(content))
    env = {"AWS_SECRET_ACCESS_KEY": CANARY, "AWS_SESSION_TOKEN": CANARY}

    result = harness(target, "check-published", env=env)
    assert_no_leak(result)
    if what.startswith("nothing"):
        assert result.returncode == 0 and "2 archive(s) listed" in result.stdout
        return
    assert result.returncode == 1, (what, content, result.stdout, result.stderr)
    assert_lines(result.stdout.splitlines())
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    # Problems are lines on stdout; or, for a manifest that is not JSON, one line on stderr.
    assert (result.stdout and not errors) or (not result.stdout and len(errors) == 1), result.stderr
    if what != "manifest":
        return

    with tempfile.TemporaryDirectory(prefix="fuzz-records-") as records:
        for _, record_of_pair, _ in objects.values():
            with open(os.path.join(records, f"{record_of_pair['arch']}.tar.zst.json"), "w") as file:
                json.dump(record_of_pair, file)
        result = harness(target, "attest-subjects", records, env=env)
    assert_no_leak(result)
    if whose == "frame" or errors:
        assert result.returncode == 1 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    else:  # only entries the manifest has right, at their layout keys, with the records' sha256
        assert result.returncode == 0
        assert set(result.stdout.splitlines()) <= {f"{sha}  {k.archive}" for k, _, sha in objects.values()}

    # Never a build: the records name another build script, and a wrong manifest stops it before.
    result = harness(target, "rebuild", "python-3.13.15", "debian-12", env=env)
    assert_no_leak(result)
    assert result.returncode in (1, 2) and result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("downloading ", "note: "))]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
