"""Reuse is correct, not just fast: changing one input moves the cache keys of exactly the pairs
it affects, so exactly those are rebuilt, and the others keep their archives.

`--plan` asks the real harness what it would do, with the real stack images (a changed package
list builds a new image, whose installed packages go into the key: `python -m harness build-image`
makes it first, as a run would, since a plan makes no image); the first build's archive shows that an
unchanged key is reused. That a reused archive really skips the build is shown in test_pipeline.
"""

import pytest

from tests.helpers import NATIVE, copy_project, make_stack_images, run_harness

pytestmark = [pytest.mark.engine, pytest.mark.build]

RUNTIMES = ("python-3.11.2", "python-3.13.15")
STACKS = ("debian-12", "debian-13")
PAIRS = {f"{r}-{s}" for r in RUNTIMES for s in STACKS}
BUILT = "python-3.11.2-debian-12"  # built by first_build, in the shared out folder


def plan(project, out):
    """{pair: (decision, cache key)} as the harness's --plan reports it, once the stacks' images
    are made as a run makes them."""
    for stack in STACKS:
        made = make_stack_images(stack, cwd=project)
        assert made.returncode == 0, made.stderr[-3000:]
    result = run_harness("test_runtimes.py", "--runtimes", ",".join(RUNTIMES), "--stacks", ",".join(STACKS), "--arch", NATIVE,
                         "--profile", "quick", "--plan", "--out-dir", str(out), cwd=project)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if cells and cells[0] in PAIRS:
            assert cells[1] == "would" and cells[-2] == "key", line
            rows[cells[0]] = (cells[2], cells[-1])
    assert set(rows) == PAIRS, result.stdout[-3000:]
    return rows


def changed_pairs(before, after):
    return {pair for pair in PAIRS if before[pair][1] != after[pair][1]}


@pytest.fixture(scope="module")
def baseline(first_build, tmp_path_factory):
    result, out = first_build
    assert result["returncode"] == 0, result["stdout"][-3000:]
    project = copy_project(tmp_path_factory.mktemp("baseline") / "project")
    before = plan(project, out)
    assert before[BUILT][0] == "reuse", before
    assert plan(project, out) == before  # nothing changed: the same keys again
    return before, out


def test_a_formula_flag_rebuilds_that_runtime_on_every_stack(baseline, tmp_path):
    before, out = baseline
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.13.15.toml"
    formula.write_text(formula.read_text() + 'configure_args = ["--without-doc-strings"]\n')
    after = plan(project, out)
    assert changed_pairs(before, after) == {"python-3.13.15-debian-12", "python-3.13.15-debian-13"}
    assert after[BUILT][0] == "reuse"


def test_the_build_script_rebuilds_every_pair(baseline, tmp_path):
    before, out = baseline
    project = copy_project(tmp_path / "project")
    script = project / "builds" / "build-python.sh"
    script.write_text(script.read_text() + "# a change that only the hash sees\n")
    after = plan(project, out)
    assert changed_pairs(before, after) == PAIRS
    assert all(decision == "build" for decision, _ in after.values()), after


def test_a_stack_package_list_rebuilds_that_stack_only(baseline, tmp_path):
    before, out = baseline
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-13" / "stack.toml"
    # Keys follow the packages the build image holds, so the change must install something new
    # ("patch" would not: dpkg-dev already depends on it).
    stack.write_text(stack.read_text().replace('"pkg-config",\n', '"pkg-config",\n    "tree",\n'))
    after = plan(project, out)
    assert changed_pairs(before, after) == {"python-3.11.2-debian-13", "python-3.13.15-debian-13"}
    assert after[BUILT][0] == "reuse"


def test_a_run_image_package_list_keeps_every_archive(baseline, tmp_path):
    """Run packages do not go into the build: no key moves (verification is redone instead, as
    test_pipeline's missing-library test shows)."""
    before, out = baseline
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-12" / "stack.toml"
    stack.write_text(stack.read_text().replace('"ca-certificates",\n', '"ca-certificates",\n    "patch",\n'))
    after = plan(project, out)
    assert changed_pairs(before, after) == set()
