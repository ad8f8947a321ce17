"""Fixtures shared by the test modules that need a real build."""

import json
import os
import urllib.request
import uuid

import boto3
import hypothesis
import pytest
from filelock import FileLock

from harness.bucket import s3server
from tests.helpers import QUICK_311, run_harness

# The fuzz tests (tests/test_fuzz_*.py): a bounded number of examples each, so `make test` stays
# within its time; no example database in the checkout; no per-example deadline (these machines are
# noisy, and a slow example is not a failure). HYPOTHESIS_PROFILE=long runs ten times as many.
hypothesis.settings.register_profile("default", max_examples=150, deadline=None, database=None,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile("long", parent=hypothesis.settings.get_profile("default"), max_examples=1500)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory):
    """A folder shared by this run's xdist workers (each has its own basetemp under one parent)."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    path = tmp_path_factory.getbasetemp().parent / f"shared-{run[:12]}"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def first_build(shared_dir):
    """One real build of python-3.11.2 on debian-12, made once per run whichever worker asks first;
    the others wait on the lock and get the same result."""
    result_file = shared_dir / "first-build.json"
    with FileLock(str(shared_dir / "first-build.lock")):
        if not result_file.exists():
            result = run_harness("test_runtimes.py", *QUICK_311, "--rebuild", "--out-dir", str(shared_dir / "out"))
            result_file.write_text(json.dumps({"returncode": result.returncode, "stdout": result.stdout,
                                               "stderr": result.stderr}))
    return json.loads(result_file.read_text()), shared_dir / "out"


@pytest.fixture
def s3():
    """An S3 API of the test's own, so it can look at what a run uploaded (or did not)."""
    server, endpoint = s3server.start()
    # moto keeps its buckets per process, not per server: start each test from an empty S3.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    yield endpoint, client
    server.stop()
