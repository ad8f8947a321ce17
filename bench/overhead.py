"""overhead: one pair (quick profile) through the harness vs. the same build script in a plain
`docker run` of the same image, both ending in a .tar.zst of the installed tree.

The harness also verifies (25 checks in two images) and publishes, which a bare docker run does
not; the ratio compares like with like: the harness's wall time minus its verify and publish
phases (as it timed them itself). The full ratio is printed too. Rounds alternate bare and
harness runs so that drift on a noisy machine hits both; the best of each is compared.

    .venv/bin/python bench/overhead.py   [BENCH_ROUNDS=2]
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import zstandard
from common import OUT, cores, harness, pair_properties, record, say

from harness import engine, images, layout, sources
from harness.build import PREFIX
from harness.layout import BUILD_SCRIPT
from harness.formulas import load_formulas
from harness.stacks import load_stacks

RUNTIME, STACK = "python-3.11.2", "debian-12"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
TARGET = 1.05


def bare_build(image_id, source, formula, work):
    """The build script in a plain docker run (private make -j cores), then tar | zstd -10 (the
quick profile's level, with the same library)."""
    prefix = work / "prefix"
    shutil.rmtree(prefix, ignore_errors=True)
    prefix.mkdir(parents=True)
    started = time.monotonic()
    subprocess.run([
        "docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
        "-v", f"{source}:/src/{source.name}:ro", "-v", f"{BUILD_SCRIPT}:/opt/build-python.sh:ro",
        "-v", f"{prefix}:{PREFIX}", "-e", f"SOURCE_TARBALL=/src/{source.name}",
        "-e", f"PYTHON_VERSION={formula.version}", "-e", "BUILD_PROFILE=quick", "-e", f"MAKE_JOBS={cores()}",
        "-e", f"SOURCE_DATE_EPOCH={sources.release_epoch(source)}",
        "-e", f"PREFIX={PREFIX}", "-e", "HOME=/tmp", "-w", "/tmp", image_id, "bash", "/opt/build-python.sh",
    ], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tar = subprocess.Popen(["tar", "-C", str(prefix), "-cf", "-", "."], stdout=subprocess.PIPE)
    with open(work / "bare.tar.zst", "wb") as archive:
        zstandard.ZstdCompressor(level=10, threads=-1).copy_stream(tar.stdout, archive)
    assert tar.wait() == 0
    return time.monotonic() - started


def main():
    formula = load_formulas(layout.RUNTIMES)[RUNTIME]
    stack = load_stacks(layout.STACKS)[STACK]
    source = sources.fetch_source(formula, layout.cache_dir(), log=say)
    build_image, _ = images.ensure_stack_images(engine.connect(), stack, layout.cache_dir() / "locks", log=say)
    out = OUT / "overhead"
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-", dir=OUT))
    args = ["--runtimes", RUNTIME, "--stacks", STACK, "--profile", "quick", "--rebuild", "--out-dir", str(out)]
    bare, full, comparable = [], [], []
    try:
        for round_ in range(1, ROUNDS + 1):
            say(f"round {round_}/{ROUNDS}: bare docker run")
            bare.append(bare_build(build_image.id, source, formula, work))
            say(f"  bare: {bare[-1]:.1f} s")
            say(f"round {round_}/{ROUNDS}: harness")
            junit = out / "junit.xml"
            wall, _ = harness(*args, junit=junit)
            props = pair_properties(junit)[f"{RUNTIME}-{STACK}"]
            extra = float(props.get("time_verify", 0)) + float(props.get("time_publish", 0))
            full.append(wall)
            comparable.append(wall - extra)
            say(f"  harness: {wall:.1f} s in all, {wall - extra:.1f} s without verify + publish "
                f"(build {props.get('time_build')} s, verify {props.get('time_verify')} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = min(comparable) / min(bare)
    lines = [
        f"pair {RUNTIME}-{STACK}, quick profile, {ROUNDS} rounds, {cores()} cores",
        f"bare docker run + tar | zstd -10 (s):      {', '.join(f'{v:.1f}' for v in bare)}",
        f"harness, whole run (s):                    {', '.join(f'{v:.1f}' for v in full)}",
        f"harness without verify + publish (s):      {', '.join(f'{v:.1f}' for v in comparable)}",
        f"full pipeline / bare (incl. 25 checks):    {min(full) / min(bare):.3f}",
        f"RATIO overhead: {ratio:.3f} (harness build-to-archive / bare docker run; target <= {TARGET})",
    ]
    record("overhead", f"overhead ratio {ratio:.3f} (target <= {TARGET})", lines)


if __name__ == "__main__":
    main()
