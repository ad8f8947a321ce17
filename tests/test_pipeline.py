"""The whole pipeline, for real: a quick-profile CPython build on debian-12, verified in the run
image and uploaded to the embedded S3, driven exactly as a user drives it."""

import json
import re
import subprocess

import pytest

from tests.helpers import copy_project, run_harness

pytestmark = [pytest.mark.engine, pytest.mark.build]

PAIR = "python-3.11.2-debian-12"


def table_row(output, pair):
    rows = [line.split() for line in output.splitlines() if line.startswith(pair + " ")]
    assert rows, output
    return rows[0]


def test_quick_build_verify_publish_then_reuse(tmp_path):
    out = tmp_path / "out"
    args = ["test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--profile", "quick",
            "--out-dir", str(out)]
    result = run_harness(*args, "--rebuild")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]

    # The table: pair, result, build time, verify time, checks, size, sha256.
    row = table_row(result.stdout, PAIR)
    assert row[1] == "passed" and re.fullmatch(r"\d+m\d\ds|\d+s", row[2]), row
    passed, total = map(int, row[4].split("/"))
    assert passed == total >= 20, row
    sha256 = row[-1]
    archives = list((out / "archives" / "debian-12" / "amd64").glob("python-3.11.2-quick-*.tar.zst"))
    assert len(archives) == 1
    archive = archives[0]
    assert str(archive) in result.stdout
    assert subprocess.run(["sha256sum", archive], capture_output=True, text=True).stdout.split()[0] == sha256

    # tar can read it, every path is relative, and the interpreter is there.
    names = subprocess.run(["tar", "--zstd", "-tf", archive], capture_output=True, text=True, check=True).stdout.split()
    assert "bin/python3" in names and "bin/python3.11" in names
    assert not [n for n in names if n.startswith(("/", "./")) or ".." in n.split("/")]
    assert not [n for n in names if "/test/" in n + "/" or n.endswith(".a")]

    # The record says what went in; the log is where the table says.
    record = json.loads(archive.with_name(archive.name + ".json").read_text())
    assert record["python_version"] == "3.11.2" and record["profile"] == "quick"
    assert record["images"]["build"] != record["images"]["run"]
    assert set(record["phase_seconds"]) >= {"configure", "compile", "install", "package"}
    log = out / "logs" / f"{PAIR}.log"
    assert "::phase:: compile" in log.read_text()

    # Dry run: published to the embedded S3 under the real layout.
    assert "published: s3://pyruntimes-dry-run/debian-12/amd64/python-3.11.2.tar.zst" in result.stdout

    # Same inputs again: reused, not rebuilt, and still verified and published.
    again = run_harness(*args)
    assert again.returncode == 0, again.stdout[-3000:]
    row = table_row(again.stdout, PAIR)
    assert row[1:3] == ["passed", "reused"] and row[-1] == sha256, row


def test_checksum_mismatch_fails_the_pair_before_compiling(tmp_path):
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.11.2.toml"
    wrong = "0" * 64
    formula.write_text(re.sub(r'sha256 = "[0-9a-f]{64}"', f'sha256 = "{wrong}"', formula.read_text()))
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_harness("--runtimes", "python-3.11.2", "--stacks", "debian-12", "--profile", "quick",
                         "--out-dir", str(out), cwd=project, env={"PYRUNTIMES_CACHE": str(cache)})
    assert result.returncode == 1, result.stdout[-3000:]
    assert table_row(result.stdout, PAIR)[1] == "FAILED"
    reason = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("failed: ")]
    assert len(reason) == 1 and f"no source for python-3.11.2 matched sha256 {wrong}" in reason[0], reason
    assert "Traceback" not in result.stdout
    assert not (out / "logs").exists()  # no build started
    assert not [p for p in (cache / "sources").rglob("*") if p.is_file() and not p.name.endswith(".lock")]
