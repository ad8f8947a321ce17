"""Publishing against a moto S3 server over real HTTP on loopback."""

import concurrent.futures
import hashlib
import json

import pytest

from harness import publish, s3server
from harness.errors import PairError


@pytest.fixture(scope="module")
def endpoint():
    server, url = s3server.start()
    yield url
    server.stop()


@pytest.fixture
def target(endpoint, request):
    bucket = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    target = publish.Target(bucket=bucket, prefix=publish.normalise_prefix("/runtimes"), endpoint=endpoint)
    publish.ensure_bucket(publish.s3_client(target), bucket)
    return target


def make_archive(tmp_path, content=b"archive bytes", name="python-3.13.15.tar.zst"):
    path = tmp_path / name
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def test_prefix_forms_are_equivalent():
    assert {publish.normalise_prefix(p) for p in ("python", "python/", "/python/")} == {"python/"}
    assert publish.normalise_prefix("") == ""


def test_publish_uploads_archive_checksum_and_record(tmp_path, target):
    client = publish.s3_client(target)
    archive, sha = make_archive(tmp_path)
    keys = publish.keys_for(target, "debian-12", "amd64", "python-3.13.15")
    assert keys["archive"] == "runtimes/debian-12/amd64/python-3.13.15.tar.zst"
    assert publish.publish(client, target, keys, archive, sha, {"runtime": "python-3.13.15"}) == "published"
    body = client.get_object(Bucket=target.bucket, Key=keys["archive"])["Body"].read()
    assert body == archive.read_bytes()
    assert client.get_object(Bucket=target.bucket, Key=keys["sha256"])["Body"].read().decode().split()[0] == sha
    record = json.loads(client.get_object(Bucket=target.bucket, Key=keys["record"])["Body"].read())
    assert record == {"runtime": "python-3.13.15"}


def test_existing_archive_is_never_overwritten_without_overwrite(tmp_path, target):
    client = publish.s3_client(target)
    keys = publish.keys_for(target, "debian-12", "amd64", "python-3.13.15")
    first, first_sha = make_archive(tmp_path, b"first build", "a.tar.zst")
    second, second_sha = make_archive(tmp_path, b"second build", "b.tar.zst")
    publish.publish(client, target, keys, first, first_sha, {})
    assert publish.publish(client, target, keys, first, first_sha, {}) == "already published, same sha256"
    outcome = publish.publish(client, target, keys, second, second_sha, {})
    assert outcome.startswith(f"already published with sha256 {first_sha}, which differs")
    assert client.get_object(Bucket=target.bucket, Key=keys["archive"])["Body"].read() == b"first build"
    assert publish.publish(client, target, keys, second, second_sha, {}, overwrite=True) == "published (overwrite)"
    assert client.get_object(Bucket=target.bucket, Key=keys["archive"])["Body"].read() == b"second build"


def test_two_concurrent_deploys_of_one_key_make_one_write(tmp_path, target):
    keys = publish.keys_for(target, "debian-12", "amd64", "python-3.11.2")
    archives = [make_archive(tmp_path, f"build {i}".encode() * 10000, f"{i}.tar.zst") for i in range(2)]

    def deploy(i):
        path, sha = archives[i]
        return publish.publish(publish.s3_client(target), target, keys, path, sha, {})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(deploy, range(2)))
    assert sorted(o.split(" with")[0].split(",")[0] for o in outcomes) == ["already published", "published"], outcomes
    stored = publish.s3_client(target).get_object(Bucket=target.bucket, Key=keys["archive"])["Body"].read()
    assert stored in (archives[0][0].read_bytes(), archives[1][0].read_bytes())


def test_eight_concurrent_manifest_updates_all_land(target):
    def update(i):
        publish.update_manifest(publish.s3_client(target), target, "debian-12", f"python-3.13.{i}",
                                {"version": f"3.13.{i}", "sha256": str(i)})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(update, range(8)))
    client = publish.s3_client(target)
    manifest = json.loads(client.get_object(Bucket=target.bucket, Key="runtimes/manifest.json")["Body"].read())
    assert sorted(manifest["stacks"]["debian-12"]) == sorted(f"python-3.13.{i}" for i in range(8))


def test_unreachable_s3_is_one_clear_error(tmp_path):
    target = publish.Target(bucket="nowhere", prefix="", endpoint="http://127.0.0.1:9")
    archive, sha = make_archive(tmp_path)
    keys = publish.keys_for(target, "debian-12", "amd64", "python-3.13.15")
    with pytest.raises(PairError, match=f"S3 unreachable .*the archive is kept at {archive}"):
        publish.publish(publish.s3_client(target), target, keys, archive, sha, {})
    assert archive.exists()


def test_s3_errors_then_recovery_still_publishes(tmp_path, endpoint):
    """The first 4 requests get 503 SlowDown over the wire; botocore's standard retry mode must
    carry the upload through, and the read-back must still match."""
    from tests.faulty_s3 import FaultyProxy

    bucket = "flaky-bucket"
    publish.ensure_bucket(publish.s3_client(publish.Target(bucket=bucket, prefix="", endpoint=endpoint)), bucket)
    proxy = FaultyProxy(endpoint, fail_first=4)
    try:
        target = publish.Target(bucket=bucket, prefix="", endpoint=proxy.endpoint)
        archive, sha = make_archive(tmp_path)
        keys = publish.keys_for(target, "debian-12", "amd64", "python-3.13.15")
        assert publish.publish(publish.s3_client(target), target, keys, archive, sha, {}) == "published"
        assert proxy.failed == 4
    finally:
        proxy.stop()
    stored = publish.s3_client(publish.Target(bucket=bucket, prefix="", endpoint=endpoint)).get_object(
        Bucket=bucket, Key=keys["archive"])["Body"].read()
    assert stored == archive.read_bytes()
