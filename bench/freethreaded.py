"""freethreaded: what the free-threaded variant (builds/variants.toml) is for, and what it costs,
measured on our release builds of python-3.13.15 on debian-12, default and free-threaded, side by
side in the stack's run image:

  freethreaded-scaling  pure-Python CPU work on as many threads as the machine has cores: the
                        free-threaded build's throughput / the default build's (goal >= 1.7 on 2 cores;
                        with the GIL, threads take turns, so the default build does one core's work)
  freethreaded-single   the same work on one thread: free-threaded / default throughput (upstream:
                        "about 40% [overhead] on the pyperformance suite" in 3.13, free-threading HOWTO;
                        3.14 brings it to 5-10 %, its What's New)

The work is five kernels in the manner of pyperformance's (integer arithmetic, float arithmetic
(nbody-like), function calls (fib), dict and list churn, string building), each thread running all
of them on objects of its own (no shared state to contend on). Rounds alternate the two interpreters
and take each one's best, so drift of the machine hits both alike.

No Debian comparison: neither trixie nor sid packages a free-threaded python3.13 (apt-cache search
for nogil, freethread and python3.13t in both, December 2026), so speed-debian-13-freethreaded has
nothing to measure against.

    .venv/bin/python bench/freethreaded.py   [BENCH_ROUNDS=5] [BENCH_PROFILE=quick: a smoke test]
"""

import json
import os
import shutil
import subprocess

from common import OUT, archive_of, cores, record, say

from harness import archive as archive_mod
from harness import engine, images, layout
from harness.stacks import load_stacks

PROFILE = os.environ.get("BENCH_PROFILE", "release")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RUNTIME, STACK = "python-3.13.15", "debian-12"
SCALING_GOAL = 1.7
WORK = OUT / "freethreaded"

KERNELS = r'''
import json, sys, threading, time

def integers(n=200000):
    total = 0
    for i in range(n):
        total = (total + i * i) % 1000003
    return total

def floats(n=60000):
    x, y, vx, vy = 0.1, 0.2, 0.3, 0.4
    for _ in range(n):
        d = (x * x + y * y) ** 0.5 + 0.01
        vx -= x / (d * d * d) * 0.01
        vy -= y / (d * d * d) * 0.01
        x += vx * 0.01
        y += vy * 0.01
    return x + y

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def containers(n=40000):
    d, l = {}, []
    for i in range(n):
        d[i % 997] = d.get(i % 997, 0) + i
        l.append(i)
        if len(l) > 100:
            l = l[50:]
    return len(d) + len(l)

def strings(n=30000):
    parts = []
    for i in range(n):
        parts.append("%d:%s" % (i, "x" * (i % 7)))
    return len(",".join(parts))

def work():  # about 0.3 s on one thread here: long enough that starting threads is no part of it
    for _ in range(12):
        integers(); floats(); fib(20); containers(); strings()

def timed(threads):
    pool = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for t in pool: t.start()
    for t in pool: t.join()
    return time.perf_counter() - started

threads = int(sys.argv[1])
work()  # warm up
print(json.dumps({"single": min(timed(1) for _ in range(3)), "parallel": min(timed(threads) for _ in range(3)),
                  "threads": threads, "gil": getattr(sys, "_is_gil_enabled", lambda: True)(),
                  "version": sys.version}))
'''


def main():
    client = engine.connect()
    archives = {variant: archive_of(RUNTIME, STACK, PROFILE, f"freethreaded-{variant}", variant)
                for variant in ("default", "freethreaded")}
    stack = load_stacks(layout.STACKS)[STACK]
    _, run_image = images.ensure_stack_images(client, stack, layout.cache_dir() / "locks", log=say)
    shutil.rmtree(WORK, ignore_errors=True)
    volumes = []
    for variant, archive in archives.items():
        archive_mod.extract(archive, WORK / variant)
        volumes += ["-v", f"{WORK / variant}:/opt/{variant}:ro"]
    (WORK / "kernels.py").write_text(KERNELS)
    volumes += ["-v", f"{WORK / 'kernels.py'}:/bench/kernels.py:ro"]
    n = cores()
    say(f"{RUNTIME} on {STACK}, default and free-threaded ({PROFILE}): {ROUNDS} rounds, 1 and {n} threads")
    best = {"default": {}, "freethreaded": {}}
    for round_ in range(ROUNDS):
        for variant in (("default", "freethreaded") if round_ % 2 == 0 else ("freethreaded", "default")):
            run = subprocess.run(["docker", "run", "--rm", "--network", "none", *volumes, "-e", "HOME=/tmp",
                                  run_image.id, f"/opt/{variant}/bin/python3", "/bench/kernels.py", str(n)],
                                 capture_output=True, text=True, timeout=1800)
            if run.returncode != 0:
                raise SystemExit(f"{variant}: the kernels failed: {run.stdout[-2000:]}{run.stderr[-2000:]}")
            result = json.loads(run.stdout.splitlines()[-1])
            for key in ("single", "parallel"):
                best[variant][key] = min(best[variant].get(key, result[key]), result[key])
            best[variant]["gil"], best[variant]["version"] = result["gil"], result["version"]
    default, free = best["default"], best["freethreaded"]
    if free["gil"] or not default["gil"]:
        raise SystemExit(f"the builds are not what they say: GIL on in free-threaded {free['gil']}, default {default['gil']}")
    # Throughput: the work done per second, one unit per thread.
    scaling = (n / free["parallel"]) / (n / default["parallel"])
    single = (1 / free["single"]) / (1 / default["single"])
    lines = [
        f"archives: {', '.join(path.name for path in archives.values())}",
        f"default:       {default['version']}",
        f"free-threaded: {free['version']}",
        f"one thread:      default {default['single']:.3f}s, free-threaded {free['single']:.3f}s (best of {ROUNDS} rounds x 3)",
        f"{n} threads:       default {default['parallel']:.3f}s, free-threaded {free['parallel']:.3f}s "
        f"({n} units of work; default's threads take turns under the GIL)",
        f"free-threaded on {n} threads does {n * free['single'] / free['parallel']:.2f}x its one-thread work per second; "
        f"default {n * default['single'] / default['parallel']:.2f}x",
        f"single-thread cost of free threading: {100 * (1 - single):.1f} % here (3.13's HOWTO: about 40 % on pyperformance)",
        f"so on {n} cores the scaling ratio can reach at most {n} x {single:.2f} = {n * single:.2f} (perfect scaling); "
        f"it reached {scaling / (n * single):.0%} of that. The goal of {SCALING_GOAL} needs a single-thread cost "
        f"under {100 * (1 - SCALING_GOAL / n):.0f} % (3.14's What's New: 5-10 %)",
        "speed-debian-13-freethreaded: not measured, no Debian suite packages a free-threaded python3.13",
        f"RATIO freethreaded-scaling: {scaling:.2f}",
        f"RATIO freethreaded-single: {single:.2f}",
    ]
    record("freethreaded", f"freethreaded-scaling {scaling:.2f} (goal >= {SCALING_GOAL} on {n} cores), "
                           f"freethreaded-single {single:.2f}", lines)


if __name__ == "__main__":
    main()
