"""speed: our release python-3.11.2 (PGO + LTO) vs. Debian's own python3.11 (3.11.2, which Debian
builds with PGO + LTO too), both in debian-12's run image, on pure-Python benchmarks from
pyperformance, timed by pyperf. Rounds alternate the two interpreters benchmark by benchmark.

Ratio: geometric mean over benchmarks of (Debian's mean time / ours): above 1.00, ours is faster.

    .venv/bin/python bench/speed.py   [BENCH_ROUNDS=2]
"""

import io
import json
import math
import os
import shutil
import subprocess
import sys
import zipfile

import docker.errors
from common import OUT, ROOT, archive_of, record, say

from harness import archive as archive_mod
from harness import engine, images, settings
from harness.hashing import inputs_sha256
from harness.stacks import load_stacks

PROFILE = os.environ.get("BENCH_PROFILE", "release")  # quick: a smoke test of the script itself
RUNTIME, STACK = "python-3.11.2", "debian-12"
PYPERF = ["pyperf==2.10.0", "psutil==7.2.2"]
PYPERFORMANCE = "pyperformance==1.14.0"
BENCHMARKS = ("chaos", "deltablue", "fannkuch", "float", "go", "hexiom", "nbody", "raytrace", "richards",
              "spectral_norm")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
PYPERF_ARGS = "--processes 3 --values 3 --warmups 1 --inherit-environ PYTHONPATH --quiet"
TARGET = 1.00
WORK = OUT / "speed"


def bench_image(client, run_image):
    """The run image plus Debian's python3.11, tagged by its inputs."""
    dockerfile = (f"FROM {run_image.id}\nUSER root\nRUN apt-get update -q && apt-get install -y -q "
                  "--no-install-recommends python3.11 && rm -rf /var/lib/apt/lists/*\n")
    tag = f"pyruntimes/bench-speed:{inputs_sha256({'dockerfile': dockerfile})[:16]}"
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        say("building the bench image (run image + Debian's python3.11)")
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        return image


def tools():
    """pyperf (with psutil, for CPython 3.11 on x86-64 Linux) and the chosen benchmarks' scripts."""
    lib, benchmarks = WORK / "lib", WORK / "benchmarks"
    if not (lib / "pyperf").exists():
        say(f"installing {' '.join(PYPERF)} for the benchmarks")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target", str(lib),
                        "--only-binary", ":all:", "--python-version", "3.11", "--implementation", "cp",
                        "--platform", "manylinux2014_x86_64", *PYPERF], check=True)
    if not benchmarks.exists():
        wheels = WORK / "wheels"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                        "-d", str(wheels), PYPERFORMANCE], check=True)
        with zipfile.ZipFile(next(wheels.glob("pyperformance-*.whl"))) as wheel:
            for name in wheel.namelist():
                parts = name.split("/")
                if name.startswith("pyperformance/data-files/benchmarks/bm_") and parts[3][3:] in BENCHMARKS \
                        and name.endswith("run_benchmark.py"):
                    target = benchmarks / parts[3] / "run_benchmark.py"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(wheel.read(name))
    return lib, benchmarks


def main():
    archive = archive_of(RUNTIME, STACK, PROFILE, "speed")
    client = engine.connect()
    _, run_image = images.ensure_stack_images(client, load_stacks(ROOT / "stacks")[STACK],
                                              settings.cache_dir() / "locks", log=say)
    image = bench_image(client, run_image)
    lib, benchmarks = tools()
    runtime, results = WORK / "runtime", WORK / "results"
    for folder in (runtime, results):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    archive_mod.extract(archive, runtime)

    interpreters = {"debian": "/usr/bin/python3.11", "ours": "/opt/python/bin/python3"}
    script = ["set -e"]
    for round_ in range(1, ROUNDS + 1):
        for name in BENCHMARKS:
            for label, python in interpreters.items():
                script.append(f"echo 'round {round_}: {name} ({label})'")
                script.append(f"PYTHONPATH=/bench/lib {python} /bench/benchmarks/bm_{name}/run_benchmark.py "
                              f"{PYPERF_ARGS} -o /bench/results/{label}-{name}-{round_}.json")
    script.append("for p in " + " ".join(interpreters.values()) + "; do $p -c 'import sys; print(sys.version)'; done")
    say(f"{len(BENCHMARKS)} benchmarks x {len(interpreters)} interpreters x {ROUNDS} rounds in the run image")
    run = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
         "-v", f"{runtime}:/opt/python:ro", "-v", f"{lib}:/bench/lib:ro", "-v", f"{benchmarks}:/bench/benchmarks:ro",
         "-v", f"{results}:/bench/results", "-e", "HOME=/tmp", "-w", "/tmp", image.id, "bash", "-c", "\n".join(script)],
        capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"benchmarks failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    versions = run.stdout.strip().splitlines()[-2:]

    sys.path.insert(0, str(lib))
    import pyperf

    lines = [f"debian: {versions[0]}", f"ours:   {versions[1]}", "",
             f"{'benchmark':<15} {'debian (ms)':>12} {'ours (ms)':>12} {'debian/ours':>12}"]
    ratios = []
    for name in BENCHMARKS:
        means = {}
        for label in interpreters:
            values = []
            for round_ in range(1, ROUNDS + 1):
                values += pyperf.Benchmark.load(str(results / f"{label}-{name}-{round_}.json")).get_values()
            means[label] = sum(values) / len(values)
        ratio = means["debian"] / means["ours"]
        ratios.append(ratio)
        lines.append(f"{name:<15} {means['debian'] * 1e3:>12.2f} {means['ours'] * 1e3:>12.2f} {ratio:>12.3f}")
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    lines.append(f"RATIO speed: {geomean:.3f} (geometric mean of Debian's time / ours; target >= {TARGET:.2f})")
    (WORK / "summary.json").write_text(json.dumps({"ratios": dict(zip(BENCHMARKS, ratios)), "geomean": geomean}))
    record("speed", f"speed ratio {geomean:.3f} (target >= {TARGET:.2f})", lines)


if __name__ == "__main__":
    main()
