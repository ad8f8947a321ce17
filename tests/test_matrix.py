"""`python -m harness matrix` run for real: the pairs pytest collects, once per architecture a stack
declares, with the runner for each; --arch filters; bad input is one line. And `attest-subjects`, the
release workflow's list of what to sign, against a moto S3 after real publishes."""

import json
import os
import subprocess
import sys

import pytest

from harness import layout
from harness.bucket import publish, s3
from harness.layout import Checkout
from harness.commands.matrix import load_runners
from harness.stacks import load_stacks
from tests.helpers import ROOT, copy_project, run_harness
from tests.test_changed_since import commit, repo  # noqa: F401  (fixture)
from tests.test_publish import endpoint, local_build, target  # noqa: F401  (fixtures)
from tests.test_usage_errors import assert_one_line_error

ENTRY_KEYS = {"runtime", "variant", "stack", "arch", "runner", "profile", "source_sha256"}
STACKS = load_stacks(layout.STACKS)
RUNNERS = load_runners(layout.RUNNERS)


def matrix(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "harness", "matrix", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def entries(*args, cwd=ROOT):
    result = matrix(*args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 1  # what $GITHUB_OUTPUT takes as matrix=...
    document = json.loads(result.stdout)
    assert list(document) == ["include"]
    for entry in document["include"]:
        assert set(entry) == ENTRY_KEYS, entry
        assert entry["runner"] == RUNNERS[entry["arch"]]
    return document["include"]


def collected_ids(*args, cwd=ROOT):
    """The id of every pair pytest would run, in its order: its own collection, less the pairs it
    would skip (-m 'not skip' drops the cases carrying skip marks). Without --arch, pytest skips the
    pairs foreign to this machine, which the matrix gives each a runner of its own: they are named."""
    if "--arch" not in args:
        args = (*args, "--arch", "amd64,arm64")
    result = run_harness("test_runtimes.py", "--collect-only", "-q", "-m", "not skip", *args, cwd=cwd)
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return [line.split("[", 1)[1].rstrip("]") for line in result.stdout.splitlines() if "::test_runtime[" in line]


def collected(*args, cwd=ROOT):
    """(runtime, stack) of every pair pytest would run (once, whatever its architectures), in its order."""
    ids = [i.removesuffix("-arm64") for i in collected_ids(*args, cwd=cwd)]
    return list(dict.fromkeys((f"python-{version}", stack) for _, version, stack in (i.split("-", 2) for i in ids)))


def ids_of(listing):
    """The pytest ids of the matrix's entries (amd64 pairs keep the ids they had: harness/selection.py)."""
    return [f"{e['runtime']}" + ("" if e["variant"] == "default" else f"-{e['variant']}") + f"-{e['stack']}"
            + ("" if e["arch"] == "amd64" else f"-{e['arch']}") for e in listing]


def pairs_of(listing):
    return list(dict.fromkeys((e["runtime"], e["stack"]) for e in listing))


@pytest.mark.parametrize("args", [
    [],
    ["--runtimes", "python-3.11.2,python-3.13.15", "--stacks", "debian-12 heroku-24 heroku-26"],
    ["--stacks", "heroku-26", "--stacks", "debian-11", "--runtimes", "python-3.15.2 python-3.9.25"],
])
def test_the_matrix_is_what_pytest_collects_once_per_declared_architecture(args):
    listing = entries(*args)
    pairs = collected(*args)
    assert pairs and pairs_of(listing) == pairs
    expected = [(runtime, stack, arch) for runtime, stack in pairs for arch in STACKS[stack].architectures]
    assert [(e["runtime"], e["stack"], e["arch"]) for e in listing] == expected
    assert ids_of(listing) == collected_ids(*args)  # the very pairs, architecture included, in pytest's order
    assert {e["profile"] for e in listing} == {"release"}


def test_entries_carry_the_profile_and_the_source_sha256():
    [entry] = entries("--runtimes", "python-3.13.15", "--stacks", "debian-12", "--arch", "amd64", "--profile", "quick")
    assert entry == {"runtime": "python-3.13.15", "variant": "default", "stack": "debian-12", "arch": "amd64",
                     "runner": RUNNERS["amd64"], "profile": "quick",
                     "source_sha256": "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76"}


def test_arch_keeps_the_stacks_that_declare_it():
    arm = [name for name, stack in STACKS.items() if "arm64" in stack.architectures]
    assert arm, "no stack declares arm64: this test needs one"
    listing = entries("--arch", "arm64", "--runtimes", "python-3.13.15")
    assert [(e["stack"], e["arch"], e["runner"]) for e in listing] == [(s, "arm64", RUNNERS["arm64"]) for s in arm]
    amd = entries("--arch", "amd64", "--stacks", ",".join(arm), "--runtimes", "python-3.13.15")
    assert [(e["stack"], e["arch"]) for e in amd] == [(s, "amd64") for s in arm]
    assert entries("--arch", "amd64 arm64") == entries()


def test_an_arch_no_selected_stack_declares_selects_nothing():
    result = matrix("--arch", "arm64", "--stacks", "debian-11")
    assert result.returncode == 5 and result.stdout == ""
    assert result.stderr.splitlines() == ["nothing selected: no selected stack declares arm64 (debian-11: amd64)"]


@pytest.mark.parametrize("args, words", [
    (["--arch", "sparc"], ["--arch: unknown architecture 'sparc'; valid: amd64, arm64"]),
    (["--arch", ""], ["--arch is empty", "amd64, arm64"]),
    (["--arch", "amd64,amd64"], ["architecture 'amd64' is named twice"]),
    (["--arch"], ["--arch: expected one argument"]),
    (["--runtimes", "python-9.9.9"], ["--runtimes: unknown runtime 'python-9.9.9'", "python-3.13.15"]),
    (["--stacks", "debian-99"], ["--stacks: unknown stack 'debian-99'", "debian-12"]),
    (["--profile", "fast"], ["--profile: unknown profile 'fast'; valid: release, quick"]),
    (["--colour"], ["unrecognized arguments: --colour"]),
])
def test_bad_input_is_one_line(args, words):
    result = matrix(*args)
    assert_one_line_error(result, *words)
    assert result.stdout == ""


def test_a_broken_runners_file_names_the_file_and_the_field(tmp_path):
    project = copy_project(tmp_path / "project")
    runners = Checkout(project).runners
    runners.write_text('[runners]\namd64 = "ubuntu-24.04"\n')
    assert_one_line_error(matrix(cwd=project), f"{runners}: field 'runners.arm64': is missing")
    runners.write_text('[runners]\namd64 = "ubuntu-24.04"\narm64 = "ubuntu-24.04-arm"\nriscv64 = "x"\n')
    assert_one_line_error(matrix(cwd=project), "field 'runners.riscv64': is not a known field")


def test_a_stack_with_no_architecture_is_refused(tmp_path):
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-12" / "stack.toml"
    stack.write_text(stack.read_text().replace('architectures = ["amd64", "arm64"]', "architectures = []"))
    assert_one_line_error(matrix(cwd=project), "field 'architectures': is empty")


def test_pairs_a_formula_does_not_support_are_left_out(tmp_path):
    """pytest collects them as skipped; a CI job would start only to skip."""
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.13.5.toml"
    formula.write_text(formula.read_text() + 'stacks = ["debian-13", "heroku-24"]\n')
    args = ["--runtimes", "python-3.13.5"]
    listing = entries(*args, cwd=project)
    assert pairs_of(listing) == collected(*args, cwd=project) == [("python-3.13.5", "debian-13"),
                                                                  ("python-3.13.5", "heroku-24")]
    result = matrix(*args, "--stacks", "debian-12", cwd=project)
    assert result.returncode == 5
    assert result.stderr.splitlines() == ["nothing selected: python-3.13.5 does not support debian-12 "
                                          "(its formula lists debian-13, heroku-24)"]


def test_changed_since_selects_as_pytest_does(repo):  # noqa: F811
    formula = repo / "builds" / "runtimes" / "python-3.12.15.toml"
    formula.write_text(formula.read_text() + "# a comment changes the formula's hash\n")
    commit(repo)
    args = ["--changed-since", "main~1", "--stacks", "debian-12,heroku-26"]
    assert pairs_of(entries(*args, cwd=repo)) == collected(*args, cwd=repo) == [("python-3.12.15", "debian-12"),
                                                                                ("python-3.12.15", "heroku-26")]
    (repo / "README.md").write_text("only the docs changed\n")
    commit(repo)
    result = matrix("--changed-since", "main~1", cwd=repo)
    assert result.returncode == 5
    assert result.stderr.startswith("nothing selected: no formula, stack or build input changed since main~1")


# -- attest-subjects --------------------------------------------------------------------------------

def attest_subjects(target, records):  # noqa: F811
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL_S3": target.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
           "S3_BUCKET": target.bucket, "S3_PREFIX": target.prefix}
    env.pop("AWS_PROFILE", None)
    return subprocess.run([sys.executable, "-m", "harness", "attest-subjects", str(records)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def write_record(folder, name, **fields):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.tar.zst.json").write_text(json.dumps({"stack": "debian-12", "arch": "amd64", **fields}))


def test_attest_subjects_are_this_runs_archives_that_the_bucket_serves(tmp_path, target):  # noqa: F811
    client = s3.client_for(target)
    ours = local_build(tmp_path, target, b"built by this run", "ours.tar.zst", runtime="python-3.13.15")
    earlier = local_build(tmp_path, target, b"built by an earlier run", "old.tar.zst", runtime="python-3.11.2")
    for local in (ours, earlier):
        assert publish.publish(client, target, local).ok
    records = tmp_path / "records"
    pair = records / "pair-python-3.13.15-debian-12-amd64" / "archives" / "debian-12" / "amd64"
    write_record(pair, "python-3.13.15-release-k1", runtime="python-3.13.15", archive_sha256=ours.sha256)
    # Built again here (another sha256) but the bucket kept the earlier build: not this run's.
    write_record(records / "pair-python-3.11.2-debian-12-amd64", "python-3.11.2-release-k2",
                 runtime="python-3.11.2", archive_sha256="0" * 64)
    # Built, but failed verification: never published.
    write_record(records / "pair-python-3.12.15-debian-12-amd64", "python-3.12.15-release-k3",
                 runtime="python-3.12.15", archive_sha256="1" * 64)
    # The SBOM and provenance beside a record are not records.
    (pair / "python-3.13.15-release-k1.tar.zst.cdx.json").write_text("{}")
    result = attest_subjects(target, records)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{ours.sha256}  {ours.keys.archive}\n"
    assert "1 archive(s) built by this run" in result.stderr


def test_attest_subjects_bad_input_is_one_line(tmp_path, target):  # noqa: F811
    assert_one_line_error(attest_subjects(target, tmp_path / "nowhere"), "no such folder")


def test_a_foreign_architecture_is_collected_but_built_only_when_named():
    """On this machine, the pairs of another architecture show in the collection (the matrix is
    every pair a stack declares) but carry a skip mark unless --arch names them."""
    native = "amd64" if os.uname().machine == "x86_64" else "arm64"
    foreign = "arm64" if native == "amd64" else "amd64"
    ids = {"amd64": "python-3.11.2-debian-12", "arm64": "python-3.11.2-debian-12-arm64"}
    args = ("--runtimes", "python-3.11.2", "--stacks", "debian-12")
    assert collected_ids(*args, "--arch", "amd64,arm64") == [ids["amd64"], ids["arm64"]]
    every = run_harness("test_runtimes.py", "--collect-only", "-q", *args)
    assert [line.split("[", 1)[1].rstrip("]") for line in every.stdout.splitlines() if "::test_runtime[" in line] \
        == [ids["amd64"], ids["arm64"]]
    built = run_harness("test_runtimes.py", "--collect-only", "-q", "-m", "not skip", *args)
    assert [line.split("[", 1)[1].rstrip("]") for line in built.stdout.splitlines() if "::test_runtime[" in line] \
        == [ids[native]]
    assert collected_ids(*args, "--arch", foreign) == [ids[foreign]]


def test_a_variant_s_entries_name_the_formula_and_the_variant_pytest_collects():
    args = ("--runtimes", "python-3.11.2,python-3.13.15", "--variants", "default,freethreaded", "--stacks", "debian-12")
    listing = entries(*args)
    # 3.11 has no free-threaded build (builds/variants.toml: since 3.13): left out, not failed.
    assert [(e["runtime"], e["variant"]) for e in listing if e["arch"] == "amd64"] == [
        ("python-3.11.2", "default"), ("python-3.13.15", "default"), ("python-3.13.15", "freethreaded")]
    assert ids_of(listing) == collected_ids(*args)
