"""Variants of a runtime (builds/variants.toml, harness/variants.py): chosen with --variants, a pair
of their own everywhere a pair is named, refused in one line where they do not apply; and the
checks a free-threaded build adds, shown failing on a build that is not one.

A free-threaded build passing every check is shown by tests/test_every_formula.py (slow)."""

import dataclasses
import json
import subprocess
import types

import pytest

from harness import archive, layout
from harness.formulas import load_formulas
from harness.variants import load_variants
from tests.helpers import ROOT, copy_project, run_harness, verified_build

FREE = load_variants(layout.VARIANTS)["freethreaded"]


def collect(*args, cwd=ROOT):
    return run_harness("test_runtimes.py", "--collect-only", "-q", *args, cwd=cwd, timeout=120)


def test_a_variant_is_a_formula_of_its_own_name_abi_and_configure_arguments():
    formula = load_formulas(layout.RUNTIMES)["python-3.13.15"]
    free = FREE.of(formula)
    assert (free.name, free.base_name, free.variant, free.abi_suffix, free.uv_variant) == (
        "python-3.13.15-freethreaded", "python-3.13.15", "freethreaded", "t", "freethreaded")
    assert free.configure_args[-1] == "--disable-gil" and free.sha256 == formula.sha256
    assert FREE.applies_to(formula) and not FREE.applies_to(load_formulas(layout.RUNTIMES)["python-3.11.2"])


@pytest.mark.parametrize("args, said", [
    (["--runtimes", "python-3.11.2", "--variants", "freethreaded"],
     "error: --variants: no runtime selected has the freethreaded variant (from 3.13 on): name one with --runtimes"),
    (["--variants", "nogil"], "error: --variants: unknown variant 'nogil'; valid: default, freethreaded, x86-64-v3"),
    (["--variants", ""], "error: --variants is empty: name at least one variant (default, freethreaded, x86-64-v3)"),
    # A candidate is built to be measured (bench/speed.py), never deployed.
    (["--runtimes", "python-3.13.15", "--variants", "x86-64-v3", "--deploy"],
     "error: --variants x86-64-v3 is a candidate, built to be measured and not deployed (builds/variants.toml; "
     "bench/RESULTS.md says why): leave it out of --deploy runs"),
])
def test_a_variant_that_does_not_apply_is_one_line(args, said):
    result = collect(*args)
    assert result.returncode != 0 and said in result.stdout + result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("line, said", [
    ('since = "3"', 'variants.toml: field \'freethreaded.since\': must be a minor version such as "3.13", not \'3\''),
    ('abi_suffix = "tt"', "field 'freethreaded.abi_suffix': must be one lowercase letter"),
    ('configure_args = ["disable-gil"]', "field 'freethreaded.configure_args': must be ./configure options"),
    ('colour = "blue"', "field 'freethreaded.colour': is not a known field"),
    # Only target options: a variant must not change what the code means.
    ('cflags = ["-O0"]', "field 'freethreaded.cflags': must be target options for CPython's own code, -march=... or "
                         "-mtune=..."),
    ('architectures = ["sparc"]', "field 'freethreaded.architectures': 'sparc' is not an architecture: amd64, arm64"),
    # The building machine's CPU: no cache key or rebuild captures it.
    ('cflags = ["-march=native"]', "field 'freethreaded.cflags': must be target options"),
])
def test_a_variants_file_that_does_not_validate_names_the_field(tmp_path, line, said):
    project = copy_project(tmp_path / "project")
    variants = project / "builds" / "variants.toml"
    key = line.split(" =")[0]
    kept = [text for text in variants.read_text().splitlines() if not text.startswith(key + " =")]
    at = kept.index("[freethreaded]") + 1
    variants.write_text("\n".join(kept[:at] + [line] + kept[at:]) + "\n")
    result = collect("--runtimes", "python-3.13.15", cwd=project)
    assert result.returncode != 0 and said in result.stdout + result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_candidate_variant_is_built_for_its_architectures_only_and_never_published():
    """x86-64-v3 (builds/variants.toml): amd64 only, no uv name (never in a catalog), and its target
    option part of its cache key."""
    from harness import build, cache_policy, selection

    pairs = selection.select(ROOT, ["python-3.13.15"], ["debian-12"], None, None, ["x86-64-v3"])
    assert [(formula.name, arch) for formula, _, arch in pairs] == [("python-3.13.15-x86-64-v3", "amd64")]
    formula = pairs[0][0]
    assert (formula.cflags, formula.candidate, formula.uv_variant, formula.abi_suffix) == (
        ("-march=x86-64-v3",), True, None, "")
    image = types.SimpleNamespace(packages_sha256="0" * 64)  # the build image's packages, as hashed
    default = load_formulas(layout.RUNTIMES)["python-3.13.15"]
    keys = {cache_policy.archive_key(f, image, "release", "amd64", build.Method.NATIVE, None) for f in (default, formula)}
    assert len(keys) == 2  # the flag is an input of the archive's bytes
    flagless = dataclasses.replace(formula, cflags=())
    assert cache_policy.archive_key(flagless, image, "release", "amd64", build.Method.NATIVE, None) not in keys


@pytest.mark.engine
@pytest.mark.build
def test_the_free_threaded_checks_refuse_a_build_that_keeps_its_gil(first_build, tmp_path):
    """The default 3.11.2 build, checked as if it had been built free-threaded: the variant check,
    the GIL check and the thread-scaling check each fail, naming why."""
    target, _, _, _ = verified_build(first_build)
    tree = tmp_path / "tree"
    archive.extract(target, tree)
    checks = ROOT / "harness" / "checks" / "runtime_checks.py"
    names = ["abi_is_the_variant_s", "free_threading_gil_stays_off", "free_threading_threads_run_in_parallel"]
    result = subprocess.run([str(tree / "bin" / "python3"), str(checks), "3.11.2", "", "/build/python", "t"],
                            env={"PYRUNTIMES_ONLY": ",".join(names), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=300)
    found = {item["check"]: item for item in map(json.loads, result.stdout.splitlines())}
    assert sorted(found) == sorted(names), result.stdout + result.stderr
    assert not any(item["ok"] for item in found.values()), found
    assert "abiflags '', Py_GIL_DISABLED None; the variant built has abiflags 't'" in found["abi_is_the_variant_s"]["detail"]
    # 3.11 has no sys._is_gil_enabled: a runtime that cannot say has no free threading to show.
    assert "_is_gil_enabled" in found["free_threading_gil_stays_off"]["detail"]
