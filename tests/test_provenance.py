"""Issue 15: the provenance statement beside each archive, an in-toto Statement v1 with the SLSA
Provenance v1 predicate, held to the fields those specifications require (STATEMENT_SCHEMA)."""

import base64
import json
import subprocess

import jsonschema
import pytest

from harness import archive, provenance
from tests.helpers import verified_build

# What https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md and
# https://slsa.dev/spec/v1.0/provenance require of a statement, as a JSON Schema: the types, the
# required fields, a ResourceDescriptor's "at least one of uri, digest, content", digests as
# lowercase hex, TypeURIs as URIs, timestamps as RFC 3339.
RESOURCE_DESCRIPTOR = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "digest": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"}},
        "name": {"type": "string"},
        "downloadLocation": {"type": "string", "format": "uri"},
        "mediaType": {"type": "string"},
        "content": {"type": "string", "contentEncoding": "base64"},
        "annotations": {"type": "object"},
    },
    "anyOf": [{"required": ["uri"]}, {"required": ["digest"]}, {"required": ["content"]}],
    "additionalProperties": False,
}
STATEMENT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_type", "subject", "predicateType", "predicate"],
    "additionalProperties": False,
    "properties": {
        "_type": {"const": "https://in-toto.io/Statement/v1"},
        "subject": {"type": "array", "minItems": 1, "items": {"allOf": [RESOURCE_DESCRIPTOR, {"required": ["name", "digest"]}]}},
        "predicateType": {"const": "https://slsa.dev/provenance/v1"},
        "predicate": {
            "type": "object",
            "required": ["buildDefinition", "runDetails"],
            "additionalProperties": False,
            "properties": {
                "buildDefinition": {
                    "type": "object",
                    "required": ["buildType", "externalParameters"],
                    "additionalProperties": False,
                    "properties": {
                        "buildType": {"type": "string", "format": "uri"},
                        "externalParameters": {"type": "object", "minProperties": 1},
                        "internalParameters": {"type": "object"},
                        "resolvedDependencies": {"type": "array", "items": RESOURCE_DESCRIPTOR},
                    },
                },
                "runDetails": {
                    "type": "object",
                    "required": ["builder"],
                    "additionalProperties": False,
                    "properties": {
                        "builder": {
                            "type": "object",
                            "required": ["id"],
                            "additionalProperties": False,
                            "properties": {
                                "id": {"type": "string", "format": "uri"},
                                "version": {"type": "object", "additionalProperties": {"type": "string"}},
                                "builderDependencies": {"type": "array", "items": RESOURCE_DESCRIPTOR},
                            },
                        },
                        "metadata": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "invocationId": {"type": "string"},
                                "startedOn": {"type": "string", "format": "date-time"},
                                "finishedOn": {"type": "string", "format": "date-time"},
                            },
                        },
                        "byproducts": {"type": "array", "items": RESOURCE_DESCRIPTOR},
                    },
                },
            },
        },
    },
}


def problems(statement) -> list[str]:
    validator = jsonschema.Draft202012Validator(STATEMENT_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(statement)]


TRAINING = {"exit_status": 2, "test_files_run": 43, "tests_run": 8123, "failed": ["test_xml_etree"],
            "profile_files": 512, "ok": True}


def release_record(**changes):
    record = {
        "runtime": "python-3.13.15", "python_version": "3.13.15", "stack": "debian-12", "arch": "amd64",
        "profile": "release", "cache_key": "c" * 64, "archive_sha256": "a" * 64, "formula_sha256": "f" * 64,
        "build_script_sha256": "5" * 64, "configure_args": ["--with-foo"],
        "source": {"url": "https://www.python.org/ftp/python/3.13.15/Python-3.13.15.tar.xz", "sha256": "e" * 64},
        "images": {"build": {"id": "sha256:" + "b" * 64, "packages_sha256": "1" * 64, "packages": {}},
                   "run": {"id": "sha256:" + "d" * 64, "packages_sha256": "2" * 64, "packages": {}}},
        "pgo_training": TRAINING, "run_id": "0123456789ab",
        "build_started": "2026-11-24T20:21:00Z", "build_finished": "2026-11-24T20:38:12Z",
        "harness_revision": {"git_commit": "9" * 40, "git_tree_dirty": False},
    }
    return {**record, **changes}


def test_statement_of_a_release_build():
    statement = provenance.statement(release_record(), "python-3.13.15.tar.zst")
    assert problems(statement) == []
    assert statement["subject"] == [{"name": "python-3.13.15.tar.zst", "digest": {"sha256": "a" * 64}}]
    assert provenance.archive_sha256(statement) == "a" * 64
    definition = statement["predicate"]["buildDefinition"]
    assert definition["buildType"] == provenance.BUILD_TYPE
    assert definition["externalParameters"] == {"runtime": "python-3.13.15", "stack": "debian-12", "arch": "amd64",
                                                "profile": "release"}
    assert definition["internalParameters"] == {"build_script_sha256": "5" * 64, "formula_sha256": "f" * 64,
                                                "configure_args": ["--with-foo"], "cache_key": "c" * 64}
    source, build_image, run_image, training = definition["resolvedDependencies"]
    assert source == {"name": "Python-3.13.15.tar.xz", "uri": "https://www.python.org/ftp/python/3.13.15/Python-3.13.15.tar.xz",
                      "digest": {"sha256": "e" * 64}}
    assert build_image["digest"] == {"sha256": "b" * 64} and build_image["annotations"]["packages_sha256"] == "1" * 64
    assert run_image["digest"] == {"sha256": "d" * 64} and run_image["annotations"]["packages_sha256"] == "2" * 64
    assert json.loads(base64.b64decode(training["content"])) == TRAINING == training["annotations"]
    assert statement["predicate"]["runDetails"] == {
        "builder": {"id": f"{provenance.PROJECT_URI}@{'9' * 40}",
                    "version": {"git_commit": "9" * 40, "git_tree_dirty": "false"}},
        "metadata": {"invocationId": "0123456789ab", "startedOn": "2026-11-24T20:21:00Z",
                     "finishedOn": "2026-11-24T20:38:12Z"}}


def test_the_profile_a_release_build_made_is_a_byproduct_and_one_given_is_a_dependency():
    """Issue 15: a rebuild's input is the profile the first build made; the statement says which."""
    made = provenance.statement(release_record(profile_data={"sha256": "7" * 64, "size": 10, "given": False}), "p.tar.zst")
    assert problems(made) == []
    [byproduct] = made["predicate"]["runDetails"]["byproducts"]
    assert byproduct == {"name": f"profiles/{'7' * 64}.profile.tar.zst", "digest": {"sha256": "7" * 64},
                         "mediaType": "application/zstd", "annotations": {"given": False}}
    assert len(made["predicate"]["buildDefinition"]["resolvedDependencies"]) == 4  # source, images, training
    given = provenance.statement(release_record(profile_data={"sha256": "7" * 64, "size": 10, "given": True}), "p.tar.zst")
    assert problems(given) == []
    assert "byproducts" not in given["predicate"]["runDetails"]
    assert given["predicate"]["buildDefinition"]["resolvedDependencies"][3]["digest"] == {"sha256": "7" * 64}


def test_a_quick_build_from_an_older_record_says_unknown_and_has_no_training():
    """A record written before the run id, the times and the revision were: still a valid statement."""
    record = release_record(profile="quick", pgo_training=None)
    for field in ("run_id", "build_started", "build_finished", "harness_revision"):
        del record[field]
    statement = provenance.statement(record, "python-3.13.15.tar.zst")
    assert problems(statement) == []
    assert len(statement["predicate"]["buildDefinition"]["resolvedDependencies"]) == 3
    assert statement["predicate"]["runDetails"] == {
        "builder": {"id": f"{provenance.PROJECT_URI}@unknown", "version": {"git_commit": "unknown"}}, "metadata": {}}


def test_the_schema_is_not_a_formality():
    statement = provenance.statement(release_record(), "python-3.13.15.tar.zst")
    statement["predicate"]["runDetails"]["builder"]["id"] = "a builder"  # not a URI
    statement["predicate"]["runDetails"]["metadata"]["startedOn"] = "yesterday"
    del statement["predicate"]["buildDefinition"]["externalParameters"]
    statement["subject"][0]["digest"] = {}
    assert len(problems(statement)) == 4, problems(statement)


def test_statement_bytes_are_what_is_written_and_signed():
    """The signing seam: stable bytes, the same the out folder and the bucket hold."""
    statement = provenance.statement(release_record(), "python-3.13.15.tar.zst")
    data = provenance.statement_bytes(statement)
    assert data == archive.json_bytes(statement) == provenance.statement_bytes(json.loads(data))
    assert data.startswith(b'{\n  "_type": "https://in-toto.io/Statement/v1"')


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def test_harness_revision_is_the_checkout_s_commit_and_whether_it_is_dirty(tmp_path):
    project = tmp_path / "project"
    (project / "builds").mkdir(parents=True)
    (project / "builds" / "build-python.sh").write_text("echo\n")
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "one")
    commit = git(project, "rev-parse", "HEAD")
    assert provenance.harness_revision(project) == {"git_commit": commit, "git_tree_dirty": False}
    (project / "builds" / "new.toml").write_text("")  # untracked: a build may read it
    assert provenance.harness_revision(project) == {"git_commit": commit, "git_tree_dirty": True}
    # A copy of the project inside another checkout, and no checkout at all: unknown.
    (project / "copy").mkdir()
    assert provenance.harness_revision(project / "copy") == {"git_commit": "unknown", "git_tree_dirty": None}
    (tmp_path / "plain").mkdir()
    assert provenance.harness_revision(tmp_path / "plain") == {"git_commit": "unknown", "git_tree_dirty": None}


@pytest.mark.engine
@pytest.mark.build
def test_the_real_build_s_statement(first_build):
    _, record, _, data = verified_build(first_build)
    statement = json.loads(data)
    assert problems(statement) == []
    assert data == provenance.statement_bytes(statement)
    assert statement["subject"] == [{"name": "python-3.11.2.tar.zst", "digest": {"sha256": record["archive_sha256"]}}]
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert dependencies[0]["uri"] == record["source"]["url"] and len(dependencies) == 3  # quick: no training
    details = statement["predicate"]["runDetails"]
    assert details["metadata"]["startedOn"] <= details["metadata"]["finishedOn"]
    assert details["builder"]["version"]["git_commit"] == record["harness_revision"]["git_commit"] != "unknown"
