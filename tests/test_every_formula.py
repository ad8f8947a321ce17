"""Every Python line reachable here, built and verified for real (quick profile), so that a new
check or a change to the build script is tried on 3.9, 3.11 and 3.13 before it lands: a check
added for 3.13 (build_flags) once failed every 3.9 build unnoticed, because nothing in the test
suite built 3.9 (issue 24).

Which formulas: those whose source this machine can fetch (Debian's source archive carries
3.9.2, 3.11.2, 3.13.5 and 3.13.15; the other formulas' tarballs are not reachable from here), each
on the stacks whose own Python line it is or that the default runtime is built for. A formula
added to builds/runtimes/ that is reachable belongs in REACHABLE; test_every_reachable_formula_is_listed
holds the list to the formulas and stacks that exist.

Slow (`make test-slow`): eight quick builds (six, and two free-threaded), about 20 minutes on 2 cores.
"""

import pytest

from harness import layout
from harness.formulas import load_formulas
from harness.stacks import load_stacks
from tests.helpers import NATIVE, run_harness, table_row

pytestmark = [pytest.mark.engine, pytest.mark.build, pytest.mark.slow]

# runtime -> the stacks it is built on here. One harness run per entry (runtimes x stacks).
REACHABLE = [
    (("python-3.9.2",), ("debian-11",)),                           # bullseye's python3.9
    (("python-3.11.2", "python-3.13.15"), ("debian-12", "debian-13")),  # bookworm's; the default runtime
    (("python-3.13.5",), ("debian-13",)),                          # trixie's python3.13
]
# The variants (builds/variants.toml) of the default runtime, built beside it: the free-threaded
# build passes every check the default one does and the three of its own (36).
VARIANTS = [(("python-3.13.15",), ("debian-12", "debian-13"), "freethreaded")]


def test_every_reachable_formula_is_listed():
    formulas, stacks = load_formulas(layout.RUNTIMES), load_stacks(layout.STACKS)
    for runtimes, stack_names in REACHABLE:
        assert set(runtimes) <= formulas.keys() and set(stack_names) <= stacks.keys()
    listed = {runtime.split("-")[1].rsplit(".", 1)[0] for runtimes, _ in REACHABLE for runtime in runtimes}
    assert listed == {"3.9", "3.11", "3.13"}  # every Python line whose source this machine reaches


@pytest.mark.parametrize("runtimes, stacks", REACHABLE, ids=["+".join(r) + "@" + "+".join(s) for r, s in REACHABLE])
def test_each_reachable_formula_builds_and_passes_every_check(runtimes, stacks, tmp_path):
    out = tmp_path / "out"
    result = run_harness("test_runtimes.py", "--runtimes", ",".join(runtimes), "--stacks", ",".join(stacks),
                         "--arch", NATIVE, "--profile", "quick", "-n", "2", "--out-dir", str(out))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for runtime in runtimes:
        for stack in stacks:
            row = table_row(result.stdout, f"{runtime}-{stack}")
            passed, total = map(int, row[4].split("/"))
            # Every check ran and passed: none skipped for this version, none silently dropped.
            assert row[1] == "passed" and passed == total >= 34, row


@pytest.mark.parametrize("runtimes, stacks, variant", VARIANTS,
                         ids=["+".join(r) + "-" + v + "@" + "+".join(s) for r, s, v in VARIANTS])
def test_each_variant_builds_and_passes_every_check(runtimes, stacks, variant, tmp_path):
    result = run_harness("test_runtimes.py", "--runtimes", ",".join(runtimes), "--variants", variant,
                         "--stacks", ",".join(stacks), "--arch", NATIVE, "--profile", "quick", "-n", "2",
                         "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    for runtime in runtimes:
        for stack in stacks:
            row = table_row(result.stdout, f"{runtime}-{variant}-{stack}")
            passed, total = map(int, row[4].split("/"))
            assert row[1] == "passed" and passed == total >= 36, row
