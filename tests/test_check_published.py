"""`python -m harness check-published` (issue 16), run as a maintainer runs it, against a moto S3
server over real HTTP, after real publishes (harness/publish.py) and real tampering."""

import hashlib
import os
import subprocess
import sys
from dataclasses import replace

from harness import publish, s3
from tests.helpers import ROOT
from tests.test_publish import endpoint, local_build, target  # noqa: F401  (fixtures)


def check_published(target, *args):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL_S3": target.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "S3_BUCKET": target.bucket, "S3_PREFIX": target.prefix}
    env.pop("AWS_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "harness", "check-published", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def publish_two(tmp_path, target):
    client = s3.client_for(target)
    locals_ = [local_build(tmp_path, target, content=f"archive of {runtime}".encode(), name=f"{runtime}.tar.zst",
                           runtime=runtime) for runtime in ("python-3.11.2", "python-3.13.15")]
    for local in locals_:
        assert publish.publish(client, target, local).ok
    return client, locals_


def test_what_was_published_checks_out(tmp_path, target):
    publish_two(tmp_path, target)
    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 archive(s) listed, each present with its sha256" in result.stdout


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
    assert f"{old.keys.archive}: 33 bytes, the manifest lists 24" in lines
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


def test_a_manifest_of_the_wrong_shape_is_named_not_a_traceback(tmp_path, target):
    client, _ = publish_two(tmp_path, target)
    client.put_object(Bucket=target.bucket, Key=target.prefix + "manifest.json",
                      Body=b'{"stacks": {"debian-12": ["python-3.13.15"]}}')
    result = check_published(target)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert f"{target.prefix}manifest.json: stack 'debian-12' (amd64) is not an object of runtimes" in lines
    # ...and the two archives, which it no longer lists, are strays now.
    assert sum(line.endswith("an archive the manifest does not list") for line in lines) == 2


def test_a_release_builds_profile_is_published_by_its_sha256_and_checked(tmp_path, target):
    """Release builds publish the profile a rebuild needs (profiles/SHA256.profile.tar.zst): written
    before the archive by publish, proved by check-published, and named when it goes missing."""
    profile = tmp_path / "python-3.11.2.tar.zst.profile.tar.zst"
    profile.write_bytes(b"a profile's bytes")
    local = local_build(tmp_path, target, content=b"archive of python-3.11.2", runtime="python-3.11.2")
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
