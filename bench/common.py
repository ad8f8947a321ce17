"""What the benchmarks share: running the harness, reading what it recorded, the machine's CPU
time, and bench/RESULTS.md.

Every benchmark measures its two sides in the same run, on the same machine, one after the
other; never against a number from another day. Each prints its ratio on its last line.
"""

import datetime
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"  # bench's own out folders (gitignored); release archives come from ./out
RESULTS = BENCH / "RESULTS.md"
SECTIONS = BENCH / "results"  # one file per benchmark; RESULTS.md is made from them
ORDER = ("overhead", "matrix", "noop", "size", "speed-debian-12", "speed-debian-13", "speed-heroku-recipe",
         "speed-x86-64-v3", "speed-hardening", "freethreaded", "emulation")

sys.path.insert(0, str(ROOT))


def say(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def cores() -> int:
    return len(os.sched_getaffinity(0))


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent not idle since boot (all cores; /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def harness(*args, junit: Path, env=None, checkout: Path = ROOT) -> tuple[float, subprocess.CompletedProcess]:
    """Run the harness as a user does (in `checkout`: this one, or a worktree of another commit);
    return (wall seconds, the finished process)."""
    junit.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_runtimes.py", *args,
               f"--junitxml={junit}"]
    started = time.monotonic()
    result = subprocess.run(command, cwd=checkout, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.monotonic() - started
    if result.returncode != 0:
        sys.stdout.write(result.stdout[-4000:] + result.stderr[-2000:])
        raise SystemExit(f"the harness failed (exit {result.returncode}): {' '.join(args)}")
    return wall, result


def pair_properties(junit: Path) -> dict:
    """{pair: {property: value}} from the run's JUnit XML (what each pair recorded)."""
    pairs = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if "pair" in props:
            pairs.setdefault(props["pair"], {}).update(props)
    return pairs


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    docker = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    return f"{cores()} cores ({model}), {memory:.0f} GiB, {platform.platform()}, Docker engine {docker}"


def archive_of(runtime: str, stack: str, profile: str, name: str, variant: str = "default",
               commit: str | None = None) -> Path:
    """The archive of a pair in ./out, through the harness: reused when already built, else built
    (release: 15-20 min on 2 cores). Size and speed measure what the harness publishes. variant:
    one of builds/variants.toml (its pair is RUNTIME-VARIANT-STACK). commit: the pair as an earlier
    commit builds it (its harness, in a worktree of it, reuses ./out's archive when the inputs match)."""
    at = f" as {commit} builds it" if commit else ""
    say(f"{profile} archive of {runtime} ({variant}) on {stack}{at} (reused from ./out when already built)")
    junit = OUT / f"{name}.xml"
    # --out-dir=PATH in one word: given apart, pytest takes the path for a test path and loads
    # conftest.py from its folders (this checkout's, beside a worktree's own).
    harness("--runtimes", runtime, "--variants", variant, "--stacks", stack, "--arch", "amd64", "--profile", profile,
            f"--out-dir={ROOT / 'out'}", junit=junit, checkout=worktree(commit) if commit else ROOT)
    pair = f"{runtime}-{stack}" if variant == "default" else f"{runtime}-{variant}-{stack}"
    return Path(pair_properties(junit)[pair]["archive"])


def worktree(commit: str) -> Path:
    """A checkout of `commit` (a git worktree, made once, kept in the cache folder: outside this
    checkout, whose conftest.py pytest would otherwise load beside the worktree's own)."""
    from harness import layout

    path = layout.cache_dir() / "worktrees" / commit
    if not (path / "test_runtimes.py").exists():
        say(f"checking out {commit} into {path}")
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(path), commit], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def record(name: str, summary: str, lines: list[str]):
    """Print the lines (the ratio last), write this benchmark's section, remake RESULTS.md."""
    print("\n".join(lines))
    SECTIONS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"## {name}", "", f"Run {stamp} on {machine()}.", "", f"**{summary}**", "", "```", *lines, "```", ""]
    (SECTIONS / f"{name}.md").write_text("\n".join(body))
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (each script under `bench/` rewrites its own section). Each",
        "ratio compares two things measured side by side in the same run on the same machine.",
        "",
    ]
    for section in ORDER:
        path = SECTIONS / f"{section}.md"
        if path.exists():
            parts.append(path.read_text())
    RESULTS.write_text("\n".join(parts))
