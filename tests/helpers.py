"""Running the harness for real, as a user would: `python -m pytest` in a subprocess."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness import settings

ROOT = Path(__file__).resolve().parent.parent
# The pair the pipeline tests build for real: the fastest of the runtimes buildable here.
QUICK_311 = ["--runtimes", "python-3.11.2", "--stacks", "debian-12", "--profile", "quick"]
PROJECT_FILES = ("conftest.py", "test_runtimes.py", "pytest.ini", "harness", "builds", "stacks")


def run_harness(*args, cwd=ROOT, env=None, timeout=3600):
    """Run the harness's pytest; return the CompletedProcess (stdout and stderr as text).

    env: variables to set; a value of None removes the variable."""
    full_env = {**os.environ, **(env or {})}
    full_env = {key: value for key, value in full_env.items() if value is not None}
    full_env.pop("PYTEST_XDIST_WORKER", None)
    full_env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    full_env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def copy_project(dest: Path) -> Path:
    """A copy of the harness to edit (a broken formula, a changed stack) without touching ours."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def source_cache() -> Path:
    return settings.cache_dir()


def table_row(output, pair):
    """The summary table's row of a pair, split into cells."""
    rows = [line.split() for line in output.splitlines() if line.startswith(pair + " ")]
    assert rows, output[-3000:]
    return rows[0]


def failure_reason(output):
    reasons = [line.strip() for line in output.splitlines() if line.strip().startswith("failed: ")]
    assert len(reasons) == 1, output[-3000:]
    return reasons[0]


def uploaded_keys(client, bucket="pyruntimes-dry-run"):
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    if bucket not in names:
        return []
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
