"""Where the time goes: one pyperformance benchmark of one bench/speed.py comparison, run by each
interpreter under valgrind's callgrind in the comparison's image; prints the instructions one loop
of the benchmark executes, in all and in the functions that account for most of them, side by side.

One loop, not one process: a process spends most of its instructions starting up and importing
pyperf (measured on 3.13.5: 551 of the 580 million instructions of nbody's --debug-single-value run),
so each side runs pyperf's worker twice, for 1 loop and for 1 + LOOPS loops, and the difference,
divided by LOOPS, is the benchmark's own steady state.

These machines have no hardware counters (`perf stat` says "not supported"), so instructions are
what can be counted; a gap in time that is not a gap in instructions is one of cycles (caches,
branches, layout). Instruction counts do not depend on the machine's load.

    .venv/bin/python bench/speed_profile.py speed-debian-13 nbody   [TOP=15] [LOOPS=5] [PROFILE_CPU=1: pin to a core]
"""

import io
import os
import re
import subprocess
import sys

import docker.errors
from common import say
from speed import BENCHMARKS, COMPARISONS, WORK, archives_for, bench_image, heroku_recipe_tree, tools

from harness import archive as archive_mod
from harness import engine, images, layout
from harness.hashing import inputs_sha256
from harness.stacks import load_stacks

TOP = int(os.environ.get("TOP", "15"))
LOOPS = int(os.environ.get("LOOPS", "5"))


def valgrind_image(client, base_id):
    dockerfile = (f"FROM {base_id}\nUSER root\nRUN apt-get update -q && apt-get install -y -q --no-install-recommends "
                  "valgrind && rm -rf /var/lib/apt/lists/*\n")
    tag = f"pyruntimes/bench-valgrind:{inputs_sha256({'dockerfile': dockerfile})[:16]}"
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        say("building the profiling image (bench image + valgrind)")
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        return image.id


def top_functions(annotated: str) -> tuple[int, list[tuple[int, str]]]:
    """callgrind_annotate's total and its per-function lines: (instructions, 'file:function')."""
    total = re.search(r"^([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", annotated, re.MULTILINE)
    rows = re.findall(r"^\s*([\d,]+) \([\s\d.]+%\)\s+(\S.*?)(?: \[.*\])?$", annotated, re.MULTILINE)
    number = lambda text: int(text.replace(",", ""))  # noqa: E731
    functions = [(number(count), name) for count, name in rows if "PROGRAM TOTALS" not in name]
    return number(total.group(1)) if total else 0, functions


def main():
    names = [c.name for c in COMPARISONS]
    if len(sys.argv) != 3 or sys.argv[1] not in names:
        raise SystemExit(f"usage: speed_profile.py COMPARISON BENCHMARK; COMPARISON is one of {', '.join(names)}")
    name, benchmark = sys.argv[1], sys.argv[2]
    if not (tools()[1] / f"bm_{benchmark}").is_dir():
        raise SystemExit(f"no benchmark {benchmark!r} in bench/speed.py's BENCHMARKS: {', '.join(BENCHMARKS)}")
    comparison = next(c for c in COMPARISONS if c.name == name)
    client = engine.connect()
    stack = load_stacks(layout.STACKS)[comparison.stack]
    build_image, run_image = images.ensure_stack_images(client, stack, layout.cache_dir() / "locks", log=say)
    image = valgrind_image(client, bench_image(client, run_image, comparison.apt_package))
    lib, benchmarks = tools()
    work = WORK / f"profile-{name}"
    archive, other_archive = archives_for(comparison, f"profile-{name}")
    ours = work / archive.name  # a rebuilt archive is extracted afresh
    if not ours.exists():
        archive_mod.extract(archive, ours)
    volumes = ["-v", f"{ours}:/opt/python:ro", "-v", f"{lib}:/bench/lib:ro", "-v", f"{benchmarks}:/bench/benchmarks:ro",
               "-v", f"{work}:/out"]
    if comparison.other_build is not None:
        tree = work / f"other-{other_archive.name}"
        if not tree.exists():
            archive_mod.extract(other_archive, tree)
        volumes += ["-v", f"{tree}:/tmp/python:ro"]
    if comparison.other == "heroku-recipe":
        tree, _ = heroku_recipe_tree(client, comparison, build_image)
        volumes += ["-v", f"{tree}:/tmp/python:ro"]
    pin = ["--cpuset-cpus", os.environ["PROFILE_CPU"]] if os.environ.get("PROFILE_CPU") else []
    results = {}
    for label, python, env in ((comparison.other, comparison.other_python, comparison.other_env),
                               ("ours", "/opt/python/bin/python3", "")):
        runs = []
        for loops in (1, 1 + LOOPS):
            say(f"{benchmark} under callgrind: {label}, {loops} loop(s)")
            out = f"/out/{label}-{loops}"
            script = (f"{env} PYTHONPATH=/bench/lib valgrind --tool=callgrind --callgrind-out-file={out}.cg "
                      f"{python} /bench/benchmarks/bm_{benchmark}/run_benchmark.py --worker -l {loops} -n 1 -w 0 "
                      f"--output /tmp/result.json >{out}.log 2>&1 || {{ tail -5 {out}.log; exit 1; }}; "
                      f"callgrind_annotate --inclusive=no --threshold=100 {out}.cg")
            run = subprocess.run(["docker", "run", "--rm", "--network", "none", *pin, *volumes, "-e", "HOME=/tmp",
                                  "-w", "/tmp", image, "bash", "-c", script], capture_output=True, text=True)
            if run.returncode != 0:
                raise SystemExit(f"{benchmark} failed under callgrind ({label}): {(run.stdout + run.stderr).strip()[-400:]}")
            runs.append(top_functions(run.stdout))
        results[label] = per_loop(*runs)
    (theirs_total, theirs), (ours_total, ours_rows) = results[comparison.other], results["ours"]
    print(f"{benchmark}, {name}: instructions per loop {comparison.other} {theirs_total:,}, ours {ours_total:,} "
          f"(ours / theirs {ours_total / max(theirs_total, 1):.3f})")
    theirs_by_name = dict((function, count) for count, function in theirs)
    print(f"{'function (ours, top ' + str(TOP) + ')':<52} {'ours':>14} {comparison.other:>14} {'ratio':>7}")
    for count, function in ours_rows[:TOP]:
        other = theirs_by_name.get(function)
        ratio = f"{count / other:.3f}" if other else "-"
        print(f"{function[:52]:<52} {count:>14,} {other or 0:>14,} {ratio:>7}")
    print("(unnamed addresses are functions the stripped binaries keep no symbol for)")


def per_loop(one, more) -> tuple[int, list[tuple[int, str]]]:
    """What LOOPS loops added to one loop's run, per loop: the total and each function's
    instructions (functions keyed by name, without the file callgrind_annotate puts first)."""
    (one_total, one_rows), (more_total, more_rows) = one, more
    short = lambda rows: {name.split(":")[-1]: count for count, name in rows}  # noqa: E731
    before, after = short(one_rows), short(more_rows)
    rows = sorted(((after[name] - before.get(name, 0)) // LOOPS, name) for name in after)
    return (more_total - one_total) // LOOPS, [row for row in reversed(rows) if row[0] > 0]

if __name__ == "__main__":
    main()
