"""speed: our release runtimes against what else a platform could ship, on pyperformance
benchmarks timed by pyperf, both interpreters in the same stack's run image:

  speed-debian-12      our python-3.11.2 vs Debian 12's own python3.11 (3.11.2; PGO + LTO, a static
                       interpreter: what `apt-get install python3` gives)
  speed-debian-13      our python-3.13.5 vs Debian 13's own python3.13 (3.13.5)
  speed-heroku-recipe  our python-3.11.2 vs the same source built on debian-12 with Heroku's recipe
                       (bench/heroku_recipe.sh: shared libpython, dpkg's flags after CPython's)
  speed-x86-64-v3      our python-3.13.15 x86-64-v3 candidate variant vs our default build of it
                       (builds/variants.toml: shipped only if at least 2 % faster; issue 27)
  speed-hardening      our python-3.13.15 vs the same pair as commit BEFORE_HARDENING builds it
                       (before _FORTIFY_SOURCE, issue 28: a drop of more than 1 % needs a reason)

Each comparison runs in one container; rounds alternate the two interpreters benchmark by
benchmark, so drift of the machine hits both alike. With two cores or more, the comparisons run
side by side, each pinned to a core of its own. The benchmarks (BENCHMARKS, 20 scripts from
pyperformance's wheel, with their data files; none needs a package beyond pyperf) and pyperf are
installed offline: downloaded from PyPI on the host, mounted read-only, no network in the container.

Ratio: geometric mean over every benchmark the scripts report (pyperformance's own unit: logging
reports three) of (their mean time / ours): above 1.00, ours is faster. Per-benchmark tables go to
bench/RESULTS.md.

    .venv/bin/python bench/speed.py   [BENCH_ROUNDS=2] [BENCH_ONLY=speed-debian-12,...]
"""

import io
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass

import docker.errors
from common import OUT, ROOT, archive_of, cores, record, say

from harness import archive as archive_mod
from harness import engine, images, layout, sources
from harness.containers import container_options
from harness.formulas import load_formulas
from harness.hashing import file_sha256, inputs_sha256
from harness.stacks import load_stacks

PROFILE = os.environ.get("BENCH_PROFILE", "release")  # quick: a smoke test of the script itself
PYPERF = ["pyperf==2.10.0", "psutil==7.2.2"]
PYPERFORMANCE = "pyperformance==1.14.0"
BENCHMARKS = ("chaos", "deepcopy", "deltablue", "fannkuch", "float", "generators", "go", "hexiom", "json_dumps",
              "json_loads", "logging", "nbody", "nqueens", "pyflate", "raytrace", "regex_v8", "richards",
              "spectral_norm", "sqlite_synth", "xml_etree")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PYPERF_ARGS = "--processes 2 --values 3 --warmups 1 --inherit-environ PYTHONPATH,LD_LIBRARY_PATH --quiet"
TARGET = 1.05
WORK = OUT / "speed"
HEROKU_RECIPE = ROOT / "bench" / "heroku_recipe.sh"


# The last commit before issue 28 added dpkg's CPPFLAGS (_FORTIFY_SOURCE) to CPython's own code.
BEFORE_HARDENING = "a8de7ce"


@dataclass(frozen=True)
class OurBuild:
    """The other side of a comparison when it is ours too: a variant of the pair in this checkout,
    or the pair as an earlier commit builds it."""
    variant: str = "default"
    commit: str | None = None


@dataclass(frozen=True)
class Comparison:
    name: str
    runtime: str  # ours
    stack: str
    other: str  # what we are compared with
    other_python: str  # its interpreter, in the bench image
    apt_package: str | None = None  # Debian's own python, installed into the bench image
    other_env: str = ""  # what its interpreter needs to run
    variant: str = "default"  # which build of ours (builds/variants.toml)
    other_build: OurBuild | None = None  # the other is a build of ours, extracted at /tmp/python
    target: float = TARGET
    # What the ratio decides, (if the target is met, if not): printed under the ratio.
    decision: tuple | None = None


COMPARISONS = (
    Comparison("speed-debian-12", "python-3.11.2", "debian-12", "debian", "/usr/bin/python3.11", apt_package="python3.11"),
    Comparison("speed-debian-13", "python-3.13.5", "debian-13", "debian", "/usr/bin/python3.13", apt_package="python3.13"),
    Comparison("speed-heroku-recipe", "python-3.11.2", "debian-12", "heroku-recipe", "/tmp/python/bin/python3",
               other_env="LD_LIBRARY_PATH=/tmp/python/lib"),
    # Ratio above 1.02: the v3 build is at least 2 % faster, worth shipping as a variant.
    Comparison("speed-x86-64-v3", "python-3.13.15", "debian-12", "default", "/tmp/python/bin/python3",
               variant="x86-64-v3", other_build=OurBuild(), target=1.02,
               decision=("ship x86-64-v3 as a variant: drop `candidate = true` in builds/variants.toml and list it "
                         "in the uv catalog under uv's arch variant, x86_64_v3 (harness/bucket/catalog.py has none yet)", "x86-64-v3 is not shipped: it stays a candidate in builds/variants.toml")),
    Comparison("speed-hardening", "python-3.13.15", "debian-12", "before", "/tmp/python/bin/python3",
               other_build=OurBuild(commit=BEFORE_HARDENING), target=0.99,
               decision=("the hardening costs less than 1 %", "a drop of more than 1 %: the reason and the decision are "
                         "in builds/build-python.sh (dpkg's CPPFLAGS) and README's Benchmarks")),
)


def bench_image(client, run_image, apt_package):
    """The run image, plus Debian's own python when the comparison is with it; tagged by inputs."""
    if not apt_package:
        return run_image.id
    dockerfile = (f"FROM {run_image.id}\nUSER root\nRUN apt-get update -q && apt-get install -y -q "
                  f"--no-install-recommends {apt_package} && rm -rf /var/lib/apt/lists/*\n")
    tag = f"pyruntimes/bench-speed:{inputs_sha256({'dockerfile': dockerfile})[:16]}"
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        say(f"building the bench image (run image + Debian's {apt_package})")
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        return image.id


def tools():
    """pyperf (with psutil) and the chosen benchmarks' folders (script and data files)."""
    lib, benchmarks = WORK / "lib", WORK / "benchmarks"
    if not (lib / "pyperf").exists():
        say(f"installing {' '.join(PYPERF)} for the benchmarks")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(lib),
                        "--only-binary", ":all:", "--python-version", "3.11", "--implementation", "cp",
                        "--platform", "manylinux2014_x86_64", *PYPERF], check=True)
    marker = benchmarks / ".complete"
    if not marker.exists() or marker.read_text() != ",".join(BENCHMARKS):
        shutil.rmtree(benchmarks, ignore_errors=True)
        wheels = WORK / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "-d", str(wheels), PYPERFORMANCE], check=True)
        with zipfile.ZipFile(next(wheels.glob("pyperformance-*.whl"))) as wheel:
            for name in wheel.namelist():
                parts = name.split("/")
                if name.startswith("pyperformance/data-files/benchmarks/bm_") and parts[3][3:] in BENCHMARKS \
                        and not name.endswith("/"):
                    target = benchmarks.joinpath(*parts[3:])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(wheel.read(name))
        marker.write_text(",".join(BENCHMARKS))
    return lib, benchmarks


def heroku_recipe_tree(client, comparison, build_image) -> tuple:
    """The runtime built with Heroku's recipe, in the stack's build image: built once per input
    (recipe, source, image packages), kept in bench/out. Returns (tree, its build's CPU seconds)."""
    formula = load_formulas(layout.RUNTIMES)[comparison.runtime]
    source = sources.fetch_source(formula, layout.cache_dir(), log=say)
    key = inputs_sha256({"recipe": file_sha256(HEROKU_RECIPE), "source": formula.sha256,
                         "image": build_image.packages_sha256})[:16]
    tree = WORK / f"heroku-recipe-{comparison.runtime}-{comparison.stack}-{key}"
    done = tree.parent / (tree.name + ".json")  # not with_suffix: the name holds dots (3.11.2)
    if done.exists():
        return tree, json.loads(done.read_text())
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    say(f"building {comparison.runtime} on {comparison.stack} with Heroku's recipe (PGO + LTO: 10-20 min)")
    log = tree.parent / (tree.name + ".log")
    container = client.containers.run(
        command=["bash", "/opt/recipe.sh"],
        volumes={str(HEROKU_RECIPE): {"bind": "/opt/recipe.sh", "mode": "ro"},
                 str(source): {"bind": f"/opt/source/{source.name}", "mode": "ro"},
                 str(tree): {"bind": "/tmp/python", "mode": "rw"}},
        environment={"SOURCE_TARBALL": f"/opt/source/{source.name}", "PYTHON_VERSION": formula.version,
                     "MAKE_JOBS": str(cores()), "HOME": "/tmp"},
        **container_options(build_image, "bench-speed", "heroku-recipe"))
    try:
        status = container.wait()["StatusCode"]
        output = container.logs().decode("utf-8", "replace")
    finally:
        engine.remove_quietly(container)
    log.write_text(output)
    if status != 0:
        raise SystemExit(f"Heroku's recipe failed (exit {status}); see {log}")
    cpu = next((json.loads(line[len("::cpu:: "):]) for line in output.splitlines() if line.startswith("::cpu:: ")), {})
    facts = {"cpu_seconds": round(cpu.get("user_seconds", 0) + cpu.get("system_seconds", 0), 1)}
    done.write_text(json.dumps(facts))
    return tree, facts


def script_for(comparison, interpreters, results_dir):
    lines = ["set -e"]
    for round_ in range(1, ROUNDS + 1):
        for name in BENCHMARKS:
            for label, (python, env) in interpreters.items():
                lines.append(f"echo 'round {round_}: {name} ({label})'")
                lines.append(f"{env} PYTHONPATH=/bench/lib {python} /bench/benchmarks/bm_{name}/run_benchmark.py "
                             f"{PYPERF_ARGS} -o {results_dir}/{label}-{name}-{round_}.json")
    for label, (python, env) in interpreters.items():
        lines.append(f"echo \"::version:: {label} $({env} {python} -c 'import sys; print(sys.version)')\"")
    return "\n".join(lines)


def archives_for(comparison, label) -> tuple:
    """(our archive, the other's when it is ours too, else None), through the harness (release
    builds when missing)."""
    ours = archive_of(comparison.runtime, comparison.stack, PROFILE, label, variant=comparison.variant)
    other = None
    if comparison.other_build is not None:
        other = archive_of(comparison.runtime, comparison.stack, PROFILE, f"{label}-{comparison.other}",
                           variant=comparison.other_build.variant, commit=comparison.other_build.commit)
    return ours, other


def run_comparison(client, comparison, archive, other_archive, cpu, outcome):
    stack = load_stacks(layout.STACKS)[comparison.stack]
    build_image, run_image = images.ensure_stack_images(client, stack, layout.cache_dir() / "locks", log=say)
    image = bench_image(client, run_image, comparison.apt_package)
    lib, benchmarks = tools()
    work = WORK / comparison.name
    ours, results = work / "ours", work / "results"
    for folder in (ours, results):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    archive_mod.extract(archive, ours)
    volumes = ["-v", f"{ours}:/opt/python:ro", "-v", f"{lib}:/bench/lib:ro", "-v", f"{benchmarks}:/bench/benchmarks:ro",
               "-v", f"{results}:/bench/results"]
    facts = {"archive": archive.name}
    if comparison.other_build is not None:
        tree = work / "other"
        shutil.rmtree(tree, ignore_errors=True)
        archive_mod.extract(other_archive, tree)
        volumes += ["-v", f"{tree}:/tmp/python:ro"]
        facts["other_archive"] = other_archive.name
    if comparison.other == "heroku-recipe":
        tree, built = heroku_recipe_tree(client, comparison, build_image)
        volumes += ["-v", f"{tree}:/tmp/python:ro"]
        record_ = archive_mod.read_json(archive_mod.beside(archive, archive_mod.RECORD_SUFFIX))
        facts["build_cpu_seconds"] = {"ours": record_.get("build_cpu_seconds"), "heroku-recipe": built["cpu_seconds"]}
    interpreters = {comparison.other: (comparison.other_python, comparison.other_env),
                    "ours": ("/opt/python/bin/python3", "")}
    script = script_for(comparison, interpreters, "/bench/results")
    say(f"{comparison.name}: {len(BENCHMARKS)} benchmarks x 2 interpreters x {ROUNDS} rounds"
        f"{f' on CPU {cpu}' if cpu is not None else ''}")
    pin = ["--cpuset-cpus", str(cpu)] if cpu is not None else []
    run = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", *pin, "--user", f"{os.getuid()}:{os.getgid()}", *volumes,
         "-e", "HOME=/tmp", "-w", "/tmp", image, "bash", "-c", script], capture_output=True, text=True)
    if run.returncode != 0:
        outcome[comparison.name] = SystemExit(f"{comparison.name}: benchmarks failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
        return
    versions = dict(line.split(" ", 2)[1:] for line in run.stdout.splitlines() if line.startswith("::version:: "))
    outcome[comparison.name] = summarize(comparison, results, versions, facts)


def summarize(comparison, results, versions, facts):
    sys.path.insert(0, str(WORK / "lib"))
    import pyperf

    times = {}  # (benchmark, label) -> values
    for label in (comparison.other, "ours"):
        for name in BENCHMARKS:
            for round_ in range(1, ROUNDS + 1):
                for bench in pyperf.BenchmarkSuite.load(str(results / f"{label}-{name}-{round_}.json")).get_benchmarks():
                    times.setdefault((bench.get_name(), label), []).extend(bench.get_values())
    names = sorted({name for name, _ in times})
    lines = [f"{comparison.other}: {versions.get(comparison.other, '?')}", f"ours: {versions.get('ours', '?')}"]
    if "other_archive" in facts:
        lines.append(f"archives: ours {facts['archive']}, {comparison.other} {facts['other_archive']}")
    if "build_cpu_seconds" in facts:
        cpu = facts["build_cpu_seconds"]
        lines.append(f"build CPU seconds: ours {cpu['ours']}, Heroku's recipe {cpu['heroku-recipe']}")
    lines += ["", f"{'benchmark':<24} {comparison.other + ' (ms)':>20} {'ours (ms)':>12} {'ratio':>8}"]
    ratios = {}
    for name in names:
        theirs, ours = (sum(v) / len(v) for v in (times[(name, comparison.other)], times[(name, "ours")]))
        ratios[name] = theirs / ours
        lines.append(f"{name:<24} {theirs * 1e3:>20.4g} {ours * 1e3:>12.4g} {ratios[name]:>8.3f}")
    geomean = math.exp(sum(math.log(r) for r in ratios.values()) / len(ratios))
    slower = [name for name, ratio in ratios.items() if ratio < 1]
    lines.append(f"{len(ratios)} benchmarks from {len(BENCHMARKS)} scripts; ours slower on {len(slower)}"
                 f"{': ' + ', '.join(slower) if slower else ''}")
    if comparison.decision:  # above the ratio, which stays the last line
        lines.append("decision: " + comparison.decision[0 if geomean >= comparison.target else 1])
    lines.append(f"RATIO {comparison.name}: {geomean:.3f} (geometric mean of {comparison.other}'s time / ours; "
                 f"target >= {comparison.target:.2f})")
    (WORK / f"{comparison.name}.json").write_text(json.dumps({"ratios": ratios, "geomean": geomean, **facts}))
    return geomean, lines


def main():
    only = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name]
    chosen = [c for c in COMPARISONS if not only or c.name in only]
    client = engine.connect()
    tools()
    # Archives first (a release build each when missing), so that benchmarks never run beside a build.
    archives, others = {}, {}
    for comparison in chosen:
        archives[comparison.name], others[comparison.name] = archives_for(comparison, comparison.name)
        if comparison.other == "heroku-recipe":
            stack = load_stacks(layout.STACKS)[comparison.stack]
            build_image, _ = images.ensure_stack_images(client, stack, layout.cache_dir() / "locks", log=say)
            heroku_recipe_tree(client, comparison, build_image)
    outcome, slots = {}, max(1, cores())
    for start in range(0, len(chosen), slots):
        batch = chosen[start:start + slots]
        threads = [threading.Thread(target=run_comparison,
                                    args=(client, c, archives[c.name], others.get(c.name), i if slots > 1 else None,
                                          outcome))
                   for i, c in enumerate(batch)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Each comparison its own section of bench/RESULTS.md (bench/results/NAME.md): a run of some
    # (BENCH_ONLY) leaves the others' last results in place.
    for comparison in chosen:
        result = outcome.get(comparison.name)
        if isinstance(result, SystemExit) or result is None:
            raise result or SystemExit(f"{comparison.name}: no result")
        geomean, section = result
        record(comparison.name, f"{comparison.name} {geomean:.3f} (target >= {comparison.target:.2f})", section)


if __name__ == "__main__":
    main()
