"""Stack images stay fresh: refreshed when older than the limit (or with --refresh-images), with
the packages that changed named, and cache keys that follow what the images hold, not when they
were made. Bootstrapping trusts nothing the Debian archive keyring cannot verify."""

import uuid

import pytest

from tests.helpers import QUICK_311, copy_project, failure_reason, run_harness, table_row

pytestmark = [pytest.mark.engine, pytest.mark.build]

PAIR = "python-3.11.2-debian-12"


def test_stale_images_are_refreshed_and_an_unchanged_package_set_rebuilds_nothing(first_build):
    """--image-max-age 1s makes debian-12's images stale: the base is bootstrapped again and the
    build and run images rebuilt without Docker's cache. Their packages are the same (a minute
    later, Debian has published nothing new), so the key is the same and the archive is reused."""
    result, out = first_build
    assert result["returncode"] == 0, result["stdout"][-3000:]
    before = run_harness("test_runtimes.py", *QUICK_311, "--plan", "--out-dir", str(out))
    assert table_row(before.stdout, PAIR)[1:3] == ["would", "reuse"], before.stdout[-2000:]
    # A run refreshes (a plan only says it would): the archive is reused, verified again in the
    # new images and published to the embedded S3.
    refreshed = run_harness("test_runtimes.py", *QUICK_311, "--image-max-age", "1s", "--out-dir", str(out))
    assert refreshed.returncode == 0, refreshed.stdout[-3000:]
    progress = refreshed.stderr
    assert "debian-12: refreshing the stack's images (made " in progress, progress[-3000:]
    assert "debian-12: build image refreshed: no package changed" in progress, progress[-3000:]
    assert "debian-12: run image refreshed: no package changed" in progress, progress[-3000:]
    assert table_row(refreshed.stdout, PAIR)[1:3] == ["passed", "reused"], refreshed.stdout[-2000:]
    after = run_harness("test_runtimes.py", *QUICK_311, "--plan", "--out-dir", str(out))
    assert table_row(after.stdout, PAIR)[1:3] == ["would", "reuse"], after.stdout[-2000:]
    assert table_row(after.stdout, PAIR)[-1] == table_row(before.stdout, PAIR)[-1]  # the same cache key

    # Fresh now: the next run refreshes nothing.
    again = run_harness("test_runtimes.py", *QUICK_311, "--plan", "--out-dir", str(out))
    assert "refreshing" not in again.stderr


def test_a_bootstrap_whose_signature_does_not_verify_fails_with_one_line(tmp_path):
    """Debian's keyring of removed keys cannot verify today's archive: debootstrap must refuse,
    and the pair fail with one line, before anything is imported."""
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-12" / "stack.toml"
    # A base image name of its own, so no cached base is found and a bootstrap is attempted.
    stack.write_text(stack.read_text().replace('image = "debian:bookworm-slim"',
                                               f'image = "pyruntimes-test/unsigned-{uuid.uuid4().hex[:8]}:12"'))
    # A run, not a plan (which makes no image): the pair fails at its images, before any build.
    result = run_harness(*QUICK_311, "--out-dir", str(tmp_path / "out"), cwd=project,
                         env={"PYRUNTIMES_DEBIAN_KEYRING": "/usr/share/keyrings/debian-archive-removed-keys.gpg"})
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert "the bookworm archive's signature does not verify with" in reason, reason
    assert "Traceback" not in result.stdout
