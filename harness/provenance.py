"""The provenance statement beside each archive: an in-toto Statement v1 whose predicate is SLSA
Provenance v1 (https://slsa.dev/spec/v1.0/provenance): what built the archive, from what, how.

It is made from the archive's record alone (statement()), so whoever has the record makes the same
statement again. Its subject is the archive under its published name (python-X.Y.Z.tar.zst) with
its sha256.

The build type, BUILD_TYPE, is this project's own; version 1 of it means these fields:
- externalParameters, what whoever ran the build chose: runtime (a formula,
  builds/runtimes/RUNTIME.toml), stack (stacks/STACK/stack.toml), arch, profile (release: PGO +
  LTO; quick: neither).
- internalParameters, what the project fixed: build_script_sha256 (builds/build-python.sh),
  formula_sha256, configure_args (the formula's extra flags), cache_key (harness/cache_policy.py
  archive_key(): a hash of every input that can change the archive's bytes).
- resolvedDependencies: the source tarball (its URL and sha256, checked before the build); the
  stack's build image and run image (the Docker image id as a sha256 digest, annotated with
  packages_sha256, the hash of the image's installed packages and versions that the record lists
  one by one); and for release builds the PGO training run, as its summary; and a profile given
  to the build (--profile-data: a rebuild), by the sha256 and bucket path it is published at.
- runDetails.byproducts: the profile a release build made and used (PREFIX/profiles/SHA256...),
  which a rebuild takes as its input.
- runDetails.builder: this project at the git commit it ran from (id PROJECT_URI@COMMIT; version:
  git_commit, and git_tree_dirty when the checkout had uncommitted changes), "unknown" when it did
  not run from a git checkout (a copy of the project, an unpacked tarball).
- runDetails.metadata: invocationId, the id of the harness run (its containers carry it as a
  label); startedOn and finishedOn of building and packaging.
Records written before these fields existed give "unknown" and no times.

Signing: not done yet. statement_bytes() are the exact bytes written beside the archive and
uploaded beside it; a CI signer signs those as the payload of a DSSE envelope (payloadType
PAYLOAD_TYPE) and publishes the envelope as ARCHIVE.intoto.jsonl, the name the suffix of the
unsigned statement (archive.PROVENANCE_SUFFIX) leaves free.
"""

import base64
import datetime
import subprocess
from pathlib import Path

from . import archive as archive_mod

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"  # what a DSSE envelope of the statement declares
# The project as a URI. It names the builder and the build type; the project has no public home
# yet, so it does not resolve: this is the one place to change when it gets one.
PROJECT_URI = "https://github.com/pyruntimes/pyruntimes"
BUILD_TYPE = f"{PROJECT_URI}/build@v1"
UNKNOWN = "unknown"


def harness_revision(root: Path) -> dict:
    """The git commit the project runs from and whether its checkout had uncommitted changes
    (untracked files count: a new formula is one), for the record; unknown when root is not the
    top of a git checkout or git is missing."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60)

    try:
        top = git("rev-parse", "--show-toplevel")
        # A copy of the project inside some other checkout must not report that one's commit.
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != Path(root).resolve():
            return {"git_commit": UNKNOWN, "git_tree_dirty": None}
        commit, status = git("rev-parse", "HEAD"), git("status", "--porcelain")
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": UNKNOWN, "git_tree_dirty": None}
    if commit.returncode != 0:
        return {"git_commit": UNKNOWN, "git_tree_dirty": None}
    return {"git_commit": commit.stdout.strip(),
            "git_tree_dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def now() -> str:
    """A timestamp as the record and the statement write them (RFC 3339, UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def statement(record: dict, name: str) -> dict:
    """The statement for the archive the record describes, published as `name`."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": record["archive_sha256"]}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {field: record[field] for field in ("runtime", "stack", "arch", "profile")},
                "internalParameters": {field: record[field] for field in
                                       ("build_script_sha256", "formula_sha256", "configure_args", "cache_key")},
                "resolvedDependencies": _resolved_dependencies(record),
            },
            "runDetails": {"builder": _builder(record.get("harness_revision") or {}),
                           "metadata": _metadata(record),
                           **({"byproducts": [_profile(record)]} if _made_profile(record) else {})},
        },
    }


def statement_bytes(statement: dict) -> bytes:
    """The signing seam: the bytes of the statement that are written beside the archive and
    uploaded, and that a signer signs (as a DSSE payload of PAYLOAD_TYPE)."""
    return archive_mod.json_bytes(statement)


def archive_sha256(statement: dict) -> str | None:
    """The sha256 of the archive a statement is about (to tell a stale copy from a current one)."""
    try:
        return statement["subject"][0]["digest"]["sha256"]
    except (KeyError, IndexError, TypeError):
        return None


def _resolved_dependencies(record: dict) -> list[dict]:
    source = record["source"]
    dependencies = [{"name": source["url"].rsplit("/", 1)[-1], "uri": source["url"],
                     "digest": {"sha256": source["sha256"]}}]
    # A cross build's build image is the machine's; the target's own (target_build) is where the
    # verification compiles a C extension and the embedding programs.
    for role, used_for in (("build", "building"), ("run", "verifying"), ("target_build", "verifying")):
        image = record["images"].get(role)
        if image is None:
            continue
        dependencies.append({"name": f"{record['stack']} {role} image",
                             "digest": {"sha256": image["id"].removeprefix("sha256:")},
                             "annotations": {"used_for": used_for, "packages_sha256": image["packages_sha256"]}})
    if isinstance(record.get("profile_data"), dict) and record["profile_data"].get("given"):
        dependencies.append(_profile(record))
    for name in ("pgo_training", "bolt_training"):
        training = record.get(name)
        if training:
            summary = archive_mod.json_bytes(training)
            dependencies.append({"name": name.replace("_", "-"), "mediaType": "application/json",
                                 "content": base64.b64encode(summary).decode(), "annotations": training})
    return dependencies


def _profile(record: dict) -> dict:
    """The release build's profile as a resource descriptor: where it is published, by its sha256."""
    profile = record["profile_data"]
    return {"name": f"profiles/{profile['sha256']}.profile.tar.zst", "digest": {"sha256": profile["sha256"]},
            "mediaType": "application/zstd", "annotations": {"given": bool(profile.get("given"))}}


def _made_profile(record: dict) -> bool:
    return isinstance(record.get("profile_data"), dict) and not record["profile_data"].get("given")


def _builder(revision: dict) -> dict:
    commit = revision.get("git_commit") or UNKNOWN
    version = {"git_commit": commit}
    if revision.get("git_tree_dirty") is not None:
        version["git_tree_dirty"] = str(revision["git_tree_dirty"]).lower()
    return {"id": f"{PROJECT_URI}@{commit}", "version": version}


def _metadata(record: dict) -> dict:
    fields = {"invocationId": record.get("run_id"), "startedOn": record.get("build_started"),
              "finishedOn": record.get("build_finished")}
    return {name: value for name, value in fields.items() if value}
