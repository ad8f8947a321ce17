"""`python -m harness rebuild RUNTIME STACK`: rebuild what the bucket publishes and compare bytes.

What is published says how it was made: the record names the formula, the build script and the
build image (down to package versions) by their sha256, and a release build's profile (PGO's
counters, BOLT's profile) lies in the bucket under profiles/ by its sha256 (builds/build-python.sh:
PROFILE_OUT). This command takes all of that from the bucket, refuses when this checkout's formula
or build script is not the one that built the archive (naming the commit that was), builds the pair
in a fresh out folder through the harness itself (pytest, dry run: nothing is uploaded to the
bucket) with the published profile in place of a training run, and compares the two archives'
bytes. The same bytes: exit status 0. Different bytes: one line per file that differs (content,
mode, link target, present in one only), then what diffoscope says where it is installed; exit 1.
A build image whose packages differ from the record's is named first, as the likely cause.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .. import archive as archive_mod
from .. import images
from ..bucket import manifest, s3
from ..errors import UsageError
from ..formulas import load_formulas
from ..hashing import file_sha256
from ..layout import BUILD_SCRIPT, ROOT, RUNTIMES
from ..selection import runtime_named
from ..variants import DEFAULT
from . import on_bucket

DIFFOSCOPE_LINES = 200  # of its report, at most: the file-level lines above it name every file


@dataclass
class Published:
    """What the bucket holds for one pair, downloaded."""
    archive: Path
    sha256: str
    record: dict
    profile: Path | None


def fetch(client, target: s3.Target, runtime: str, stack: str, arch: str, into: Path, say) -> Published:
    """The pair's archive, record and profile from the bucket, each checked against what names it."""
    listing = manifest.load(client, target)
    if listing.condition == manifest.ABSENT:
        raise UsageError(f"{target.url(manifest.key_for(target))} does not exist: nothing is published under this prefix")
    keys = s3.keys_for(target, stack, arch, runtime)
    wrong = listing.usable().wrong.get(keys.archive)
    if wrong:
        raise manifest.Invalid(f"the manifest {listing.url} lists {runtime} on {stack} ({arch}) in an entry the "
                               f"harness does not write: {'; '.join(wrong)}; a publish of the pair replaces it")
    entry = listing.entry(stack, arch, runtime)
    if entry is None:
        listed = [str(e) for e in sorted(listing.entries,
                                         key=lambda e: (e.arch != "amd64", e.arch, e.stack, e.runtime))]
        raise UsageError(f"the manifest lists no {runtime} on {stack} for {arch}; listed there: "
                         + (", ".join(listed) or "nothing"))
    try:
        record = manifest.loads(s3.get_text(client, target, keys.record) or "null")
    except ValueError:
        record = None
    if record is None:
        raise UsageError(f"{target.url(keys.record)} is missing or not JSON: without its record the build cannot be "
                         "repeated")
    # What is read of the record below must be what the harness writes, and for this pair (a
    # record naming no pair is taken at the layout's word: the recipe is what a rebuild needs);
    # checked before the archive's download, which is the long part.
    wrong = manifest.record_problems(record, entry, complete=False)
    if wrong:
        raise UsageError(f"{target.url(keys.record)} is not a record of {entry} as the harness writes it: "
                         f"{'; '.join(wrong)}; without its record the build cannot be repeated")
    archive = into / keys.filename
    say(f"downloading {target.url(keys.archive)}")
    client.download_file(target.bucket, keys.archive, str(archive))
    sha256 = file_sha256(archive)
    if sha256 != entry.sha256:
        say(f"note: the archive's sha256 is {sha256}, the manifest lists {entry.sha256}")
    profile = None
    if record.get("profile_data"):  # checked above: null, or an object naming a sha256
        wanted = record["profile_data"]["sha256"]
        key = s3.profile_key(target, wanted)
        profile = into / "profile.tar.zst"
        say(f"downloading {target.url(key)}")
        if s3.download_or_none(client, target.bucket, key, profile) is None:
            raise UsageError(f"{target.url(key)}, the profile the record names, is missing: the release build "
                             "cannot be repeated without it")
        if file_sha256(profile) != wanted:
            raise UsageError(f"{target.url(key)} does not hash to the sha256 its record and its name give")
    return Published(archive, sha256, record, profile)


def same_recipe(record: dict, runtime: str) -> list[str]:
    """Why this checkout cannot repeat the build the record describes ([] when it can)."""
    formulas = load_formulas(RUNTIMES)
    commit = (record.get("harness_revision") or {}).get("git_commit", "unknown")
    problems = []
    named = runtime_named(ROOT, runtime)  # a variant's build is named after its formula and variant
    base = named[0] if named else runtime
    if named is None:
        problems.append(f"this checkout has no formula {runtime}")
    elif formulas[base].file_hash != record.get("formula_sha256"):
        problems.append(f"builds/runtimes/{base}.toml differs from the formula that built it")
    elif formulas[base].patch_hashes() != record.get("patches", []):
        problems.append(f"builds/patches/ holds other patches for {base} than the ones that built it")
    if file_sha256(BUILD_SCRIPT) != record.get("build_script_sha256"):
        problems.append("builds/build-python.sh differs from the script that built it")
    if problems:
        problems.append(f"check out the commit that built it ({commit}) and run this again")
    return problems


def build(runtime: str, stack: str, arch: str, profile: str, out_dir: Path, profile_data: Path | None,
          say=print) -> tuple[int, dict, str]:
    """The pair built by the harness (a dry run) into out_dir: (exit status, what the pair
    recorded, the run's output). Its progress lines are passed on to say as they come (a release
    build takes a quarter of an hour)."""
    junit = out_dir / "rebuild.xml"
    base, variant = runtime_named(ROOT, runtime) or (runtime, DEFAULT)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_runtimes.py", "--runtimes", base,
               "--variants", variant, "--stacks", stack, "--arch", arch, "--profile", profile, "--out-dir", str(out_dir),
               f"--junitxml={junit}"]
    if profile_data:
        command.append(f"--profile-data={profile_data}")
    lines = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as run:
        for line in run.stdout:
            lines.append(line)
            if line.startswith("["):  # the harness's progress lines: "[  3:12] PAIR: build: compile"
                say("  " + line.rstrip())
    result = subprocess.CompletedProcess(command, run.returncode, "".join(lines))
    properties = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            properties.update({p.get("name"): p.get("value") for p in case.iter("property")})
    return result.returncode, properties, result.stdout


def image_changes(published: dict, rebuilt: dict) -> str | None:
    """How the rebuild's build image differs from the published build's, by package, or None."""
    before = ((published.get("images") or {}).get("build") or {}).get("packages")
    after = ((rebuilt.get("images") or {}).get("build") or {}).get("packages")
    if before is None or after is None or before == after:
        return None
    return images.describe_changes(before, after)


def _entries(archive: Path) -> dict[str, tuple]:
    """Each member of an archive: (kind, mode, size, sha256 of the content or the link target)."""
    entries = {}
    with archive_mod.open_tar(archive) as tar:
        for member in tar:
            if member.isfile():
                digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
                entries[member.name] = ("file", member.mode, member.size, digest)
            elif member.issym() or member.islnk():
                entries[member.name] = ("link", member.mode, 0, member.linkname)
            else:
                entries[member.name] = ("dir" if member.isdir() else "other", member.mode, 0, "")
    return entries


def differences(published: Path, rebuilt: Path) -> list[str]:
    """One line per member that differs between two archives, naming it and how."""
    ours, theirs = _entries(published), _entries(rebuilt)
    lines = []
    for name in sorted(set(ours) | set(theirs)):
        a, b = ours.get(name), theirs.get(name)
        if a == b:
            continue
        if a is None:
            lines.append(f"{name}: only in the rebuild")
        elif b is None:
            lines.append(f"{name}: only in the published archive")
        elif a[0] != b[0]:
            lines.append(f"{name}: a {a[0]} in the published archive, a {b[0]} in the rebuild")
        elif a[3] != b[3]:
            what = "link target" if a[0] == "link" else "content"
            sizes = f", {a[2]} vs {b[2]} bytes" if a[0] == "file" else ""
            lines.append(f"{name}: {what} differs (published {a[3][:16]}, rebuilt {b[3][:16]}{sizes})")
        else:
            lines.append(f"{name}: mode {a[1]:o} in the published archive, {b[1]:o} in the rebuild")
    return lines


def diffoscope(published: Path, rebuilt: Path) -> list[str]:
    """diffoscope's report on the two archives (Debian's diffoscope package), when it is installed."""
    if not shutil.which("diffoscope"):
        return []
    result = subprocess.run(["diffoscope", "--text", "-", "--no-progress", str(published), str(rebuilt)],
                            capture_output=True, text=True)
    lines = result.stdout.splitlines()
    if len(lines) > DIFFOSCOPE_LINES:
        lines = lines[:DIFFOSCOPE_LINES] + [f"... ({len(lines) - DIFFOSCOPE_LINES} more lines of diffoscope's report)"]
    return lines


def run(client, target: s3.Target, runtime: str, stack: str, arch: str, out_dir: Path | None, say) -> int:
    """The whole check; what it finds goes to stdout, progress to say. Returns the exit status."""
    with tempfile.TemporaryDirectory(prefix="pyruntimes-rebuild-") as work:
        work = Path(work)
        published = fetch(client, target, runtime, stack, arch, work, say)
        problems = same_recipe(published.record, runtime)
        if problems:
            raise UsageError("; ".join(problems))
        out = Path(out_dir).resolve() if out_dir else work / "out"
        profile = published.record.get("profile", "release")
        say(f"rebuilding {runtime} on {stack} ({profile}{', with the published profile' if published.profile else ''}) "
            f"in {out}")
        status, properties, output = build(runtime, stack, arch, profile, out, published.profile, say=say)
        rebuilt = Path(properties["archive"]) if properties.get("archive") else None
        if rebuilt is None or not rebuilt.exists():
            tail = "\n".join(output.splitlines()[-30:])
            raise UsageError(f"the rebuild did not produce an archive (pytest exit {status}); its output ends:\n{tail}")
        rebuilt_record = archive_mod.read_json(archive_mod.beside(rebuilt, archive_mod.RECORD_SUFFIX)) or {}
        rebuilt_sha256 = file_sha256(rebuilt)
        if rebuilt_sha256 == published.sha256:
            print(f"{runtime} on {stack}: rebuilt bit for bit (sha256 {rebuilt_sha256}, {rebuilt.stat().st_size} bytes)")
            return 0
        print(f"{runtime} on {stack}: the rebuild differs: published sha256 {published.sha256}, rebuilt {rebuilt_sha256}")
        changes = image_changes(published.record, rebuilt_record)
        if changes:
            print(f"the build image differs from the one that built it: {changes}")
        for line in differences(published.archive, rebuilt) or ["no member differs: the archives differ in how they are packed"]:
            print(line)
        for line in diffoscope(published.archive, rebuilt):
            print(line)
        return 1


def main(args) -> int:
    return on_bucket.run(args, "rebuild", lambda client, target: run(
        client, target, args.runtime, args.stack, args.arch, args.out_dir, say=on_bucket.say))
