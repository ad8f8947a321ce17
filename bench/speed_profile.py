"""Where the time goes: one pyperformance benchmark of one bench/speed.py comparison, run once by
each interpreter under valgrind's callgrind in the comparison's image; prints the instructions
each executed in all, and the functions that account for most of them, side by side.

These machines have no hardware counters (`perf stat` says "not supported"), so instructions are
what can be counted; a gap in time that is not a gap in instructions is one of cycles (caches,
branches, layout).

    .venv/bin/python bench/speed_profile.py speed-debian-13 nbody   [TOP=15] [PROFILE_CPU=1: pin to a core]
"""

import io
import os
import re
import subprocess
import sys

import docker.errors
from common import ROOT, archive_of, say
from speed import BENCHMARKS, COMPARISONS, PROFILE, WORK, bench_image, heroku_recipe_tree, tools

from harness import archive as archive_mod
from harness import engine, images, settings
from harness.hashing import inputs_sha256
from harness.stacks import load_stacks

TOP = int(os.environ.get("TOP", "15"))


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
    stack = load_stacks(ROOT / "stacks")[comparison.stack]
    build_image, run_image = images.ensure_stack_images(client, stack, settings.cache_dir() / "locks", log=say)
    image = valgrind_image(client, bench_image(client, run_image, comparison.apt_package))
    lib, benchmarks = tools()
    work = WORK / f"profile-{name}"
    archive = archive_of(comparison.runtime, comparison.stack, PROFILE, f"profile-{name}")
    ours = work / archive.name  # a rebuilt archive is extracted afresh
    if not ours.exists():
        archive_mod.extract(archive, ours)
    volumes = ["-v", f"{ours}:/opt/python:ro", "-v", f"{lib}:/bench/lib:ro", "-v", f"{benchmarks}:/bench/benchmarks:ro",
               "-v", f"{work}:/out"]
    if comparison.other == "heroku-recipe":
        tree, _ = heroku_recipe_tree(client, comparison, build_image)
        volumes += ["-v", f"{tree}:/tmp/python:ro"]
    results = {}
    for label, python, env in ((comparison.other, comparison.other_python, comparison.other_env),
                               ("ours", "/opt/python/bin/python3", "")):
        say(f"{benchmark} under callgrind: {label}")
        script = (f"{env} PYTHONPATH=/bench/lib valgrind --tool=callgrind --callgrind-out-file=/out/{label}.cg "
                  f"{python} /bench/benchmarks/bm_{benchmark}/run_benchmark.py --debug-single-value >/out/{label}.log 2>&1 "
                  f"|| {{ tail -5 /out/{label}.log; exit 1; }}; "
                  f"callgrind_annotate --inclusive=no /out/{label}.cg | head -n {TOP + 40}")
        pin = ["--cpuset-cpus", os.environ["PROFILE_CPU"]] if os.environ.get("PROFILE_CPU") else []
        run = subprocess.run(["docker", "run", "--rm", "--network", "none", *pin, *volumes, "-e", "HOME=/tmp", "-w", "/tmp",
                              image, "bash", "-c", script], capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"{benchmark} failed under callgrind ({label}): {(run.stdout + run.stderr).strip()[-400:]}")
        results[label] = top_functions(run.stdout)
    (theirs_total, theirs), (ours_total, ours_rows) = results[comparison.other], results["ours"]
    print(f"{benchmark}, {name}: instructions {comparison.other} {theirs_total:,}, ours {ours_total:,} "
          f"(ours / theirs {ours_total / max(theirs_total, 1):.3f})")
    theirs_by_name = {}
    for count, function in theirs:
        theirs_by_name.setdefault(function.split(":")[-1], count)
    print(f"{'function (ours, top ' + str(TOP) + ')':<52} {'ours':>14} {comparison.other:>14} {'ratio':>7}")
    for count, function in ours_rows[:TOP]:
        short = function.split(":")[-1]
        other = theirs_by_name.get(short)
        ratio = f"{count / other:.3f}" if other else "-"
        print(f"{short[:52]:<52} {count:>14,} {other or 0:>14,} {ratio:>7}")


if __name__ == "__main__":
    main()
