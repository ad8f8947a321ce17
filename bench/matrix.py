"""matrix: 4 pairs (3.11.2 and 3.13.15 on debian-12 and debian-13), quick profile, -n 2, every
pair rebuilt: wall time vs. the CPU time the machine spent during the run divided by its cores.

The CPU side is the whole machine's non-idle time from /proc/stat over the run (the builds, the
verifications, the harness, Docker): everything the run made the machine do. The ratio is then
1 / (average core utilisation): 1.00 means no core was idle while the run lasted.

    .venv/bin/python bench/matrix.py
"""

from pathlib import Path

from common import OUT, busy_cpu_seconds, cores, harness, pair_properties, record, say

from harness import archive as archive_mod
from harness import layout, sources
from harness.formulas import load_formulas

RUNTIMES, STACKS = ("python-3.11.2", "python-3.13.15"), ("debian-12", "debian-13")
ARGS = ["--runtimes", ",".join(RUNTIMES), "--stacks", ",".join(STACKS), "--profile", "quick", "-n", "2",
        "--out-dir", str(OUT / "matrix")]
TARGET = 1.10
# Named on each pair's line whatever the count says: the checks issue 13 asked to see on every pair.
NAMED_CHECKS = ("embeds_in_c_program", "build_flags")


def check_summary(props) -> str:
    """The named checks' outcomes and any failed check, from the archive's record."""
    if not props.get("archive"):
        return "no archive"
    record_ = archive_mod.read_json(archive_mod.beside(Path(props["archive"]), archive_mod.RECORD_SUFFIX)) or {}
    results = record_.get("verification", {})
    named = [f"{name} {'passed' if results.get(name, {}).get('ok') else 'FAILED' if name in results else 'not run'}"
             for name in NAMED_CHECKS]
    failed = sorted(name for name, outcome in results.items() if not outcome["ok"] and name not in NAMED_CHECKS)
    return ", ".join(named + ([f"failed: {', '.join(failed)}"] if failed else []))


def main():
    formulas = load_formulas(layout.RUNTIMES)
    for name in RUNTIMES:  # sources first: fetching is not what this measures
        sources.fetch_source(formulas[name], layout.cache_dir(), log=say)
    say("warm-up: stack images (--plan builds any that are missing)")
    harness(*ARGS, "--plan", junit=OUT / "matrix-plan.xml")
    say("4 pairs, -n 2, --rebuild")
    cpu_before = busy_cpu_seconds()
    wall, _ = harness(*ARGS, "--rebuild", junit=OUT / "matrix.xml")
    cpu = busy_cpu_seconds() - cpu_before
    ideal = cpu / cores()
    ratio = wall / ideal
    pairs = pair_properties(OUT / "matrix.xml")
    lines = [f"{pair}: build {props.get('time_build')} s, verify {props.get('time_verify')} s, "
             f"checks {props.get('checks')} ({check_summary(props)})" for pair, props in sorted(pairs.items())]
    lines += [
        f"wall {wall:.1f} s; machine CPU {cpu:.1f} s over {cores()} cores = {ideal:.1f} s if no core idled",
        f"average utilisation {100 * cpu / (wall * cores()):.1f}%",
        f"RATIO matrix: {ratio:.3f} (wall / (CPU seconds / cores); target <= {TARGET})",
    ]
    record("matrix", f"matrix ratio {ratio:.3f} (target <= {TARGET})", lines)


if __name__ == "__main__":
    main()
