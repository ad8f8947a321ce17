"""The whole pipeline, for real: quick-profile CPython builds on debian-12, verified in the run
image and uploaded to an S3 API over HTTP, driven exactly as a user drives it."""

import json
import os
import re
import subprocess

import pytest

from harness.bucket import s3server
from tests.helpers import QUICK_311, copy_project, failure_reason, run_harness, table_row, uploaded_keys

pytestmark = [pytest.mark.engine, pytest.mark.build]

PAIR = "python-3.11.2-debian-12"


def test_quick_build_verify_publish_then_reuse(first_build):
    result, out = first_build
    assert result["returncode"] == 0, (result["stdout"] + result["stderr"])[-5000:]
    stdout = result["stdout"]

    # The table: pair, result, build time, verify time, checks, size, sha256.
    row = table_row(stdout, PAIR)
    assert row[1] == "passed" and re.fullmatch(r"\d+m\d\ds|\d+s", row[2]), row
    passed, total = map(int, row[4].split("/"))
    assert passed == total >= 20, row
    sha256 = row[-1]
    archives = list((out / "archives" / "debian-12" / "amd64").glob("python-3.11.2-quick-*.tar.zst"))
    assert len(archives) == 1
    archive = archives[0]
    assert str(archive) in stdout
    assert subprocess.run(["sha256sum", archive], capture_output=True, text=True).stdout.split()[0] == sha256

    # tar can read it, every path is relative, and the interpreter is there.
    names = subprocess.run(["tar", "--zstd", "-tf", archive], capture_output=True, text=True, check=True).stdout.split()
    assert "bin/python3" in names and "bin/python3.11" in names
    assert not [n for n in names if n.startswith(("/", "./")) or ".." in n.split("/")]
    assert not [n for n in names if "/test/" in n + "/" or n.endswith(".a")]

    # The record says what went in and what verification found; the log is where the table says.
    record = json.loads(archive.with_name(archive.name + ".json").read_text())
    assert record["python_version"] == "3.11.2" and record["profile"] == "quick"
    assert record["images"]["build"] != record["images"]["run"]
    assert set(record["phase_seconds"]) >= {"configure", "compile", "install", "package"}
    assert "libssl.so.3" in record["shared_libraries"]
    # ...with the run image's package that provides each, and the SBOM and provenance beside it.
    assert record["shared_library_packages"]["libssl.so.3"]["package"] == "libssl3"
    assert record["run_image_os"] == {"id": "debian", "version_id": "12"}
    assert all(archive.with_name(archive.name + suffix).exists() for suffix in (".cdx.json", ".provenance.json"))
    assert all(check["ok"] for check in record["verification"].values())
    assert "::phase:: compile" in (out / "logs" / f"{PAIR}.log").read_text()

    # Dry run: published to the embedded S3 under the real layout.
    assert (f"S3: published, sha256 {sha256}: s3://pyruntimes-dry-run/debian-12/amd64/python-3.11.2.tar.zst"
            in stdout), stdout[-3000:]

    # Same inputs again: reused, not rebuilt, and still verified and published.
    again = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out))
    assert again.returncode == 0, again.stdout[-3000:]
    row = table_row(again.stdout, PAIR)
    assert row[1:4] == ["passed", "reused", "reused"] and row[-1] == sha256, row
    assert "reusing the verification of this archive" in again.stderr  # progress goes to stderr

    # --reverify runs the checks again on the same archive.
    forced = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out), "--reverify")
    assert forced.returncode == 0, forced.stdout[-3000:]
    row = table_row(forced.stdout, PAIR)
    assert row[1:3] == ["passed", "reused"] and re.fullmatch(r"\d+s", row[3]) and row[4] == f"{passed}/{total}", row
    # Each verification step is reported as it ends, with its time.
    for step in ("ldd scan", "runtime checks", "readelf scan", "C extension build \\(pip\\)", "embedding programs run"):
        assert re.search(rf"{PAIR}: verify: {step} done \(\d+s\)", forced.stderr), (step, forced.stderr[-3000:])


def test_run_image_without_a_library_fails_the_shared_library_check(first_build, tmp_path, s3):
    """The run image of a copied stack lacks libgdbm-compat4: the archive (reused: the build image
    did not change) must fail the shared-library check naming the library, and the checks that
    import dbm.ndbm's _dbm, and nothing else; and not upload."""
    _, out = first_build
    endpoint, client = s3
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-12" / "stack.toml"
    stack.write_text(stack.read_text().replace('    "libgdbm-compat4",\n', ""))
    result = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out), cwd=project,
                         env={s3server.ENDPOINT_ENV: endpoint})
    assert result.returncode == 1, result.stdout[-3000:]
    row = table_row(result.stdout, PAIR)
    assert row[1:3] == ["FAILED", "reused"], row
    reason = failure_reason(result.stdout)
    failed = re.search(r"checks failed \(([^)]*)\); not published", reason).group(1).split(", ")
    assert sorted(failed) == ["dbm_uuid_readline_curses", "extension_modules", "shared_libraries_resolve"], reason
    assert "libgdbm_compat.so.4 (needed by lib/python3.11/lib-dynload/_dbm" in result.stdout
    assert uploaded_keys(client) == []


def test_runtime_built_without_lzma_fails_exactly_the_lzma_checks(tmp_path, s3):
    """A build image without liblzma-dev builds a runtime without _lzma: the checks that must
    notice, and only those, fail; they are named; nothing is uploaded."""
    endpoint, client = s3
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-12" / "stack.toml"
    stack.write_text(stack.read_text().replace('    "liblzma-dev",       # lzma\n', ""))
    result = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(tmp_path / "out"), cwd=project,
                         env={s3server.ENDPOINT_ENV: endpoint})
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    failed = re.search(r"checks failed \(([^)]*)\); not published", reason).group(1).split(", ")
    assert sorted(failed) == ["build_log_reports_no_missing_modules", "compression_roundtrips",
                              "extension_modules"], reason
    assert "not built (missing at build time): _lzma" in result.stdout
    assert uploaded_keys(client) == []


def test_checksum_mismatch_fails_the_pair_before_compiling(tmp_path):
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.11.2.toml"
    wrong = "0" * 64
    formula.write_text(re.sub(r'sha256 = "[0-9a-f]{64}"', f'sha256 = "{wrong}"', formula.read_text()))
    cache, out = tmp_path / "cache", tmp_path / "out"
    result = run_harness(*QUICK_311, "--out-dir", str(out), cwd=project, env={"PYRUNTIMES_CACHE": str(cache)})
    assert result.returncode == 1, result.stdout[-3000:]
    assert table_row(result.stdout, PAIR)[1] == "FAILED"
    assert f"no source for python-3.11.2 matched sha256 {wrong}" in failure_reason(result.stdout)
    assert "Traceback" not in result.stdout
    assert not (out / "logs").exists()  # no build started
    assert not [p for p in (cache / "sources").rglob("*") if p.is_file() and not p.name.endswith(".lock")]


def test_unreachable_s3_keeps_the_archive_and_a_later_run_publishes_it(first_build, s3):
    _, out = first_build
    endpoint, client = s3
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    result = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out), env={s3server.ENDPOINT_ENV: dead})
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert reason.startswith("failed: S3 failed at s3://") and "cannot connect to http://127.0.0.1:9 " in reason, reason
    kept = reason.split("the archive is kept at ")[1].split(";")[0]
    assert os.path.exists(kept) and "Traceback" not in result.stdout

    again = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out), env={s3server.ENDPOINT_ENV: endpoint})
    assert again.returncode == 0, again.stdout[-3000:]
    assert table_row(again.stdout, PAIR)[1:3] == ["passed", "reused"]
    key = "debian-12/amd64/python-3.11.2.tar.zst"
    assert sorted(uploaded_keys(client)) == sorted([key, key + ".json", key + ".sha256", key + ".cdx.json",
                                                    key + ".provenance.json", "manifest.json",
                                                    "debian-12/python-downloads.json", "index.html"])
    # The SBOM and provenance statement in the bucket are the bytes beside the local archive.
    for suffix in (".cdx.json", ".provenance.json"):
        uploaded = client.get_object(Bucket="pyruntimes-dry-run", Key=key + suffix)["Body"].read()
        assert uploaded == open(kept + suffix, "rb").read(), suffix


def test_a_publish_interrupted_before_the_manifest_is_completed_by_a_rerun_without_building(first_build, s3,
                                                                                           tmp_path):
    """A fault injected for real between the archive's write and the manifest's: S3 refuses the
    manifest write (403). The pair fails with one line and the archive stays local. A rerun on
    another machine's terms (an empty out folder: nothing to reuse) finds the archive in the
    bucket, built from the same inputs, and completes the manifest without building."""
    from tests.faulty_s3 import FaultyProxy

    _, out = first_build
    endpoint, client = s3
    proxy = FaultyProxy(endpoint, status=403, code="AccessDenied",
                        fail_if=lambda method, path: method == "PUT" and path.split("?")[0].endswith("manifest.json"))
    try:
        result = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(out),
                             env={s3server.ENDPOINT_ENV: proxy.endpoint})
    finally:
        proxy.stop()
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert "AccessDenied (HTTP 403)" in reason and "rerun to complete the publish" in reason, reason
    assert "Traceback" not in result.stdout
    archive_key = "debian-12/amd64/python-3.11.2.tar.zst"
    assert sorted(uploaded_keys(client)) == [archive_key, archive_key + ".cdx.json", archive_key + ".json",
                                             archive_key + ".provenance.json", archive_key + ".sha256"]

    fresh = tmp_path / "elsewhere"
    again = run_harness("test_runtimes.py", *QUICK_311, "--out-dir", str(fresh), env={s3server.ENDPOINT_ENV: endpoint})
    assert again.returncode == 0, again.stdout[-3000:]
    assert "repaired: manifest entry" in again.stdout, again.stdout[-3000:]
    assert "building" not in again.stderr and not (fresh / "archives").exists()  # nothing was built
    manifest = json.loads(client.get_object(Bucket="pyruntimes-dry-run", Key="manifest.json")["Body"].read())
    remote = client.head_object(Bucket="pyruntimes-dry-run", Key=archive_key)["Metadata"]["sha256"]
    assert manifest["stacks"]["debian-12"]["amd64"]["python-3.11.2"]["sha256"] == remote


def test_stack_whose_base_image_cannot_be_had_fails_its_pairs_with_one_line(tmp_path):
    """Like a heroku stack where no registry answers: no image, no debian_suite to bootstrap."""
    project = copy_project(tmp_path / "project")
    folder = project / "stacks" / "nowhere-1"
    folder.mkdir()
    (folder / "stack.toml").write_text('description = "an image no registry has"\narchitectures = ["amd64"]\n'
                                       '[build]\nimage = "pyruntimes-test/no-such-image:1-build"\npackages = []\n'
                                       '[run]\nimage = "pyruntimes-test/no-such-image:1"\npackages = []\n'
                                       '[policy]\nlibraries = ["libc.so.6"]\nglibc = "2.36"\n')
    result = run_harness("--runtimes", "python-3.11.2", "--stacks", "nowhere-1", "--profile", "quick",
                         "--out-dir", str(tmp_path / "out"), cwd=project)
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert ("stack nowhere-1: base image pyruntimes-test/no-such-image:1-build cannot be pulled" in reason
            and "no debian_suite to bootstrap from" in reason), reason
    assert "Traceback" not in result.stdout
