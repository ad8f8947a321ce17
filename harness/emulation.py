"""Running another architecture's programs on this machine, for pairs of a foreign architecture.

The kernel runs a foreign ELF program through the interpreter that binfmt_misc names for its
machine type: Debian's qemu-user-static ships one per architecture and a registration for each
(/usr/lib/binfmt.d/qemu-ARCH.conf, flags "OPF"). F ("fix binary") makes the kernel open the
emulator when it is registered, so the programs run inside containers too, which do not have it:
a build container of an arm64 image runs its compilers, its make and its freshly built python
unchanged, as on an arm64 machine. So the set-up is: the package installed, binfmt_misc mounted,
the registration written; as the engine's set-up installs docker.io when it is needed, this does
it when a foreign pair is asked for, and says so. A machine of the pair's own architecture needs
none of it.
"""

import enum
import os
import platform
import shutil
import subprocess
from pathlib import Path

from .errors import UsageError

BINFMT = Path("/proc/sys/fs/binfmt_misc")
REGISTRATIONS = Path("/usr/lib/binfmt.d")
# Debian's architecture names (ours) and the kernel's machine names (uname -m, QEMU's).
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


# How many times slower a program runs under QEMU here than natively: bench/emulation.py measured
# gcc at 13.0x. Time limits on emulated work (verification) grow by it.
SLOWDOWN = 13


def slowdown(arch: str) -> int:
    return 1 if arch == host_arch() else SLOWDOWN


def host_arch() -> str:
    machine = platform.machine()
    return next((arch for arch, name in MACHINES.items() if name == machine), machine)


class Step(enum.Enum):
    """What ensure() does to make this machine run another architecture's programs."""
    INSTALL = "install qemu-user-static"
    MOUNT = "mount binfmt_misc"
    REGISTER = "register QEMU with binfmt_misc"


def check(arch: str) -> tuple:
    """What ensure(arch) would do, in order (no Step: it runs here already), without doing any of it
    (--plan); the UsageError ensure() would stop with where it could not."""
    if arch == host_arch():
        return ()
    entry = BINFMT / f"qemu-{MACHINES[arch]}"
    if _registered(entry):
        return ()
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise UsageError(f"{arch} pairs on this {host_arch()} machine run under QEMU, which binfmt_misc does not have "
                         f"registered ({entry} is missing or lacks the F flag): as root, apt-get install "
                         f"qemu-user-static, then cat {REGISTRATIONS}/qemu-{MACHINES[arch]}.conf > {BINFMT}/register")
    steps = []
    if not (REGISTRATIONS / f"qemu-{MACHINES[arch]}.conf").exists():
        steps.append(Step.INSTALL)  # whose installation may register it, with F, in place of what is there
    elif entry.exists():  # registered, but disabled or without F: ensure() does not replace it
        raise _without_f(entry)
    if not (BINFMT / "register").exists():
        steps.append(Step.MOUNT)
    if not entry.exists():
        steps.append(Step.REGISTER)
    return tuple(steps)


def ensure(arch: str, say=print) -> str:
    """Make this machine run `arch` programs; return how ("native", or the emulator's entry)."""
    if arch == host_arch():
        return "native"
    entry = BINFMT / f"qemu-{MACHINES[arch]}"
    steps = check(arch)
    if not steps:
        return str(entry)
    conf = REGISTRATIONS / f"qemu-{MACHINES[arch]}.conf"
    if Step.INSTALL in steps:
        say(f"{arch} pairs run under emulation here: installing qemu-user-static")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "qemu-user-static"], capture_output=True, text=True,
                                env=env)
        if result.returncode != 0:  # a stale package index: refresh it once
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
            result = subprocess.run(["apt-get", "install", "-y", "-qq", "qemu-user-static"], capture_output=True,
                                    text=True, env=env)
        if result.returncode != 0 or not conf.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise UsageError(f"installing qemu-user-static failed ({tail[0]}); {arch} pairs cannot run here")
    if Step.MOUNT in steps:
        # Not mounted in some containers and VMs without systemd (which would mount it at boot).
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True)
    if not entry.exists():  # installing the package may have registered it already
        say(f"{arch} pairs run under emulation here: registering {conf.name} with binfmt_misc")
        try:
            (BINFMT / "register").write_text(conf.read_text().strip() + "\n")
        except OSError as exc:
            raise UsageError(f"registering {conf} with binfmt_misc failed ({exc.strerror or exc}); "
                             f"{arch} pairs cannot run here") from None
    if not _registered(entry):
        raise _without_f(entry)
    return str(entry)


def _without_f(entry: Path) -> UsageError:
    return UsageError(f"{entry} is registered without the F flag, so containers cannot use it: "
                      f"echo -1 > {entry}, then run this again")


def _registered(entry: Path) -> bool:
    """Enabled, and with F: the kernel holds the emulator open, so containers need no copy of it."""
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("flags:")), "")
    return "enabled" in lines and "F" in flags
