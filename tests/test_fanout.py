"""A release fanned out over CI runners (issue 16), simulated here: several harness processes at
once, each with its own out folder and its own cache (as separate runners have; the verified
sources copied in, as the release workflow restores them by sha256), each publishing a disjoint
slice of one matrix to the same S3 API (one moto server over HTTP). Then the bucket must hold
every pair in its manifest, `check-published` must pass, and after one archive is tampered with and
another's SBOM deleted, it must fail naming both.

The slices are quick builds published by dry runs pointed at that server (PYRUNTIMES_DRY_RUN_S3):
the same publish code as --deploy (harness/bucket/publish.py), without release builds' 15 minutes per pair.
Three builds at once: slow, so `make test-slow`."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from harness import layout
from harness.bucket import s3, s3server
from tests.helpers import NATIVE, ROOT, table_row
from tests.test_check_published import check_published
from tests.test_publish import endpoint, target  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.engine, pytest.mark.build, pytest.mark.slow]

# The matrix of this release, and the slice each runner gets (one pair each here).
SLICES = [("python-3.11.2", "debian-12"), ("python-3.13.15", "debian-12"), ("python-3.13.15", "debian-13")]


def runner(tmp_path, target, runtime, stack, number):
    """One runner's harness: its own out folder and cache, the shared bucket."""
    cache = tmp_path / f"runner-{number}" / "cache"
    shutil.copytree(layout.cache_dir() / "sources", cache / "sources")  # restored by sha256, as in CI
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))}
    env.update({"PYRUNTIMES_CACHE": str(cache), s3server.ENDPOINT_ENV: target.endpoint,
                "PYRUNTIMES_RUN_ID": f"fanout{number}{os.getpid()}"[:12]})
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_runtimes.py", "--runtimes", runtime,
         "--stacks", stack, "--arch", NATIVE, "--profile", "quick", "--rebuild", "--s3-bucket", target.bucket,
         "--s3-prefix", target.prefix, "--out-dir", str(tmp_path / f"runner-{number}" / "out")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_runners_publishing_disjoint_slices_at_once_leave_one_complete_bucket(tmp_path, target):
    runners = [runner(tmp_path, target, runtime, stack, number) for number, (runtime, stack) in enumerate(SLICES)]
    outputs = [process.communicate(timeout=3600)[0] for process in runners]
    for process, output in zip(runners, outputs):
        assert process.returncode == 0, output[-4000:]
    for (runtime, stack), output in zip(SLICES, outputs):
        assert table_row(output, f"{runtime}-{stack}")[1] == "passed", output[-3000:]

    client = s3.client_for(target)
    manifest = json.loads(client.get_object(Bucket=target.bucket, Key=target.prefix + "manifest.json")["Body"].read())
    listed = {(runtime, stack) for stack, arches in manifest["stacks"].items() for runtimes in arches.values()
              for runtime in runtimes}
    assert listed == set(SLICES)  # every runner's entry, none lost to another's concurrent update

    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 archive(s) listed, each present" in result.stdout

    tampered = s3.keys_for(target, "debian-12", "amd64", "python-3.13.15")
    client.put_object(Bucket=target.bucket, Key=tampered.archive, Body=b"not what was built")
    unsigned = s3.keys_for(target, "debian-13", "amd64", "python-3.13.15")
    client.delete_object(Bucket=target.bucket, Key=unsigned.sbom)
    result = check_published(target)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{tampered.archive}: sha256 ") for line in lines), lines
    assert f"{unsigned.sbom}: missing (the archive's SBOM)" in lines
    assert not any(line.startswith(s3.keys_for(target, "debian-12", "amd64", "python-3.11.2").archive)
                   for line in lines), lines  # the untouched pair is not named
