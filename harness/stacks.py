"""Stacks: one folder per stack under stacks/, holding stack.toml, validated on load."""

import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .datafile import Fields, read_toml, shown
from .errors import DataFileError

ARCHITECTURES = {"amd64", "arm64"}
# Every pattern is matched whole (fullmatch): `$` alone lets a trailing newline through, and a
# package name goes into a Dockerfile's RUN line.
PACKAGE_RE = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian policy 5.6.1
# A stack's name is its folder's: it appears in cache keys, image tags, bucket keys and test ids.
NAME_RE = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# debootstrap takes the suite as an argument: a name, never an option.
SUITE_RE = re.compile(r"[a-z][a-z0-9-]*")
# A Docker image reference: [host[:port]/]path[:tag][@sha256:digest], as `docker pull` takes it.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_RE = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
                      r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")


# A soname as ELF's DT_NEEDED names it: libssl.so.3, ld-linux-x86-64.so.2, libbz2.so.1.0.
SONAME_RE = re.compile(r"(?:lib|ld-)[A-Za-z0-9_+.-]*\.so(?:\.[0-9]+)*")
GLIBC_RE = re.compile(r"2\.[0-9]+")


@dataclass(frozen=True)
class ElfPolicy:
    """What a runtime built for the stack may ask of the system ([policy] in stack.toml): the
    shared libraries outside the archive its ELF files may need, each by its soname, and the newest
    glibc symbol version they may reference (the stack's own glibc: a newer one would not load on
    it). Held to by the elf_policy check, file by file."""
    libraries: tuple
    glibc: str  # "2.36"

    @property
    def glibc_version(self) -> tuple:
        return tuple(int(part) for part in self.glibc.split("."))


@dataclass(frozen=True)
class Stack:
    name: str  # the folder's name: debian-12, heroku-24
    description: str
    architectures: tuple
    build_base: str  # image the build image starts from; pulled when a registry answers
    run_base: str  # image the run image starts from (the same as build_base for Debian stacks)
    debian_suite: str  # else bootstrapped from the host's Debian archive ("" = cannot be)
    build_packages: tuple
    run_packages: tuple
    end_of_life: datetime.date | None = None  # when the stack stopped getting updates; still built
    # [cross]: how a machine of another architecture cross-compiles for this stack (None: it
    # cannot, and builds a foreign architecture under emulation). The packages added to the
    # machine's own build image: the cross compiler, and each [build] package that is not a tool
    # (a library's -dev) for the target ("libssl-dev:arm64").
    cross_compiler: tuple = ()
    cross_tools: tuple = ()
    policy: ElfPolicy = None
    path: Path = None
    inputs_hash: str = ""  # sha256 over every file in the stack's folder

    def base_for(self, role: str) -> str:
        return self.build_base if role == "build" else self.run_base

    @property
    def cross_compiles(self) -> bool:
        return bool(self.cross_compiler)

    def cross_packages(self, arch: str) -> list:
        """What the machine's build image gets to cross-compile for `arch`."""
        return ([package.format(arch=arch) for package in self.cross_compiler]
                + [f"{package}:{arch}" for package in self.build_packages if package not in self.cross_tools])

    def image_inputs(self, role: str) -> dict:
        """What decides the bytes of the stack's build or run image."""
        packages = self.build_packages if role == "build" else self.run_packages
        return {"base": self.base_for(role), "suite": self.debian_suite, "role": role, "packages": list(packages)}


def load_stack(directory: Path) -> Stack:
    if not NAME_RE.fullmatch(directory.name):
        raise DataFileError(shown(str(directory.parent)), "(folder name)",
                            f"{directory.name!r} is not a stack name: name the folder like debian-12 or heroku-24 "
                            "(lowercase letters and digits, words joined by single '-'; it is part of cache keys "
                            "and image tags)")
    path = directory / "stack.toml"
    fields = Fields(path, read_toml(path))
    fields.reject_unknown({"description", "architectures", "end_of_life", "base", "build", "run", "cross", "policy"})
    architectures = fields.strings("architectures")
    if not architectures:  # a stack built for no architecture would drop out of the CI matrix unseen
        raise fields.error("architectures", f"is empty: name at least one of {', '.join(sorted(ARCHITECTURES))}")
    for arch in architectures:
        if arch not in ARCHITECTURES:
            raise fields.error("architectures", f"{arch!r} is not one of {', '.join(sorted(ARCHITECTURES))}")
    if len(set(architectures)) != len(architectures):  # each would be built, and published, twice
        twice = next(arch for arch in architectures if architectures.count(arch) > 1)
        raise fields.error("architectures", f"names {twice!r} twice: name each architecture once")
    base = fields.table_of("base", required=False)
    base.reject_unknown({"image", "debian_suite"})
    build, run = fields.table_of("build"), fields.table_of("run")
    for table in (build, run):
        table.reject_unknown({"packages", "image"})
        for package in table.strings("packages"):
            if not PACKAGE_RE.fullmatch(package):
                raise table.error("packages", f"{package!r} is not a Debian package name")
    cross = fields.table_of("cross", required=False)
    cross.reject_unknown({"compiler", "tools"})
    cross_compiler = cross.strings("compiler", required=False)
    cross_tools = cross.strings("tools", required=False)
    for package in cross_compiler:
        if not PACKAGE_RE.fullmatch(package.replace("{arch}", "arm64")):
            raise cross.error("compiler", f"{package!r} is not a Debian package name ({{arch}} stands for the target's)")
    for package in cross_tools:
        if package not in build.strings("packages"):
            raise cross.error("tools", f"{package!r} is not one of [build] packages: tools name which of them "
                                       "run on the building machine")
    if cross_tools and not cross_compiler:
        raise cross.error("compiler", "is missing: name the cross compiler's package, e.g. \"crossbuild-essential-{arch}\"")
    shared_base = base.get("image", str, required=False, default="")
    bases = {}
    for role, table in (("build", build), ("run", run)):
        bases[role] = table.get("image", str, required=False, default=shared_base)
        if not bases[role]:
            raise table.error("image", "is missing (or set [base] image for both build and run)")
        if not IMAGE_RE.fullmatch(bases[role]):
            which = table if "image" in table.table else base  # the field it came from
            raise which.error("image", f"{bases[role]!r} is not an image reference: write one as docker pull takes "
                                       "it, e.g. \"debian:bookworm-slim\" or \"heroku/heroku:24\"")
    debian_suite = base.get("debian_suite", str, required=False, default="")
    if debian_suite and not SUITE_RE.fullmatch(debian_suite):
        raise base.error("debian_suite", f"{debian_suite!r} is not a Debian suite name, e.g. \"bookworm\"")
    return Stack(
        policy=_policy(fields),
        name=directory.name,
        description=fields.get("description", str),
        architectures=architectures,
        build_base=bases["build"],
        run_base=bases["run"],
        debian_suite=debian_suite,
        build_packages=build.strings("packages"),
        run_packages=run.strings("packages"),
        end_of_life=fields.date("end_of_life"),
        cross_compiler=cross_compiler,
        cross_tools=cross_tools,
        path=directory,
        inputs_hash=_folder_hash(directory),
    )


def _policy(fields: Fields) -> ElfPolicy:
    """[policy]: required, so that a new stack, or a library a build-image change pulls in, ships
    only once someone has written it down."""
    policy = fields.table_of("policy")
    policy.reject_unknown({"libraries", "glibc"})
    libraries = policy.strings("libraries")
    for soname in libraries:
        if not SONAME_RE.fullmatch(soname):
            raise policy.error("libraries", f"{soname!r} is not a soname as a NEEDED entry names it, e.g. \"libssl.so.3\"")
    glibc = policy.get("glibc", str)
    if not GLIBC_RE.fullmatch(glibc):
        raise policy.error("glibc", f"{glibc!r} is not a glibc version: the stack's own, e.g. \"2.36\"")
    return ElfPolicy(libraries, glibc)


def load_stacks(directory: Path) -> dict[str, Stack]:
    stacks = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        stacks[folder.name] = load_stack(folder)
    if not stacks:
        raise DataFileError(directory, "(folder)", "holds no stack folder")
    return stacks


def _folder_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()
