"""`python -m harness rebuild` (issue 15): what the bucket publishes, built again from its record in a
fresh out folder, compared byte for byte; run as a maintainer runs it, against a moto S3 server over
real HTTP, after a real publish of a real build.

The build published is the suite's first build (python-3.11.2 on debian-12, quick profile); the
rebuild is a second real build from nothing, in another out folder: the two must have the same
sha256. Then one file inside the published archive is changed, and the check names it. Release
builds add their profile to what is published; tests/test_deploy.py (slow) covers that path."""

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
import zstandard

from harness import archive
from harness.bucket import publish, s3
from tests.helpers import ROOT, verified_build
from tests.test_publish import endpoint, target  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.engine, pytest.mark.build]


def rebuild(target, *args):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL_S3": target.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "S3_BUCKET": target.bucket, "S3_PREFIX": target.prefix}
    for name in ("AWS_PROFILE", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "harness", "rebuild", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)


def publish_first_build(first_build, target):
    """The first build's archive and the files beside it, published as a deploy publishes them."""
    built, record, document, statement = verified_build(first_build)
    local = publish.Local(
        keys=s3.keys_for(target, "debian-12", "amd64", "python-3.11.2"), cache_key=record["cache_key"],
        entry={"version": "3.11.2", "arch": "amd64", "formula_sha256": record["formula_sha256"],
               "build_seconds": record["build_seconds"]},
        record=record, archive=built, sha256=record["archive_sha256"], sbom=document, provenance=json.loads(statement))
    assert publish.publish(s3.client_for(target), target, local).ok
    return local


def changed_archive(data: bytes, member: str) -> bytes:
    """The archive with one member's content changed (a byte added), everything else as it was."""
    out = io.BytesIO()
    with tarfile.open(fileobj=zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)), mode="r|") as source, \
            zstandard.ZstdCompressor().stream_writer(out, closefd=False) as zstream, \
            tarfile.open(fileobj=zstream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for info in source:
            content = source.extractfile(info).read() if info.isfile() else None
            if info.name == member:
                content += b"\n# changed in the bucket\n"
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


def test_a_published_build_is_rebuilt_bit_for_bit_and_a_tampered_one_is_named(first_build, target, tmp_path):
    local = publish_first_build(first_build, target)
    out = tmp_path / "rebuild-out"

    result = rebuild(target, "python-3.11.2", "debian-12", "--out-dir", str(out))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.strip() == (f"python-3.11.2 on debian-12: rebuilt bit for bit (sha256 {local.sha256}, "
                                     f"{local.archive.stat().st_size} bytes)")
    # A second build, from nothing, in another out folder: not the first build's archive reused.
    [rebuilt] = (out / "archives" / "debian-12" / "amd64").glob("python-3.11.2-quick-*.tar.zst")
    assert rebuilt != local.archive and archive.beside(rebuilt, archive.RECORD_SUFFIX).exists()
    assert "rebuilding python-3.11.2 on debian-12 (quick)" in result.stderr

    client = s3.client_for(target)
    published = client.get_object(Bucket=target.bucket, Key=local.keys.archive)["Body"].read()
    client.put_object(Bucket=target.bucket, Key=local.keys.archive,
                      Body=changed_archive(published, "lib/python3.11/os.py"))
    # The same out folder: the rebuild made above (same inputs) is reused, not made a third time.
    result = rebuild(target, "python-3.11.2", "debian-12", "--out-dir", str(out))
    assert result.returncode == 1, (result.stdout + result.stderr)[-4000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("python-3.11.2 on debian-12: the rebuild differs: published sha256 ")
    assert lines[0].endswith(f", rebuilt {local.sha256}")
    assert any(line.startswith("lib/python3.11/os.py: content differs (published ") for line in lines), lines
    differing = [line for line in lines[1:] if ": " in line and not line.startswith(("@@", "---", "+++", "│", "├", "┊"))]
    assert [line.split(": ")[0] for line in differing if "differs (published" in line] == ["lib/python3.11/os.py"]


@pytest.mark.parametrize("schema", [1, 2])
def test_a_record_made_by_another_build_script_is_refused_naming_the_commit(tmp_path, target, schema):
    client = s3.client_for(target)
    record = {"runtime": "python-3.11.2", "archive_sha256": "0" * 64, "profile": "quick",
              "formula_sha256": "f" * 64, "build_script_sha256": "b" * 64,
              "harness_revision": {"git_commit": "1234567890abcdef"}}
    keys = s3.keys_for(target, "debian-12", "amd64", "python-3.11.2")
    client.put_object(Bucket=target.bucket, Key=keys.archive, Body=b"not really an archive")
    client.put_object(Bucket=target.bucket, Key=keys.record, Body=json.dumps(record).encode())
    listed = {"python-3.11.2": {"key": keys.archive, "sha256": "0" * 64, "size": 21}}
    # As the harness writes it (schema 2), and as it wrote it before issue 25 (schema 1): both read.
    document = ({"schema": 2, "stacks": {"debian-12": {"amd64": listed}}} if schema == 2
                else {"stacks": {"debian-12": listed}})
    client.put_object(Bucket=target.bucket, Key=target.prefix + "manifest.json", Body=json.dumps(document).encode())
    result = rebuild(target, "python-3.11.2", "debian-12")
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "builds/runtimes/python-3.11.2.toml differs from the formula that built it" in line
    assert "builds/build-python.sh differs from the script that built it" in line
    assert "check out the commit that built it (1234567890abcdef)" in line
    assert "Traceback" not in result.stderr


def test_a_pair_the_manifest_does_not_list_is_one_line(target):
    result = rebuild(target, "python-3.13.15", "debian-13")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "does not exist: nothing is published under this prefix" in result.stderr
    assert "Traceback" not in result.stderr
