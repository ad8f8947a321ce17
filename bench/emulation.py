"""How to build arm64 on an amd64 machine (issue 14): the compiler run natively, run as an arm64
program under QEMU, and run as an x86-64 cross compiler, compiling the same C sources side by side.

The sources are CPython's own libmpdec (Modules/_decimal/libmpdec: 15 files, self-contained), at
-O3 as a release build compiles, one file after another on one core, three rounds interleaved:
  native     gcc in the stack's amd64 build image, for amd64 (what an amd64 pair costs)
  emulated   gcc in the stack's arm64 build image, an arm64 program run by QEMU (how the harness
             builds arm64 pairs on this machine today: harness/emulation.py)
  cross      aarch64-linux-gnu-gcc (Debian's cross compiler, an x86-64 program) in the amd64 image
Compiling is most of a build's CPU time, so emulated/native says what an emulated build costs,
and cross/native what cross-compiling would.

    python bench/emulation.py [STACK]      (default debian-12; the arm64 images are made if missing)
"""

import hashlib
import io
import sys
import tarfile

from common import ROOT, record, say

from harness import emulation, engine, images, layout, sources
from harness.formulas import load_formulas
from harness.stacks import load_stacks

RUNTIME = "python-3.11.2"
ROUNDS = 3
SCRIPT = ("cd /tmp && tar -xf /bench/src.tar && cd libmpdec && : > pyconfig.h && "
          "for f in *.c; do $CC -O3 -I. -DCONFIG_64 -DANSI -c $f -o /dev/null || exit 1; done")


def libmpdec_tar(source) -> bytes:
    """Modules/_decimal/libmpdec of the source tarball, as a tar of its own."""
    out = io.BytesIO()
    with tarfile.open(source) as whole, tarfile.open(fileobj=out, mode="w") as part:
        for member in whole:
            if "/Modules/_decimal/libmpdec/" in member.name and member.isfile():
                data = whole.extractfile(member).read()
                member.name = "libmpdec/" + member.name.rsplit("/", 1)[1]
                part.addfile(member, io.BytesIO(data))
    return out.getvalue()


def cross_image(client, build_image):
    """The amd64 build image plus Debian's aarch64 cross compiler, tagged by its inputs."""
    packages = "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"  # the compiler, and the arm64 C library's headers
    tag = f"pyruntimes/bench-cross:{hashlib.sha256((build_image.id + packages).encode()).hexdigest()[:16]}"
    try:
        return client.images.get(tag)
    except Exception:  # noqa: BLE001 - not made yet
        say("building the cross-compiler image (amd64 build image + gcc-aarch64-linux-gnu)")
        dockerfile = (f"FROM {build_image.id}\nUSER root\nRUN apt-get update -q && apt-get install -y -q "
                      f"--no-install-recommends {packages} && rm -rf /var/lib/apt/lists/*\n")
        image, _ = client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True)
        return image


def timed(client, image, compiler: str, src: bytes, workdir) -> float:
    """Wall seconds of the compiles in one container (its start excluded: timed inside)."""
    (workdir / "src.tar").write_bytes(src)
    script = f"export CC={compiler}; s=$(date +%s%N); ({SCRIPT}) || exit 1; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))"
    out = client.containers.run(image.id, ["bash", "-c", script], volumes={str(workdir): {"bind": "/bench", "mode": "ro"}},
                                network_mode="none", remove=True, cpuset_cpus="0")
    return int(out.decode().split()[-1]) / 1000


def main():
    stack_name = sys.argv[1] if len(sys.argv) > 1 else "debian-12"
    stack = load_stacks(layout.STACKS)[stack_name]
    formula = load_formulas(layout.RUNTIMES)[RUNTIME]
    emulation.ensure("arm64", say=say)
    client = engine.connect()
    locks = layout.cache_dir() / "locks"
    native_image, _ = images.ensure_stack_images(client, stack, locks, log=say, arch="amd64")
    arm_image, _ = images.ensure_stack_images(client, stack, locks, log=say, arch="arm64")
    cross = cross_image(client, native_image.image)
    source = sources.fetch_source(formula, layout.cache_dir(), mirrors=(), log=say)
    src = libmpdec_tar(source)
    work = ROOT / "bench" / "out" / "emulation"
    work.mkdir(parents=True, exist_ok=True)
    sides = {"native": (native_image.image, "gcc"), "emulated": (arm_image.image, "gcc"),
             "cross": (cross, "aarch64-linux-gnu-gcc")}
    times = {name: [] for name in sides}
    for round_ in range(ROUNDS):
        for name, (image, compiler) in sides.items():
            times[name].append(timed(client, image, compiler, src, work))
            say(f"round {round_ + 1}: {name} {times[name][-1]:.2f} s")
    best = {name: min(values) for name, values in times.items()}
    lines = [f"{name:9} {best[name]:7.2f} s  (best of {ROUNDS}: {', '.join(f'{v:.2f}' for v in times[name])})"
             for name in sides]
    lines.append(f"RATIO emulated-compile: {best['emulated'] / best['native']:.2f} (arm64 gcc under QEMU / native gcc)")
    lines.append(f"RATIO cross-compile: {best['cross'] / best['native']:.2f} (x86-64 cross gcc for arm64 / native gcc)")
    record("emulation", f"compiling CPython's libmpdec at -O3 on {stack_name}, one core: emulated "
                        f"{best['emulated'] / best['native']:.1f}x native, cross {best['cross'] / best['native']:.2f}x", lines)


if __name__ == "__main__":
    main()
