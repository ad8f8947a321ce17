"""--deploy, for real: a release-profile build (PGO + LTO, the only profile that may be deployed)
uploaded through boto3's credential chain to an S3 API over HTTP (a moto server standing in for
the bucket). Slow: the release build alone takes minutes, so these run with `make test-slow`."""

import json
import os
import subprocess
import uuid

import boto3
import pytest
from filelock import FileLock

from harness.bucket import s3server
from tests.helpers import NATIVE, run_harness
from tests.test_pipeline import table_row

pytestmark = [pytest.mark.engine, pytest.mark.build, pytest.mark.slow]

RELEASE_311 = ["test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", NATIVE]
CANARY_KEY, CANARY_SECRET, CANARY_TOKEN = "AKIACANARY7Q2W", "canary-secret-5e1d9b", "canary-token-80c4f1"


@pytest.fixture(scope="module")
def s3():
    server, endpoint = s3server.start()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    yield endpoint, client
    server.stop()


@pytest.fixture(scope="session")
def release_out(tmp_path_factory):
    """The out folder in which python-3.11.2 (release) on debian-12 is built once for these tests."""
    out = tmp_path_factory.getbasetemp().parent / f"release-{(os.environ.get('PYTEST_XDIST_TESTRUNUID') or uuid.uuid4().hex)[:12]}"
    out.mkdir(exist_ok=True)
    return out


def keys(client, bucket):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", []))


def expected_keys(prefix, client, bucket):
    """The archive, its sidecars, the manifest, the release build's profile under profiles/ by
    the sha256 its record names (what `python -m harness rebuild` needs), and the listings (the
    stack's uv catalog, the index page)."""
    base = f"{prefix}debian-12/amd64/python-3.11.2.tar.zst"
    record = json.loads(client.get_object(Bucket=bucket, Key=base + ".json")["Body"].read())
    profile = f"{prefix}profiles/{record['profile_data']['sha256']}.profile.tar.zst"
    return sorted([base, base + ".json", base + ".sha256", base + ".cdx.json", base + ".provenance.json",
                   f"{prefix}manifest.json", profile, f"{prefix}debian-12/python-downloads.json", f"{prefix}index.html"])


def test_deploy_with_bucket_and_prefix_from_the_environment(release_out, s3):
    endpoint, client = s3
    bucket = "env-" + uuid.uuid4().hex[:12]
    client.create_bucket(Bucket=bucket)
    with FileLock(str(release_out) + ".lock"):
        result = run_harness(*RELEASE_311, "--deploy", "--out-dir", str(release_out), env={
            "S3_BUCKET": bucket, "S3_PREFIX": "python/runtimes/", "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_EC2_METADATA_DISABLED": "true"})
    assert result.returncode == 0, result.stdout[-4000:]
    assert keys(client, bucket) == expected_keys("python/runtimes/", client, bucket)
    manifest = json.loads(client.get_object(Bucket=bucket, Key="python/runtimes/manifest.json")["Body"].read())
    assert manifest["schema"] == 2
    entry = manifest["stacks"]["debian-12"]["amd64"]["python-3.11.2"]
    assert entry["sha256"] == table_row(result.stdout, "python-3.11.2-debian-12")[-1]
    # The record accounts for the PGO training run: how many test files ran, which failed.
    record_key = "python/runtimes/debian-12/amd64/python-3.11.2.tar.zst.json"
    record = json.loads(client.get_object(Bucket=bucket, Key=record_key)["Body"].read())
    training = record["pgo_training"]
    assert training["ok"] and training["test_files_run"] >= 40 and training["profile_files"] > 100, training

    # Deploying the same runtime again does not write: it is already there, with the same bytes.
    with FileLock(str(release_out) + ".lock"):
        again = run_harness(*RELEASE_311, "--deploy", "--out-dir", str(release_out), env={
            "S3_BUCKET": bucket, "S3_PREFIX": "python/runtimes", "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_EC2_METADATA_DISABLED": "true"})
    assert again.returncode == 0, again.stdout[-3000:]
    assert f"already published, sha256 {entry['sha256']}" in again.stdout
    assert "building" not in again.stderr  # known to be there: not built again


def test_deploy_from_an_env_file_leaks_no_credentials(release_out, s3, tmp_path):
    """Canary credentials in the env file and the environment must appear nowhere: not in an image's
    config or history, a log, the archive, the record, the JUnit XML, the report or the bucket."""
    endpoint, client = s3
    bucket = "file-" + uuid.uuid4().hex[:12]
    client.create_bucket(Bucket=bucket)
    env_file = tmp_path / "deploy.env"
    env_file.write_text(f"S3_BUCKET={bucket}\nS3_PREFIX=/rt\nAWS_ENDPOINT_URL_S3={endpoint}\n"
                        f"AWS_ACCESS_KEY_ID={CANARY_KEY}\nAWS_SECRET_ACCESS_KEY={CANARY_SECRET}\nAWS_SESSION_TOKEN\n")
    junit = tmp_path / "report.xml"
    with FileLock(str(release_out) + ".lock"):
        result = run_harness(*RELEASE_311, "--deploy", "--out-dir", str(release_out), f"--env-file={env_file}",
                             f"--junitxml={junit}",
                             env={"AWS_SESSION_TOKEN": CANARY_TOKEN, "AWS_EC2_METADATA_DISABLED": "true",
                                  "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None})
    assert result.returncode == 0, result.stdout[-4000:]
    assert keys(client, bucket) == expected_keys("rt/", client, bucket)

    canaries = (CANARY_KEY, CANARY_SECRET, CANARY_TOKEN)
    places = {"report": result.stdout + result.stderr, "junit": junit.read_text()}
    for path in release_out.rglob("*"):
        if path.is_file() and not path.name.endswith(".tar.zst"):
            places[str(path)] = path.read_text(errors="replace")
    for archive in release_out.rglob("*.tar.zst"):
        places[str(archive)] = subprocess.run(["bash", "-c", f"tar --zstd -xOf '{archive}' | strings"],
                                              capture_output=True, text=True).stdout
    images = subprocess.run(["docker", "images", "-q", "--filter", "reference=pyruntimes/*"],
                            capture_output=True, text=True, check=True).stdout.split()
    for image in set(images):
        places[f"image {image}"] = subprocess.run(
            ["bash", "-c", f"docker image inspect {image}; docker history --no-trunc {image}"],
            capture_output=True, text=True, check=True).stdout
    for obj in keys(client, bucket):
        places[f"s3 {obj}"] = client.get_object(Bucket=bucket, Key=obj)["Body"].read().decode(errors="replace")
    leaks = [(where, canary) for where, text in places.items() for canary in canaries if canary in text]
    assert leaks == [], leaks
    assert len(places) > 10
