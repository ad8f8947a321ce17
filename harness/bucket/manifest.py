"""The manifest: one JSON document at the prefix listing every published runtime per stack and
architecture; and the one reader of the JSON the bucket holds (the manifest, and the record, SBOM
and provenance statement beside each archive).

    {"schema": 2,
     "stacks": {"debian-12": {"amd64": {"python-3.13.15": {"version": ..., "arch": "amd64", "key": ..., ...}},
                              "arm64": {"python-3.13.15": {..., "arch": "arm64"}}}}}

Every architecture in one place, nested as the archive's key is (PREFIX/STACK/ARCH/RUNTIME.tar.zst):
a consumer looks a pair up one way whatever its architecture. Schema 1, what the harness wrote
before (no "schema" field: amd64 entries at stacks.STACK.RUNTIME, every other architecture under
architectures.ARCH.stacks.STACK.RUNTIME), is still read, and converted to schema 2 in memory: the
next update writes the whole document as schema 2, every entry kept. A schema this reader does not
know (a newer harness's) is refused in one line and never overwritten.

Updated with optimistic concurrency: the write carries If-Match with the ETag we read (or
If-None-Match: * when there is none yet) and is retried on conflict, so parallel workers and
parallel runs all land their entries. A manifest that is not valid JSON is never overwritten:
somebody must look at it first.

Whatever the bucket holds may have been written by hand, by an older or broken tool, or by someone
hostile, so nothing read is used before it is checked against the shape this harness writes (ENTRY,
RECORD, and the levels check() walks), and each way it differs is one line: where (a path in the
document as the bucket holds it, of either schema), what is there, what would be right. Nothing read
is trusted for a key either: an entry must sit at the key the layout gives its stack, architecture
and runtime (s3.keys_for), and the record beside an archive must name that same pair. The
manifest's frame (every level above the entries) is shared by every pair: when it is not what the
harness writes, no command uses it (check-published names each problem). An entry belongs to its
pair: a wrong one is named by check-published, replaced by its pair's next publish, refused by
rebuild, and never attested.
"""

import datetime
import json
import math
import random
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import PairError
from ..selection import PROFILES
from ..stacks import ARCHITECTURES
from . import s3

NAME = "manifest.json"


class Invalid(PairError):
    pass


def key_for(target: s3.Target) -> str:
    return target.prefix + NAME


# read()'s condition when there is no manifest yet: only a first version may be written.
ABSENT = {"IfNoneMatch": "*"}


# -- JSON somebody else wrote ---------------------------------------------------------------------

def loads(text: str | bytes):
    """json.loads, with every way bucket bytes can fail to be JSON as ValueError: bad syntax or
    UTF-8, nesting deeper than the parser's recursion (a RecursionError otherwise), an integer of
    more than 4,300 digits, and NaN or Infinity (which json accepts and JSON does not have)."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def shown(value) -> str:
    """A value read from the bucket, in a one-line message: a container by its kind (never its
    content, which may be huge or nested a thousand deep), anything else by a short ascii() (which
    escapes newlines, control characters and lone surrogates)."""
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    text = ascii(value) if not isinstance(value, int) or abs(value) < 10 ** 60 else "a number of over 60 digits"
    return text if len(text) <= 80 else text[:76] + "...'"


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def _join(where: str, name) -> str:
    """The path of a field, as `stacks.debian-12.amd64.python-3.13.15.size`; a name that is not one the
    harness writes is quoted, so the line stays one line and says exactly which it is."""
    part = name if isinstance(name, str) and _NAME.fullmatch(name) else f"[{ascii(name)}]"
    return f"{where}.{part}" if where and not part.startswith("[") else f"{where}{part}"


@dataclass(frozen=True)
class Want:
    """A value's shape: a test, and what would be right, in words, for the line when it fails."""
    ok: Callable[[object], bool]
    what: str


@dataclass(frozen=True)
class Fields:
    """An object with these fields (each a Want or Fields): those in required must be there; only:
    no other field is allowed (where the harness writes every field itself)."""
    fields: dict
    required: tuple = ()
    only: bool = False
    nullable: bool = False
    what: str = "an object"


@dataclass(frozen=True)
class Each:
    """An object of names the harness does not know in advance (image roles, package names), each
    value of one shape."""
    value: "Want | Fields | Each"
    what: str


def _problems(value, shape, where: str, root: str = "it") -> list[str]:
    """Every way value differs from shape, one line each (root: what the value is called when
    where is empty, at the top). Walks the shape, never the value: its depth is the shape's,
    whatever the value nests."""
    if isinstance(shape, Want):
        return [] if shape.ok(value) else [f"{where or root} is {shown(value)}, should be {shape.what}"]
    if value is None and getattr(shape, "nullable", False):
        return []
    if not isinstance(value, dict):
        return [f"{where or root} is {shown(value)}, should be {shape.what}"]
    if isinstance(shape, Each):
        return [line for name, item in value.items() for line in _problems(item, shape.value, _join(where, name))]
    problems = [f"{_join(where, name)} is missing, should be {shape.fields[name].what}"
                for name in shape.required if name not in value]
    for name, item in value.items():
        if name in shape.fields:
            problems += _problems(item, shape.fields[name], _join(where, name))
        elif shape.only:
            problems.append(f"{_join(where, name)} is not a field the harness writes there "
                            f"(it writes {', '.join(shape.fields)})")
    return problems


def _hex64(value) -> bool:
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None


def _text(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable()


def _seconds(value) -> bool:
    # type(), not isinstance(): JSON's true is a bool, which Python counts as an int.
    return type(value) is int and value >= 0 or type(value) is float and math.isfinite(value) and value >= 0


SHA256 = Want(_hex64, "64 lowercase hex digits (a sha256)")
SIZE = Want(lambda value: type(value) is int and value >= 0, "a whole number of bytes")
A_NAME = Want(lambda value: isinstance(value, str) and _NAME.fullmatch(value) is not None,
              "a name of letters, digits and ._+- (as python-3.13.15, debian-12, arm64)")
TEXT = Want(_text, "a short printable string")

def _date(value) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
        return True
    except ValueError:
        return False


DATE_OR_NULL = Want(lambda value: value is None or _date(value), "a date (YYYY-MM-DD), or null")
COUNT_OR_NULL = Want(lambda value: value is None or type(value) is int and value >= 0, "a whole number, or null")

# An entry, as publish.manifest_entry() writes it (publish.ENTRY_FIELDS with key, sha256 and size).
ENTRY = Fields({
    "key": Want(lambda value: isinstance(value, str), "the archive's key, PREFIX/STACK/ARCH/RUNTIME.tar.zst"),
    "sha256": SHA256,
    "size": SIZE,
    "version": TEXT,
    "arch": A_NAME,
    "formula_sha256": SHA256,
    "build_seconds": Want(lambda value: value is None or _seconds(value), "a number of seconds, or null"),
    "build_date": DATE_OR_NULL,
    "checks_passed": COUNT_OR_NULL,
    "checks_total": COUNT_OR_NULL,
    "end_of_life": DATE_OR_NULL,
    "variant": Want(lambda value: value is None or isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9]*", value)
                    is not None, "a variant's name as uv gives it (freethreaded), or null"),
}, required=("key", "sha256", "size"), only=True,
    what="an object (an archive's entry: key, sha256, size, version, arch, formula_sha256, build_seconds, "
         "build_date, checks_passed, checks_total, end_of_life, variant)")
# What every command reads of an entry is its key, sha256 and size: an entry without them, or with
# any field of another shape, is wrong and not used. The other fields are for consumers: one that
# is missing (a manifest written by hand) is named by check-published, and the entry still used.
# Those added for the index page (issue 26) are optional: entries published before lack them, and
# are not wrong for it (the page says "unknown").
OPTIONAL = ("build_date", "checks_passed", "checks_total", "end_of_life", "variant")
DESCRIPTIVE = tuple(name for name in ENTRY.fields if name not in ENTRY.required and name not in OPTIONAL)


# -- The manifest ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """A manifest entry that has the shape the harness writes, at the key the layout gives it."""
    stack: str
    arch: str
    runtime: str
    key: str
    sha256: str
    size: int

    def __str__(self):
        return f"{self.runtime} on {self.stack} ({self.arch})"


SCHEMA = 2  # the version update() writes
READS = (1, 2)  # the versions check() reads; 1: written before the field existed (it has none)


def empty() -> dict:
    return {"schema": SCHEMA, "stacks": {}}


@dataclass
class Manifest:
    """The manifest as read and checked, each problem one line: frame, what is wrong above the
    entries; wrong, each entry that cannot be used (by the key the layout gives its place);
    entries, every other one; missing, the descriptive fields those lack. document: the bucket's
    in schema 2 (converted from schema 1, every entry kept), what an update adds its entry to;
    schema: the version the bucket's is (None: one this reader does not know)."""
    url: str
    document: dict
    condition: dict  # what a write replacing this version must carry (ABSENT: there is none yet)
    schema: int | None = SCHEMA
    entries: list[Entry] = field(default_factory=list)
    frame: list[str] = field(default_factory=list)
    wrong: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.frame + [line for lines in self.wrong.values() for line in lines] + self.missing

    def keys(self) -> set[str]:
        """Every archive key the manifest lists, its entry right or not."""
        return {entry.key for entry in self.entries} | set(self.wrong)

    def entry(self, stack: str, arch: str, runtime: str) -> Entry | None:
        return next((e for e in self.entries if (e.stack, e.arch, e.runtime) == (stack, arch, runtime)), None)

    def fields(self, entry: Entry) -> dict:
        """Every field of a right entry as the manifest holds it (its descriptive fields, checked
        for shape, may be missing from one written by hand)."""
        return runtimes_of(self.document, entry.stack, entry.arch)[entry.runtime]

    def usable(self) -> "Manifest":
        """Itself, when its frame is what the harness writes; Invalid (one line) otherwise."""
        if self.schema is None:
            raise Invalid(f"the manifest {self.url}: {self.frame[0]}; it is left as it is: use the harness that "
                          "wrote it, or repair it, then rerun")
        if self.frame:
            more = f" (and {len(self.frame) - 1} more: check-published lists them)" if len(self.frame) > 1 else ""
            raise Invalid(f"the manifest {self.url} is not what the harness writes: {self.frame[0]}{more}; it is left "
                          "as it is: repair or delete it, then rerun")
        return self


def load(client, target: s3.Target) -> Manifest:
    """The manifest the bucket holds, checked at every level; Invalid when it is not JSON at all,
    or of a schema this reader does not know (nothing in it can be read as what it says)."""
    key = key_for(target)
    current = s3.get_or_none(client, target.bucket, key)
    if current is None:
        return Manifest(target.url(key), empty(), dict(ABSENT))
    try:
        document = loads(current["Body"].read())
    except ValueError as exc:
        raise Invalid(f"the manifest {target.url(key)} is not valid JSON ({str(exc)[:80]}); it is left as it is: "
                      "repair or delete it, then rerun") from None
    manifest = check(document, target, target.url(key), {"IfMatch": current["ETag"]})
    return manifest.usable() if manifest.schema is None else manifest


def _an_object(what: str) -> Want:
    return Want(lambda value: isinstance(value, dict), what)


# The frame: every level above the entries. Each level's own content (the names, each place's
# runtimes, each entry) is walked by check().
# Schema 2, as update() writes it.
STACKS = _an_object("an object of stacks ({STACK: {ARCH: {RUNTIME: entry}}})")
FRAME = Fields({"schema": Want(lambda value: type(value) is int and value == SCHEMA, str(SCHEMA)), "stacks": STACKS},
               required=("schema", "stacks"), only=True,
               what='an object {"schema": 2, "stacks": {STACK: {ARCH: {RUNTIME: entry}}}}')
# Schema 1, as the harness wrote it before: read, never written.
STACKS_1 = _an_object("an object of stacks ({STACK: {RUNTIME: entry}})")
ARCHITECTURES_1 = _an_object('an object {ARCH: {"stacks": {STACK: {RUNTIME: entry}}}}')
FRAME_1 = Fields({"stacks": STACKS_1, "architectures": ARCHITECTURES_1},
                 required=("stacks",), only=True,
                 what='an object {"stacks": {STACK: {RUNTIME: entry}}, "architectures": {ARCH: {"stacks": ...}}}')
ARCHITECTURE_1 = Fields({"stacks": STACKS_1}, required=("stacks",), only=True,
                        what='an object with stacks only ({"stacks": {STACK: {RUNTIME: entry}}})')


def schema_of(document) -> int | None:
    """The schema a manifest document is of (1 when it names none); None when not one check() reads."""
    if not isinstance(document, dict) or "schema" not in document:
        return 1
    value = document["schema"]
    return value if type(value) is int and value in READS else None  # type(): JSON's true is no 1


def check(document, target: s3.Target, url: str = NAME, condition: dict | None = None) -> Manifest:
    """The manifest document checked level by level against what update() writes (schema 2) or
    the harness wrote before (schema 1); its entries, right or wrong, kept in manifest.document."""
    manifest = Manifest(url, empty(), condition or {})
    if not isinstance(document, dict):
        manifest.frame.append(f"the manifest is {shown(document)}, should be {FRAME.what}")
        return manifest
    manifest.schema = schema_of(document)
    if manifest.schema is None:
        manifest.frame.append(f"schema is {shown(document['schema'])}, a version this harness does not read (it "
                              'reads 2, and 1: a manifest without "schema")')
        return manifest
    if manifest.schema == SCHEMA:
        places = _places(manifest, document)
    else:  # schema 1 wrote no "schema": one that says 1 is read as one that does not
        places = _places_1(manifest, {name: value for name, value in document.items() if name != "schema"})
    for stack, arch, where, runtimes in places:
        manifest.document["stacks"].setdefault(stack, {})[arch] = dict(runtimes)
        for runtime, entry in runtimes.items():
            here = _join(where, runtime)
            if manifest.schema == 1 and runtime in ARCHITECTURES:
                # A schema 2 manifest whose "schema" was lost reads as schema 1 with architectures
                # for runtimes: refused whole, never converted into nonsense by the next update.
                manifest.frame.append(f"{here}: an architecture where schema 1 lists runtimes (schema 2 lists "
                                      'stacks.STACK.ARCH.RUNTIME: is its "schema": 2 missing?)')
            else:
                _check_entry(manifest, target, arch, stack, runtime, entry, here)
    return manifest


def _places(manifest: Manifest, document: dict) -> list[tuple]:
    """(stack, architecture, where, its runtimes) of a schema 2 document; each problem above, one line."""
    manifest.frame += _problems(document, FRAME, "", "the manifest")
    stacks = document.get("stacks")
    places = []
    for stack, arches in stacks.items() if isinstance(stacks, dict) else ():
        here = _join("stacks", stack)
        if not A_NAME.ok(stack):
            manifest.frame.append(f"{here}: not a stack's name, should be {A_NAME.what}")
        elif not isinstance(arches, dict):
            manifest.frame.append(f"{here} is {shown(arches)}, should be an object of architectures "
                                  "({ARCH: {RUNTIME: entry}})")
        else:
            for arch, runtimes in arches.items():
                _place(manifest, places, stack, arch, _join(here, arch), runtimes, named=arch, kind="an architecture")
    return places


def _place(manifest: Manifest, places: list, stack, arch, where, runtimes, named, kind):
    """One level holding a stack's runtimes of one architecture (in either schema): its name
    (`named`, the last key of `where`, which is `kind`'s) checked, then added to `places`."""
    if not A_NAME.ok(named):
        manifest.frame.append(f"{where}: not {kind}'s name, should be {A_NAME.what}")
    elif not isinstance(runtimes, dict):
        manifest.frame.append(f"{where} is {shown(runtimes)}, should be an object of runtimes ({{RUNTIME: entry}})")
    else:
        places.append((stack, arch, where, runtimes))


def _places_1(manifest: Manifest, document: dict) -> list[tuple]:
    """(stack, architecture, where, its runtimes) of a schema 1 document: amd64 at the top,
    every other architecture under "architectures"."""
    manifest.frame += _problems(document, FRAME_1, "", "the manifest")
    # (architecture, where its stacks are, the stacks)
    levels = [("amd64", "stacks", document["stacks"])] if STACKS_1.ok(document.get("stacks")) else []
    architectures = document.get("architectures", {})
    for arch, member in architectures.items() if isinstance(architectures, dict) else ():
        where = _join("architectures", arch)
        if arch == "amd64":
            manifest.frame.append(f"{where} should not be there: amd64 runtimes are listed under stacks")
        elif not A_NAME.ok(arch):
            manifest.frame.append(f"{where}: not an architecture's name, should be {A_NAME.what}")
        else:
            problems = _problems(member, ARCHITECTURE_1, where)
            manifest.frame += problems
            if not problems:
                levels.append((arch, f"{where}.stacks", member["stacks"]))
    places = []
    for arch, where, stacks in levels:
        for stack, runtimes in stacks.items():
            _place(manifest, places, stack, arch, _join(where, stack), runtimes, named=stack, kind="a stack")
    return places


def _check_entry(manifest: Manifest, target, arch, stack, runtime, entry, where):
    if not A_NAME.ok(runtime):
        manifest.frame.append(f"{where}: not a runtime's name, should be {A_NAME.what}")
        return
    key = s3.keys_for(target, stack, arch, runtime).archive
    problems = _problems(entry, ENTRY, where)
    if not problems:
        # The place a consumer looks an entry up by must be the one its key and fields say.
        if entry["key"] != key:
            problems.append(f"{where}.key is {shown(entry['key'])}, should be {ascii(key)}: the layout's key of "
                            f"{runtime} on {stack} ({arch}), where the manifest lists it")
        if entry.get("arch", arch) != arch:
            problems.append(f"{where}.arch is {shown(entry['arch'])}, should be {ascii(arch)}, where the "
                            "manifest lists it")
    if problems:
        manifest.wrong[key] = problems
        return
    manifest.missing += [f"{_join(where, name)} is missing, should be {ENTRY.fields[name].what}"
                         for name in DESCRIPTIVE if name not in entry]
    manifest.entries.append(Entry(stack, arch, runtime, key, entry["sha256"], entry["size"]))


def read(client, target: s3.Target) -> tuple[dict, dict]:
    """The manifest, in schema 2 whatever schema the bucket's is, and the condition under which a
    new version may replace it (ABSENT when there is none yet); Invalid when it is not JSON, of an
    unknown schema, or its frame is not what the harness writes (an entry that is not is the
    pair's own: its publish replaces it)."""
    manifest = load(client, target).usable()
    return manifest.document, manifest.condition


def runtimes_of(document: dict, stack: str, arch: str, create=False) -> dict:
    """{runtime: entry} of one stack and architecture, of a schema 2 document (read()'s)."""
    if create:
        return document.setdefault("stacks", {}).setdefault(stack, {}).setdefault(arch, {})
    return document.get("stacks", {}).get(stack, {}).get(arch, {})


def entry(document: dict, stack: str, runtime: str, arch: str = "amd64") -> dict | None:
    return runtimes_of(document, stack, arch).get(runtime)


def put(document: dict, stack: str, arch: str, runtime: str, new_entry: dict) -> bytes:
    """Add or replace one entry of a schema 2 document (read()'s); the bytes to write."""
    runtimes = runtimes_of(document, stack, arch, create=True)
    runtimes[runtime] = new_entry
    document["stacks"][stack][arch] = dict(sorted(runtimes.items()))
    document["schema"] = SCHEMA
    return json.dumps(document, indent=2, sort_keys=True).encode()


def update(client, target: s3.Target, stack: str, runtime: str, new_entry: dict, attempts=50, arch: str = "amd64"):
    """Add or replace one entry, retrying on concurrent updates."""
    key = key_for(target)
    for attempt in range(attempts):
        document, condition = read(client, target)
        try:
            client.put_object(Bucket=target.bucket, Key=key, ContentType="application/json",
                              Body=put(document, stack, arch, runtime, new_entry), **condition)
            return
        except s3.botocore.exceptions.ClientError as exc:
            if s3.error_code(exc) not in s3.CONDITION_FAILED:
                raise
            time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
    raise PairError(f"manifest {target.url(key)}: gave up after {attempts} concurrent-update conflicts")


# -- The JSON beside each archive -----------------------------------------------------------------

# A record (harness/record.py), as far as anything reads it back: check-published (the pair, the
# bytes, the profile), rebuild (the recipe, the profile, the build image), attest-subjects (the
# pair and bytes). Other fields are the record's own business and are not looked at.
RECORD = Fields({
    "runtime": A_NAME,
    "stack": A_NAME,
    "arch": A_NAME,
    "archive_sha256": SHA256,
    "archive_size": SIZE,
    "profile": Want(lambda value: value in PROFILES, " or ".join(PROFILES)),
    "profile_data": Fields({"sha256": SHA256, "size": SIZE, "given": Want(lambda value: isinstance(value, bool),
                                                                          "true or false")},
                           required=("sha256",), nullable=True,
                           what='null or {"sha256": ..., "size": ..., "given": ...}'),
    "formula_sha256": SHA256,
    "build_script_sha256": SHA256,
    "patches": Want(lambda value: isinstance(value, list) and all(
        isinstance(item, dict) and _text(item.get("name")) and _hex64(item.get("sha256")) for item in value),
        'a list of {"name": ..., "sha256": ...} (the patches applied, in order)'),
    "harness_revision": Fields({"git_commit": Want(lambda value: value is None or _text(value), "a commit id or null")},
                               nullable=True, what='null or {"git_commit": ...}'),
    "images": Each(Fields({"packages": Each(TEXT, "an object of package versions")}, what="an image's description"),
                   "an object of images (build, run, ...)"),
}, what="an object")
PAIR = ("runtime", "stack", "arch")


def record_problems(record, pair: Entry | None = None, complete=True) -> list[str]:
    """How a record read back differs from one the harness writes for pair: the shape of every
    field a command reads, and the pair it names. complete: it must name its pair and archive
    (every record the harness wrote does); rebuild asks less of a record (its recipe), so a record
    naming no pair is taken at the layout's word there, while one naming another is not."""
    shape = RECORD if not complete else Fields(RECORD.fields, PAIR + ("archive_sha256",), what=RECORD.what)
    problems = _problems(record, shape, "", "the record")
    if problems or pair is None:
        return problems
    named = tuple(record.get(name, getattr(pair, name)) for name in PAIR)
    if named != (pair.runtime, pair.stack, pair.arch):
        problems.append(f"describes {named[0]} on {named[1]} ({named[2]}), not {pair}, where the manifest lists it")
    return problems


# An SBOM (harness/sbom.py) and a provenance statement (harness/provenance.py): the archive they
# describe is all a command reads of them.
SBOM = Fields({"metadata": Fields({"component": Fields({
    "hashes": Want(lambda value: isinstance(value, list) and _sbom_hashes(value) is not None,
                   'a list naming the archive\'s hash once as {"alg": "SHA-256", "content": 64 hex digits}')},
    required=("hashes",), what="an object (the archive)")}, required=("component",), what="an object")},
    required=("metadata",), what="an object (a CycloneDX SBOM)")

PROVENANCE = Fields({"subject": Want(
    lambda value: isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
    and isinstance(value[0].get("digest"), dict) and _hex64(value[0]["digest"].get("sha256")),
    'a list of one {"name": ..., "digest": {"sha256": 64 hex digits}} (the archive)')},
    required=("subject",), what="an object (an in-toto statement)")


def _sbom_hashes(hashes: list) -> str | None:
    found = [item.get("content") for item in hashes if isinstance(item, dict) and item.get("alg") == "SHA-256"]
    return found[0] if len(found) == 1 and _hex64(found[0]) else None


def sbom_problems(bom) -> list[str]:
    return _problems(bom, SBOM, "", "the SBOM")


def provenance_problems(statement) -> list[str]:
    return _problems(statement, PROVENANCE, "", "the statement")


def sbom_sha256(bom) -> str | None:
    """The sha256 of the archive an SBOM read back describes; None when it is not shaped as an
    SBOM the harness writes (sbom.archive_sha256 expects one that is)."""
    return None if sbom_problems(bom) else _sbom_hashes(bom["metadata"]["component"]["hashes"])


def provenance_sha256(statement) -> str | None:
    return None if provenance_problems(statement) else statement["subject"][0]["digest"]["sha256"]


def record_sha256(record) -> str | None:
    # complete=False: publishing restores a record from this run's copy, which tests and older
    # runs may have written with fewer fields; a field that is there must still be right.
    return None if record_problems(record, complete=False) else record.get("archive_sha256")
