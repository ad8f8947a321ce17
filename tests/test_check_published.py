"""`python -m harness check-published` (issue 16), run as a maintainer runs it, against a moto S3
server over real HTTP, after real publishes (harness/bucket/publish.py) and real tampering; and (issue 24)
what it, `rebuild` and `attest-subjects` make of bucket JSON of every other shape: one line per
problem, never a traceback, never exit status 0 for a manifest the harness would not write."""

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from harness.bucket import manifest, publish, s3
from tests.helpers import ROOT
from tests.test_publish import ENTRY, endpoint, local_build, schema_1, target  # noqa: F401  (fixtures)


def harness(target, command, *args, env=None):
    """`python -m harness COMMAND` against the target's bucket, as a maintainer runs it."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL_S3": target.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "S3_BUCKET": target.bucket, "S3_PREFIX": target.prefix, **(env or {})}
    env.pop("AWS_PROFILE", None)
    env.pop("PUBLIC_URL", None)
    return subprocess.run([sys.executable, "-m", "harness", command, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def check_published(target, *args):
    return harness(target, "check-published", *args)


def pair_build(tmp_path, target, runtime, stack="debian-12", arch="amd64"):
    """A local build of one pair whose record names its pair, as every record the harness writes does."""
    local = local_build(tmp_path, target, content=f"archive of {runtime} on {stack} ({arch})".encode(),
                        name=f"{runtime}-{stack}-{arch}.tar.zst", runtime=runtime)
    return replace(local, keys=s3.keys_for(target, stack, arch, runtime),
                   entry={**ENTRY, "arch": arch, "version": runtime.removeprefix("python-")},
                   record={**local.record, "stack": stack, "arch": arch,
                           "archive_size": local.archive.stat().st_size})


def publish_two(tmp_path, target):
    client = s3.client_for(target)
    locals_ = [pair_build(tmp_path, target, runtime) for runtime in ("python-3.11.2", "python-3.13.15")]
    for local in locals_:
        assert publish.publish(client, target, local).ok
    return client, locals_


def bucket_json(client, target, key):
    return json.loads(client.get_object(Bucket=target.bucket, Key=key)["Body"].read())


def put_json(client, target, key, document):
    client.put_object(Bucket=target.bucket, Key=key, Body=json.dumps(document).encode())


def assert_no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


def test_what_was_published_checks_out(tmp_path, target):
    publish_two(tmp_path, target)
    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 archive(s) listed, each present with its sha256" in result.stdout


@pytest.mark.parametrize("written", ["as the harness wrote it", 'with "schema": 1'])
def test_a_bucket_whose_manifest_is_schema_1_checks_out_and_attests(tmp_path, target, written):
    """What a harness before issue 25 published (amd64 at stacks.STACK.RUNTIME, arm64 under
    architectures) is still read by check-published and attest-subjects, and named where wrong."""
    client, locals_ = publish_two(tmp_path, target)
    arm64 = pair_build(tmp_path, target, "python-3.13.15", arch="arm64")
    assert publish.publish(client, target, arm64).ok
    key = target.prefix + "manifest.json"
    old = schema_1(bucket_json(client, target, key))
    assert set(old) == {"stacks", "architectures"} and set(old["stacks"]["debian-12"]) == {"python-3.11.2",
                                                                                           "python-3.13.15"}
    put_json(client, target, key, old if written == "as the harness wrote it" else {"schema": 1, **old})
    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 archive(s) listed, each present with its sha256" in result.stdout
    records = tmp_path / "records"
    records.mkdir()
    for local in (*locals_, arm64):
        (records / f"{local.keys.record.replace('/', '-')}").write_text(json.dumps(local.record))
    result = harness(target, "attest-subjects", str(records))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(f"{local.sha256}  {local.keys.archive}"
                                                        for local in (*locals_, arm64))
    # Its arm64 entry made wrong: named where the schema 1 manifest has it.
    old["architectures"]["arm64"]["stacks"]["debian-12"]["python-3.13.15"]["size"] = -1
    put_json(client, target, key, old)
    result = check_published(target)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{key}: architectures.arm64.stacks.debian-12.python-3.13.15.size is -1, "
                                          "should be a whole number of bytes"]


@pytest.mark.parametrize("schema", [3, "2", -1, 2.0, True, None], ids=repr)
def test_a_manifest_of_an_unknown_schema_is_refused_by_every_command_and_left_untouched(tmp_path, target, schema):
    """A manifest a newer (or broken) harness wrote: its shape cannot be known, so no command reads
    it and no publish writes over it: one line naming the field and the versions this one reads."""
    client, (old, new) = publish_two(tmp_path, target)
    key = target.prefix + "manifest.json"
    put_json(client, target, key, {**bucket_json(client, target, key), "schema": schema})
    before = client.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    line = (f"the manifest {target.url(key)}: schema is {manifest.shown(schema)}, a version this harness does not "
            'read (it reads 2, and 1: a manifest without "schema"); it is left as it is: use the harness that wrote '
            "it, or repair it, then rerun")
    records = tmp_path / "records"
    records.mkdir()
    (records / "python-3.13.15.tar.zst.json").write_text(json.dumps(new.record))
    for command in (["check-published"], ["rebuild", "python-3.13.15", "debian-12"], ["attest-subjects", str(records)]):
        result = harness(target, *command)
        assert_no_traceback(result)
        assert (result.returncode, result.stdout) == (1, ""), command
        assert result.stderr.strip().splitlines()[-1] == "error: " + line, command
        assert [text for text in result.stderr.splitlines() if text.startswith("error:")] == ["error: " + line]
    third = pair_build(tmp_path, target, "python-3.12.12")
    for step in (publish.publish, publish.assess, publish.settle_existing):
        with pytest.raises(manifest.Invalid) as refused:
            step(client, target, third if step is publish.publish else new)
        assert str(refused.value) == line
    assert client.get_object(Bucket=target.bucket, Key=key)["Body"].read() == before


def test_a_tampered_archive_a_missing_sbom_and_a_stray_are_each_named(tmp_path, target):
    client, (old, new) = publish_two(tmp_path, target)
    client.put_object(Bucket=target.bucket, Key=old.keys.archive, Body=b"archive of python-3.11.2, changed")
    client.delete_object(Bucket=target.bucket, Key=new.keys.sbom)
    stray = target.prefix + "debian-12/amd64/python-3.12.15.tar.zst"
    client.put_object(Bucket=target.bucket, Key=stray, Body=b"put there by hand")
    result = check_published(target)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{old.keys.archive}: sha256 ") and f"the manifest lists {old.sha256}" in line
               for line in lines), lines
    assert f"{old.keys.archive}: 33 bytes, the manifest lists {old.archive.stat().st_size}" in lines
    # Its sidecars still describe the published bytes, not these: they are named too.
    assert any(line.startswith(old.keys.sha256 + ": names ") for line in lines)
    assert f"{new.keys.sbom}: missing (the archive's SBOM)" in lines
    assert f"{stray}: an archive the manifest does not list" in lines
    for document in (old.keys.record, old.keys.sbom, old.keys.provenance):
        assert f"{document}: describes another archive than the one at python-3.11.2.tar.zst" in lines
    assert len(lines) == 8, lines  # and nothing else
    assert "8 problem(s)" in result.stderr


def test_a_deleted_archive_is_named(tmp_path, target):
    client, (old, _) = publish_two(tmp_path, target)
    client.delete_object(Bucket=target.bucket, Key=old.keys.archive)
    result = check_published(target)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{old.keys.archive}: missing (listed in the manifest)"]


def test_no_bucket_is_one_line(target):
    result = check_published(target, "--s3-bucket", "no-such-bucket-here")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: S3 failed: NoSuchBucket (HTTP 404)")
    assert "Traceback" not in result.stderr


def test_a_prefix_without_a_manifest_is_a_problem_not_a_pass(tmp_path, target):
    publish_two(tmp_path, target)
    result = check_published(target, "--s3-prefix", "runtimez")  # a typo of the prefix
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["runtimez/manifest.json: missing: the prefix has no manifest (is the prefix right?)"]


@pytest.mark.parametrize("body, line", [
    (b'{"stacks": {"debian-12": ["python-3.13.15"]}}',  # schema 1
     "stacks.debian-12 is a list, should be an object of runtimes ({RUNTIME: entry})"),
    (b'{"schema": 2, "stacks": {"debian-12": ["python-3.13.15"]}}',
     "stacks.debian-12 is a list, should be an object of architectures ({ARCH: {RUNTIME: entry}})"),
    (b'{"schema": 2, "stacks": {"debian-12": {"amd64": ["python-3.13.15"]}}}',
     "stacks.debian-12.amd64 is a list, should be an object of runtimes ({RUNTIME: entry})"),
], ids=["schema 1", "schema 2, stack", "schema 2, architecture"])
def test_a_manifest_of_the_wrong_shape_is_named_not_a_traceback(tmp_path, target, body, line):
    client, _ = publish_two(tmp_path, target)
    client.put_object(Bucket=target.bucket, Key=target.prefix + "manifest.json", Body=body)
    result = check_published(target)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert f"{target.prefix}manifest.json: {line}" in lines
    # ...and the two archives, which it no longer lists, are strays now.
    assert sum(line.endswith("an archive the manifest does not list") for line in lines) == 2


def test_a_release_builds_profile_is_published_by_its_sha256_and_checked(tmp_path, target):
    """Release builds publish the profile a rebuild needs (profiles/SHA256.profile.tar.zst): written
    before the archive by publish, proved by check-published, and named when it goes missing."""
    profile = tmp_path / "python-3.11.2.tar.zst.profile.tar.zst"
    profile.write_bytes(b"a profile's bytes")
    local = pair_build(tmp_path, target, "python-3.11.2")
    profile_sha = hashlib.sha256(profile.read_bytes()).hexdigest()
    local = replace(local, profile=profile,
                    record={**local.record, "profile_data": {"sha256": profile_sha, "size": 17, "given": False}})
    client = s3.client_for(target)
    assert publish.publish(client, target, local).ok
    key = f"{target.prefix}profiles/{profile_sha}.profile.tar.zst"
    assert client.get_object(Bucket=target.bucket, Key=key)["Body"].read() == b"a profile's bytes"

    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr  # and the profile is no stray archive
    client.put_object(Bucket=target.bucket, Key=key, Body=b"another profile")
    result = check_published(target)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{key}: sha256 {hashlib.sha256(b'another profile').hexdigest()}, "
                                          f"its name and the record say {profile_sha}"]
    client.delete_object(Bucket=target.bucket, Key=key)
    result = check_published(target)
    assert result.stdout.splitlines() == [f"{key}: missing (the profile a record names; a rebuild needs it)"]

    # A later run that finds the archive already there puts the missing profile back (from its own copy).
    outcome = publish.settle_existing(client, target, local)
    assert "profile" in outcome.repaired
    assert check_published(target).returncode == 0


# -- Issue 24: nothing read is trusted --------------------------------------------------------------

OTHER_PAIRS = {  # where the archive an entry points at really belongs, and its sidecars agree
    "stack": ("python-3.13.15", "debian-13", "amd64"),
    "arch": ("python-3.13.15", "debian-12", "arm64"),
    "runtime": ("python-3.11.2", "debian-12", "amd64"),
}


@pytest.mark.parametrize("schema", [1, 2])
@pytest.mark.parametrize("other", OTHER_PAIRS)
def test_an_entry_keyed_at_another_pair_is_named(tmp_path, target, other, schema):
    """The entry for python-3.13.15 on debian-12 (amd64) copied from another pair's, whose archive,
    checksum, record, SBOM and provenance are all there and consistent: every byte checks out, but
    a consumer asking for this pair would get the other's runtime. Before issue 24: exit status 0."""
    client = s3.client_for(target)
    runtime, stack, arch = OTHER_PAIRS[other]
    elsewhere = pair_build(tmp_path, target, runtime, stack, arch)
    assert publish.publish(client, target, elsewhere).ok
    document = bucket_json(client, target, target.prefix + "manifest.json")
    forged = dict(manifest.entry(document, stack, runtime, arch), arch="amd64")  # only the key gives it away
    manifest.runtimes_of(document, "debian-12", "amd64", create=True)["python-3.13.15"] = forged
    put_json(client, target, target.prefix + "manifest.json", document if schema == 2 else schema_1(document))

    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    right = s3.keys_for(target, "debian-12", "amd64", "python-3.13.15").archive
    assert result.stdout.splitlines() == [
        f"{target.prefix}manifest.json: stacks.debian-12{'.amd64' * (schema == 2)}.python-3.13.15.key is "
        f"'{elsewhere.keys.archive}', should be "
        f"'{right}': the layout's key of python-3.13.15 on debian-12 (amd64), where the manifest lists it"]


@pytest.mark.parametrize("schema", [1, 2])
@pytest.mark.parametrize("member", [["stacks", {}], "stacks"], ids=["list", "string"])
def test_an_architectures_member_that_is_not_an_object_is_named_and_never_published_over(tmp_path, target, member,
                                                                                          schema):
    """Before issue 24, check-published passed it, and the next arm64 publish crashed on it. Schema 1
    lists arm64 under architectures.arm64; schema 2 under stacks.debian-12.arm64."""
    client, (old, new) = publish_two(tmp_path, target)
    key = target.prefix + "manifest.json"
    document = bucket_json(client, target, key)
    if schema == 1:
        put_json(client, target, key, {**schema_1(document), "architectures": {"arm64": member}})
        where, what = "architectures.arm64", 'an object with stacks only ({"stacks": {STACK: {RUNTIME: entry}}})'
    else:
        document["stacks"]["debian-12"]["arm64"] = member
        put_json(client, target, key, document)
        where, what = "stacks.debian-12.arm64", "an object of runtimes ({RUNTIME: entry})"

    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    assert result.stdout.splitlines() == [
        f"{key}: {where} is {'a list' if isinstance(member, list) else repr(member)}, should be {what}"]

    arm64 = pair_build(tmp_path, target, "python-3.13.15", arch="arm64")
    before = client.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    with pytest.raises(manifest.Invalid) as refused:
        publish.publish(client, target, arm64)
    assert str(refused.value).startswith(f"the manifest {target.url(key)} is not what the harness writes: "
                                         f"{where} is ")
    assert "\n" not in str(refused.value) and "left as it is" in str(refused.value)
    assert client.get_object(Bucket=target.bucket, Key=key)["Body"].read() == before


def test_a_record_describing_another_pair_is_named(tmp_path, target):
    """The record beside python-3.13.15 on debian-12 says it was built for debian-13 (and names the
    right bytes): a rebuild would repeat another pair's recipe. Before issue 24: exit status 0."""
    client, (_, new) = publish_two(tmp_path, target)
    put_json(client, target, new.keys.record, {**new.record, "stack": "debian-13"})
    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    assert result.stdout.splitlines() == [
        f"{new.keys.record}: describes python-3.13.15 on debian-13 (amd64), not python-3.13.15 on debian-12 (amd64), "
        "where the manifest lists it (the archive's record)"]


def test_deeply_nested_json_is_one_line(tmp_path, target):
    """Nesting deeper than json's parser recurses (a RecursionError before issue 24), in the
    manifest and in a record."""
    client, (old, _) = publish_two(tmp_path, target)
    deep = b"[" * 100_000 + b"]" * 100_000
    client.put_object(Bucket=target.bucket, Key=old.keys.record, Body=deep)
    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    assert result.stdout.splitlines() == [f"{old.keys.record}: not JSON (the archive's record: nested too deeply)"]

    key = target.prefix + "manifest.json"
    client.put_object(Bucket=target.bucket, Key=key, Body=deep)
    for command in ("check-published", "rebuild python-3.13.15 debian-12", "attest-subjects ."):
        result = harness(target, *command.split())
        assert result.returncode == 1, command
        assert_no_traceback(result)
        assert result.stdout == ""
        assert result.stderr.strip().splitlines()[-1] == (
            f"error: the manifest {target.url(key)} is not valid JSON (nested too deeply); it is left as it is: "
            "repair or delete it, then rerun")


@pytest.mark.parametrize("schema", [1, 2])
def test_wrong_types_at_each_level_of_the_manifest_are_one_line_each(tmp_path, target, schema):
    """One manifest wrong in every way at once (the two real entries kept), in the shape of each
    schema: each problem is one line naming where and what would be right, and nothing else is named."""
    client, (old, new) = publish_two(tmp_path, target)
    key = target.prefix + "manifest.json"
    document = bucket_json(client, target, key)
    entries = document["stacks"]["debian-12"]["amd64"]
    good = entries["python-3.13.15"]
    runtimes = {
        "python-3.9.1": "an entry",
        "python-3.9.2": {**good, "key": 42},
        "python-3.9.25": {**good, "sha256": good["sha256"].upper()},
        "python-3.10.22": {**good, "sha256": good["sha256"] + "\n"},
        "python-3.12.15": {**good, "size": "46"},
        "python-3.13.5": {**good, "size": True},
        "python-3.13.18": {**good, "size": 46.0, "build_seconds": "fast", "signed": "yes"},
        "python-3.14.10": {name: value for name, value in good.items() if name != "sha256"},
        "python 3.15": good,
    }
    # Each at its own layout key (so that only the field named is wrong).
    for runtime, entry in runtimes.items():
        if isinstance(entry, dict) and runtime != "python 3.15" and entry.get("key") == good["key"]:
            entry["key"] = s3.keys_for(target, "debian-12", "amd64", runtime).archive
    del good["version"]  # missing, but what is read of it is right: still checked, and named
    entries.update(runtimes)
    if schema == 1:
        document = schema_1(document)
        document["stacks"]["heroku-24"] = []
        document["stacks"]["debian-13"] = {"arm64": {}}  # schema 2's level, its "schema" lost
        document["architectures"] = {"amd64": {"stacks": {}}, "arm64": {"stacks": "debian-12"},
                                     "riscv64": {"stacks": {}, "extra": 1}}
        document["version"] = 2
        at, frame = f"{key}: stacks.debian-12", [
            f"{key}: version is not a field the harness writes there (it writes stacks, architectures)",
            f"{key}: architectures.amd64 should not be there: amd64 runtimes are listed under stacks",
            f"{key}: architectures.riscv64.extra is not a field the harness writes there (it writes stacks)",
            f"{key}: architectures.arm64.stacks is 'debian-12', should be an object of stacks "
            "({STACK: {RUNTIME: entry}})",
            f"{key}: stacks.heroku-24 is an empty list, should be an object of runtimes ({{RUNTIME: entry}})",
            f"{key}: stacks.debian-13.arm64: an architecture where schema 1 lists runtimes (schema 2 lists "
            'stacks.STACK.ARCH.RUNTIME: is its "schema": 2 missing?)']
    else:
        document["stacks"]["heroku-24"] = []
        document["stacks"]["debian-13"] = {"amd64": "python-3.13.15", "arm 64": {}, "arm64": {}}
        document["stacks"]["debian/14"] = {}
        document["architectures"] = {"arm64": {"stacks": {}}}  # schema 1's level, in a schema 2 manifest
        at, frame = f"{key}: stacks.debian-12.amd64", [
            f"{key}: architectures is not a field the harness writes there (it writes schema, stacks)",
            f"{key}: stacks.heroku-24 is an empty list, should be an object of architectures "
            "({ARCH: {RUNTIME: entry}})",
            f"{key}: stacks.debian-13.amd64 is 'python-3.13.15', should be an object of runtimes ({{RUNTIME: entry}})",
            f"{key}: stacks.debian-13['arm 64']: not an architecture's name, should be a name of letters, digits and "
            "._+- (as python-3.13.15, debian-12, arm64)",
            f"{key}: stacks['debian/14']: not a stack's name, should be a name of letters, digits and ._+- "
            "(as python-3.13.15, debian-12, arm64)"]
    put_json(client, target, key, document)

    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    assert sorted(result.stdout.splitlines()) == sorted(frame + [
        f"{at}['python 3.15']: not a runtime's name, should be a name of letters, digits and ._+- "
        "(as python-3.13.15, debian-12, arm64)",
        f"{at}.python-3.9.1 is 'an entry', should be an object (an archive's entry: key, sha256, size, version, arch, "
        "formula_sha256, build_seconds, build_date, checks_passed, checks_total, end_of_life, variant)",
        f"{at}.python-3.9.2.key is 42, should be the archive's key, PREFIX/STACK/ARCH/RUNTIME.tar.zst",
        f"{at}.python-3.9.25.sha256 is '{good['sha256'].upper()}', should be 64 lowercase hex digits (a sha256)",
        f"{at}.python-3.10.22.sha256 is '{good['sha256']}\\n', should be 64 lowercase hex digits (a sha256)",
        f"{at}.python-3.12.15.size is '46', should be a whole number of bytes",
        f"{at}.python-3.13.5.size is true, should be a whole number of bytes",
        f"{at}.python-3.13.18.size is 46.0, should be a whole number of bytes",
        f"{at}.python-3.13.18.build_seconds is 'fast', should be a number of seconds, or null",
        f"{at}.python-3.13.18.signed is not a field the harness writes there (it writes key, sha256, size, version, "
        "arch, formula_sha256, build_seconds, build_date, checks_passed, checks_total, end_of_life, variant)",
        f"{at}.python-3.14.10.sha256 is missing, should be 64 lowercase hex digits (a sha256)",
        f"{at}.python-3.13.15.version is missing, should be a short printable string",
    ])
    assert f"{len(result.stdout.splitlines())} problem(s)" in result.stderr
    assert "2 archive(s) listed" in result.stderr  # the two real ones, still downloaded and proved


def test_records_sboms_and_statements_of_the_wrong_shape_are_one_line_each(tmp_path, target):
    """What check-published reads beside each archive, each of a shape the harness does not write
    (an SBOM whose hashes are a number crashed sbom.archive_sha256 before issue 24)."""
    client, (old, new) = publish_two(tmp_path, target)
    put_json(client, target, old.keys.record, {**old.record, "stack": ["debian-12"], "profile_data": "release"})
    put_json(client, target, old.keys.sbom, {"metadata": {"component": {"hashes": 5}}})
    put_json(client, target, old.keys.provenance, {"subject": "python-3.11.2.tar.zst"})
    put_json(client, target, new.keys.record, [new.record])
    put_json(client, target, new.keys.sbom, {"metadata": {"component": {"hashes": [
        {"alg": "SHA-256", "content": new.sha256}, {"alg": "SHA-256", "content": "0" * 64}]}}})
    put_json(client, target, new.keys.provenance, {"subject": [{"digest": {"sha256": 7}}]})

    result = check_published(target)
    assert result.returncode == 1
    assert_no_traceback(result)
    hashes = 'a list naming the archive\'s hash once as {"alg": "SHA-256", "content": 64 hex digits}'
    subject = 'a list of one {"name": ..., "digest": {"sha256": 64 hex digits}} (the archive)'
    assert sorted(result.stdout.splitlines()) == sorted([
        f"{old.keys.record}: stack is a list, should be a name of letters, digits and ._+- (as python-3.13.15, "
        "debian-12, arm64) (the archive's record)",
        f"{old.keys.record}: profile_data is 'release', should be null or "
        '{"sha256": ..., "size": ..., "given": ...} (the archive\'s record)',
        f"{old.keys.sbom}: metadata.component.hashes is 5, should be {hashes} (the archive's SBOM)",
        f"{old.keys.provenance}: subject is 'python-3.11.2.tar.zst', should be {subject} (the archive's provenance)",
        f"{new.keys.record}: the record is a list, should be an object (the archive's record)",
        f"{new.keys.sbom}: metadata.component.hashes is a list, should be {hashes} (the archive's SBOM)",
        f"{new.keys.provenance}: subject is a list, should be {subject} (the archive's provenance)",
    ])


# A record rebuild takes as written by another build script: should a check below let the record
# through, the rebuild refuses on the recipe, never starting a build.
REFUSED_RECIPE = {"profile": "quick", "formula_sha256": "f" * 64, "build_script_sha256": "b" * 64,
                  "harness_revision": {"git_commit": "1234567890abcdef"}}


def one_error_line(result, status):
    assert_no_traceback(result)
    assert result.returncode == status, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def in_schema(schema, document):
    """A schema 2 document as it is, or as schema 1 (tests/test_publish.py's schema_1)."""
    return document if schema == 2 else schema_1(document)


@pytest.mark.parametrize("schema", [1, 2])
def test_rebuild_given_a_wrong_manifest_or_record_is_one_line(tmp_path, target, schema):
    client, (old, new) = publish_two(tmp_path, target)
    key = target.prefix + "manifest.json"
    document = bucket_json(client, target, key)
    put_json(client, target, new.keys.record, {**new.record, **REFUSED_RECIPE})

    # The pair's entry keyed at the other pair's archive.
    entries = document["stacks"]["debian-12"]["amd64"]
    put_json(client, target, key, in_schema(schema, {"schema": 2, "stacks": {"debian-12": {"amd64": {
        **entries, "python-3.13.15": entries["python-3.11.2"]}}}}))
    line = one_error_line(harness(target, "rebuild", "python-3.13.15", "debian-12"), 1)
    assert line.startswith(f"error: the manifest {target.url(key)} lists python-3.13.15 on debian-12 (amd64) in an "
                           f"entry the harness does not write: stacks.debian-12{'.amd64' * (schema == 2)}."
                           f"python-3.13.15.key is '{old.keys.archive}'")

    # A frame that is not what the harness writes: no command uses the manifest.
    put_json(client, target, key, {**in_schema(schema, document), "architectures": "arm64"})
    line = one_error_line(harness(target, "rebuild", "python-3.13.15", "debian-12"), 1)
    assert line == (f"error: the manifest {target.url(key)} is not what the harness writes: " + (
        "architectures is 'arm64', should be an object {ARCH: {\"stacks\": {STACK: {RUNTIME: entry}}}}" if schema == 1
        else "architectures is not a field the harness writes there (it writes schema, stacks)")
        + "; it is left as it is: repair or delete it, then rerun")

    # The manifest right; the record of a wrong shape, or of another pair.
    put_json(client, target, key, in_schema(schema, document))
    for record, why in (({**new.record, **REFUSED_RECIPE, "profile_data": ["x"]}, "profile_data is a list"),
                        ({**new.record, **REFUSED_RECIPE, "harness_revision": "abc"}, "harness_revision is 'abc'"),
                        ({**new.record, **REFUSED_RECIPE, "images": {"build": {"packages": []}}},
                         "images.build.packages is an empty list"),
                        ({**new.record, **REFUSED_RECIPE, "arch": "arm64"},
                         "describes python-3.13.15 on debian-12 (arm64), not python-3.13.15 on debian-12 (amd64)")):
        put_json(client, target, new.keys.record, record)
        line = one_error_line(harness(target, "rebuild", "python-3.13.15", "debian-12"), 2)
        assert line.startswith(f"error: {target.url(new.keys.record)} is not a record of python-3.13.15 on debian-12 "
                               f"(amd64) as the harness writes it: {why}"), line

    # And with all of it right, the refusal is the recipe's: what rebuild did before.
    put_json(client, target, new.keys.record, {**new.record, **REFUSED_RECIPE})
    line = one_error_line(harness(target, "rebuild", "python-3.13.15", "debian-12"), 2)
    assert "builds/build-python.sh differs from the script that built it" in line


@pytest.mark.parametrize("schema", [1, 2])
def test_attest_subjects_given_a_wrong_manifest_or_records_is_one_line(tmp_path, target, schema):
    client, (old, new) = publish_two(tmp_path, target)
    key = target.prefix + "manifest.json"
    document = bucket_json(client, target, key)
    put_json(client, target, key, in_schema(schema, document))
    records = tmp_path / "records"
    (records / "a").mkdir(parents=True)
    (records / "a" / "python-3.13.15-release-k1.tar.zst.json").write_text(json.dumps(new.record))
    (records / "a" / "python-3.11.2-release-k1.tar.zst.json").write_text(json.dumps(old.record))
    result = harness(target, "attest-subjects", str(records))
    assert result.returncode == 0, result.stderr
    # In key order: python-3.11.2 first.
    assert result.stdout == f"{old.sha256}  {old.keys.archive}\n{new.sha256}  {new.keys.archive}\n"

    # The frame wrong: refused, one line.
    if schema == 1:
        put_json(client, target, key, {**schema_1(document), "architectures": {"arm64": "stacks"}})
    else:
        put_json(client, target, key, {**document, "stacks": {"debian-12": {**document["stacks"]["debian-12"],
                                                                            "arm64": "stacks"}}})
    line = one_error_line(harness(target, "attest-subjects", str(records)), 1)
    assert line.startswith(f"error: the manifest {target.url(key)} is not what the harness writes: "
                           f"{'architectures.arm64' if schema == 1 else 'stacks.debian-12.arm64'} is 'stacks'")
    assert harness(target, "attest-subjects", str(records)).stdout == ""

    # An entry that is a list (an AttributeError before issue 24), another keyed at the other pair's
    # archive, and a record whose stack is a list (unhashable before): none is a subject.
    entries = document["stacks"]["debian-12"]["amd64"]
    put_json(client, target, key, in_schema(schema, {"schema": 2, "stacks": {"debian-12": {"amd64": {
        "python-3.13.15": [entries["python-3.13.15"]], "python-3.11.2": entries["python-3.13.15"]}}}}))
    (records / "b").mkdir()
    (records / "b" / "python-3.11.2-release-k2.tar.zst.json").write_text(json.dumps({**old.record, "stack": ["x"]}))
    result = harness(target, "attest-subjects", str(records))
    assert_no_traceback(result)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"0 archive(s) built by this run and listed in s3://{target.bucket}/{target.prefix} with the same sha256"]


def test_publishing_restores_sidecars_of_a_wrong_shape_from_its_own_copy(tmp_path, target):
    """Publishing reads the bucket's copies through the same reader: an SBOM whose hashes are a
    number (sbom.archive_sha256 raised on it before issue 24) and a record nested deeper than json
    parses describe no archive, so a later run of the pair writes its own copies back."""
    client, (old, _) = publish_two(tmp_path, target)
    put_json(client, target, old.keys.sbom, {"metadata": {"component": {"hashes": 5}}})
    client.put_object(Bucket=target.bucket, Key=old.keys.record, Body=b"[" * 100_000 + b"]" * 100_000)
    assert check_published(target).returncode == 1
    outcome = publish.settle_existing(client, target, old)
    assert outcome.status is publish.Status.ALREADY_THERE
    assert set(outcome.repaired) == {"record", "SBOM"}
    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr
