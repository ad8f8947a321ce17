"""--changed-since selects the pairs whose inputs changed, in real git repositories."""

import subprocess
import sys

import pytest

from harness import layout
from harness.stacks import load_stacks
from tests.helpers import copy_project, run_harness

STACKS = sorted(p.name for p in layout.STACKS.iterdir() if p.is_dir())
ARCHES = {name: stack.architectures for name, stack in load_stacks(layout.STACKS).items()}


@pytest.fixture
def repo(tmp_path):
    project = copy_project(tmp_path / "project")
    (project / "README.md").write_text("docs\n")
    for command in (["init", "-q", "-b", "main"], ["add", "-A"],
                    ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(["git", *command], cwd=project, check=True)
    return project


def commit(repo, message="change"):
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], cwd=repo, check=True)


def selected(repo, *args, arch="amd64"):
    """The ids of the pairs --changed-since main~1 collects, of the architecture given (None: all)."""
    arch_args = ("--arch", arch) if arch else ()
    result = run_harness("test_runtimes.py", "--collect-only", "-q", "--changed-since", "main~1", *arch_args, *args,
                         cwd=repo)
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return sorted(line.split("[")[1].rstrip("]") for line in result.stdout.splitlines() if "::test_runtime[" in line)


def test_changed_formula_selects_only_its_pairs(repo):
    formula = repo / "builds" / "runtimes" / "python-3.13.5.toml"
    formula.write_text(formula.read_text() + 'configure_args = ["--with-lto=thin"]\n')
    commit(repo)
    assert selected(repo) == [f"python-3.13.5-{stack}" for stack in STACKS]
    assert selected(repo, "--stacks", "debian-13") == ["python-3.13.5-debian-13"]


def test_changed_stack_folder_selects_only_its_pairs(repo):
    stack = repo / "stacks" / "debian-13" / "stack.toml"
    text = stack.read_text()
    stack.write_text(text.replace('    "ca-certificates",\n', '    "ca-certificates",\n    "tzdata",\n'))
    assert stack.read_text() != text
    commit(repo)
    formulas = sorted(p.stem for p in (repo / "builds" / "runtimes").glob("*.toml"))
    assert selected(repo) == sorted(f"{formula}-debian-13" for formula in formulas)


def test_changed_build_script_selects_every_pair(repo):
    script = repo / "builds" / "build-python.sh"
    script.write_text(script.read_text() + "# a comment\n")
    commit(repo)
    formulas = len(list((repo / "builds" / "runtimes").glob("*.toml")))
    stacks = len([p for p in (repo / "stacks").iterdir() if p.is_dir()])
    assert len(selected(repo)) == formulas * stacks


def test_a_check_module_selects_every_pair(repo):
    """Any file under harness/checks/ is part of every pair's verification key, a new one too."""
    (repo / "harness" / "checks" / "x.py").write_text('"""A check no pair has run yet."""\n')
    commit(repo)
    formulas = len(list((repo / "builds" / "runtimes").glob("*.toml")))
    stacks = len([p for p in (repo / "stacks").iterdir() if p.is_dir()])
    assert len(selected(repo)) == formulas * stacks


def test_a_command_beside_pytest_selects_nothing(repo):
    """harness/commands/ (rebuild, check-published, the CI matrix, ...) is run by no case: a change to
    it alone changes no archive and no verification."""
    command = repo / "harness" / "commands" / "rebuild.py"
    command.write_text(command.read_text() + "# a comment\n")
    commit(repo)
    assert selected(repo) == []
    assert selected(repo, arch=None) == []


def test_a_command_module_and_the_dispatcher_select_nothing(repo):
    """A new command module and the dispatcher that wires it in: still no case runs them."""
    (repo / "harness" / "commands" / "x.py").write_text('"""A command beside pytest."""\n')
    main = repo / "harness" / "__main__.py"
    main.write_text(main.read_text() + "# wired in\n")
    commit(repo)
    assert selected(repo, arch=None) == []


def test_a_formula_patch_selects_only_its_formula_pairs(repo):
    """A patch is applied to the source, so it is an input of the formulas that name it (and part
    of their archive keys): python-3.13.5 names this one, no other formula does."""
    patch = repo / "builds" / "patches" / "python-3.13.5-gh-135858.patch"
    patch.write_text(patch.read_text() + "\n")
    commit(repo)
    assert selected(repo) == [f"python-3.13.5-{stack}" for stack in STACKS]
    assert selected(repo, arch=None) == sorted(
        f"python-3.13.5-{stack}{'' if arch == 'amd64' else '-' + arch}"
        for stack in STACKS for arch in ARCHES[stack])


def test_cross_answers_select_the_foreign_architecture_pairs_only(repo):
    """builds/cross/*.config.site are configure's answers when an amd64 machine (the pull-request
    check's) cross-builds an arm64 pair: inputs of every pair that is not amd64, of no amd64 pair."""
    site = repo / "builds" / "cross" / "aarch64-linux-gnu.config.site"
    site.write_text(site.read_text() + "# another answer\n")
    commit(repo)
    formulas = sorted(p.stem for p in (repo / "builds" / "runtimes").glob("*.toml"))
    foreign = sorted(f"{formula}-{stack}-{arch}" for formula in formulas for stack in STACKS
                     for arch in ARCHES[stack] if arch != "amd64")
    assert foreign  # debian-12 and debian-13 declare arm64
    assert selected(repo) == []
    assert selected(repo, arch=None) == foreign
    assert selected(repo, arch="arm64") == foreign


def test_a_file_beside_the_cross_answers_selects_nothing(repo):
    """Only *.config.site files are read by a cross build (and hashed by its key)."""
    (repo / "builds" / "cross" / "NOTES.md").write_text("why these answers\n")
    commit(repo)
    assert selected(repo, arch=None) == []


def test_documentation_change_selects_nothing(repo):
    (repo / "README.md").write_text("more docs\n")
    commit(repo)
    assert selected(repo) == []


def test_unknown_ref_is_one_line(repo):
    result = run_harness("--changed-since", "no-such-branch", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --changed-since no-such-branch: not a git ref") and result.stdout == ""


@pytest.mark.parametrize("ref, words", [
    # git would take these as options: --output= writes a file wherever it names.
    ("--output=clobbered", "--changed-since '--output=clobbered' starts with '-', so git would take it as an option"),
    ("-p", "--changed-since '-p' starts with '-'"),
    # Empty, it would select every pair, as if the option were not given.
    ("", "--changed-since is empty: name a git ref"),
    ("main~1\n", "--changed-since 'main~1\\n' holds a space or a control character"),
])
def test_a_ref_git_would_misread_is_refused(repo, ref, words):
    # pytest (--collect-only: were the check missing, it would only collect) and the CI matrix.
    for result in (run_harness("--collect-only", f"--changed-since={ref}", cwd=repo),
                   subprocess.run([sys.executable, "-m", "harness", "matrix", f"--changed-since={ref}"], cwd=repo,
                                  capture_output=True, text=True, timeout=300)):
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith(f"error: {words}") and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stdout == ""
    assert not (repo / "clobbered").exists()

