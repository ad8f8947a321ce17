"""noop: the matrix benchmark's 4-pair run again, nothing changed: every archive and every
verification is reused, the dry-run publish still happens. Wall seconds of the whole pytest run.

    .venv/bin/python bench/noop.py     (after bench/matrix.py, which leaves the archives)
"""

from common import OUT, harness, pair_properties, record, say
from matrix import ARGS

TARGET = 15.0


def main():
    if not (OUT / "matrix").exists():
        say("no matrix run to repeat: building the 4 pairs first (untimed)")
        harness(*ARGS, junit=OUT / "noop-setup.xml")
    runs = []
    for attempt in range(3):
        wall, _ = harness(*ARGS, junit=OUT / "noop.xml")
        runs.append(wall)
        say(f"run {attempt + 1}: {wall:.1f} s")
    pairs = pair_properties(OUT / "noop.xml")
    reused = sorted(pair for pair, props in pairs.items()
                    if props.get("reused") == "True" and props.get("verify_reused") == "True")
    assert len(reused) == len(pairs) == 4, pairs
    lines = [f"4 pairs, -n 2, nothing changed: {', '.join(f'{v:.1f}' for v in runs)} s (3 runs)",
             f"build and verification reused for: {', '.join(reused)}",
             f"RATIO noop: {min(runs):.1f} s (wall seconds, best of 3; target <= {TARGET:.0f} s)"]
    record("noop", f"noop {min(runs):.1f} s (target <= {TARGET:.0f} s)", lines)


if __name__ == "__main__":
    main()
