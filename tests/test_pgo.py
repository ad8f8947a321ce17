"""A release build whose PGO training did not happen is not a release build: it fails with one
line instead of shipping unprofiled. Slow (an instrumented build takes minutes): `make test-slow`."""

import pytest

from tests.helpers import NATIVE, copy_project, failure_reason, run_harness

pytestmark = [pytest.mark.engine, pytest.mark.build, pytest.mark.slow]

TRAINING = '[sys.executable, "-m", "test", "--pgo", "--timeout=1200"]'


def test_a_training_run_that_crashes_fails_the_release_build(tmp_path):
    project = copy_project(tmp_path / "project")
    script = project / "builds" / "build-python.sh"
    text = script.read_text()
    assert TRAINING in text  # the line this test breaks is still the training run
    # The instrumented interpreter aborts (SIGABRT) instead of running the training tests.
    script.write_text(text.replace(TRAINING, '[sys.executable, "-c", "import os; os.abort()"]'))
    out = tmp_path / "out"
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", NATIVE,
                         "--out-dir", str(out), cwd=project)
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert "release build failed: the training run ended with status -6, so the build would have no profile" in reason, reason
    assert "Traceback" not in result.stdout
    assert not list(out.rglob("*.tar.zst"))
    log = (out / "logs" / "python-3.11.2-debian-12.log").read_text()
    assert '::pgo:: {"exit_status": -6' in log
