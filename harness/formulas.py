"""Formulas: one TOML file per runtime under builds/runtimes/, validated on load."""

import datetime
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .datafile import Fields, read_toml
from .errors import DataFileError
from .hashing import file_sha256
from .layout import PATCHES, RELATIVE
from .stacks import NAME_RE as STACK_NAME_RE

# Every pattern is matched whole (fullmatch): `$` alone lets a trailing newline through. Numbers have
# no leading zeros, so 3.13.015 cannot be a second formula for 3.13.15; ASCII digits only.
VERSION_RE = re.compile(r"3\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
# The URL's last segment names the file in the source cache and on mirrors: a tarball's name, no
# path tricks (no "..": every dot has a name part on both sides; no "/", no "%"); the build script
# unpacks these kinds.
TARBALL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]*(\.[A-Za-z0-9_+-]+)*\.(tar\.xz|tar\.gz|tgz)")
NAME_PREFIX = "python-"


@dataclass(frozen=True)
class Formula:
    name: str  # python-3.13.15: the file's stem, used in options, test ids and keys
    version: str
    url: str
    sha256: str
    configure_args: tuple = ()  # extra ./configure arguments for this version only
    stacks: tuple = ()  # stacks this runtime supports; empty: all
    end_of_life: datetime.date | None = None  # when CPython stopped fixing this minor; still built
    # Changes applied to the source before it is built (builds/patches/NAME, `patch -p1`): upstream
    # fixes released after this version, each file saying which. Empty for almost every formula.
    patches: tuple = ()
    path: Path = None
    file_hash: str = ""  # sha256 of the formula file: part of every cache key
    # A variant of the formula (harness/variants.py, builds/variants.toml): its name ("" for the
    # default build; name is then python-X.Y.Z-VARIANT), its ABI flag (lib/python3.13t) and uv's name.
    variant: str = ""
    abi_suffix: str = ""
    uv_variant: str | None = None
    cflags: tuple = ()  # a variant's compiler options for CPython's own code (-march=x86-64-v3)
    candidate: bool = False  # a candidate variant's build: verified, measured, never published

    @property
    def minor(self) -> str:
        return self.version.rsplit(".", 1)[0]

    @property
    def base_name(self) -> str:
        """The formula's own name (its file's), whatever the variant: python-3.13.15."""
        return NAME_PREFIX + self.version

    def patch_hashes(self) -> list[dict]:
        """Each patch's name and sha256, in the order they are applied: for keys and records."""
        return [{"name": patch.name, "sha256": file_sha256(patch)} for patch in self.patches]

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def load_formula(path: Path) -> Formula:
    fields = Fields(path, read_toml(path))
    fields.reject_unknown({"version", "url", "sha256", "configure_args", "stacks", "end_of_life", "patches"})
    version = fields.get("version", str)
    if not VERSION_RE.fullmatch(version):
        raise fields.error("version", f"must look like 3.X.Y (numbers without leading zeros), not {version!r}")
    if path.stem != NAME_PREFIX + version:
        raise fields.error("version", f"is {version!r} but the file is named {path.name}: "
                           f"rename it to {NAME_PREFIX}{version}.toml")
    url = _source_url(fields)
    sha256 = fields.get("sha256", str)
    if not SHA256_RE.fullmatch(sha256):
        raise fields.error("sha256", f"must be 64 lowercase hex characters, not {sha256!r} ({len(sha256)} characters)")
    patches = []
    for name in fields.strings("patches", required=False):
        patch = PATCHES / name
        if "/" in name or not patch.is_file():
            raise fields.error("patches", f"{name!r} is not a file in {RELATIVE.patches}/: "
                                          "name a patch file there, e.g. \"python-3.13.5-gh-135858.patch\"")
        patches.append(patch)
    configure_args = fields.strings("configure_args", required=False)
    for arg in configure_args:
        # The build script gets them one per line (CONFIGURE_EXTRA): a newline would make two.
        if not arg.isprintable():
            raise fields.error("configure_args", f"{arg!r} holds a newline or another control character: "
                                                 "write one ./configure argument per string")
    stacks = fields.strings("stacks", required=False)
    if "stacks" in fields.table and not stacks:
        raise fields.error("stacks", "is empty: name the stacks this runtime supports, or leave the field out "
                                     "for all of them")
    for stack in stacks:
        if not STACK_NAME_RE.fullmatch(stack):  # whether the stack exists, selection.py checks
            raise fields.error("stacks", f"{stack!r} is not a stack name (a folder of stacks/, e.g. \"debian-12\")")
    return Formula(
        name=path.stem,
        version=version,
        url=url,
        sha256=sha256,
        configure_args=configure_args,
        stacks=stacks,
        end_of_life=fields.date("end_of_life"),
        patches=tuple(patches),
        path=path,
        file_hash=file_sha256(path),
    )


def _source_url(fields) -> str:
    url = fields.get("url", str)
    expected = "an http(s) URL whose last segment is the source tarball (NAME.tar.xz, .tar.gz or .tgz)"
    if not url.isprintable() or " " in url:
        raise fields.error("url", f"must be {expected}, without spaces or control characters; not {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unclosed [ in the host
        raise fields.error("url", f"must be {expected}, not {url!r}") from None
    filename = parts.path.rsplit("/", 1)[-1]
    if (parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment
            or not TARBALL_RE.fullmatch(filename)):
        raise fields.error("url", f"must be {expected}, with no query or fragment; not {url!r}")
    return url


def load_formulas(directory: Path) -> dict[str, Formula]:
    formulas = {}
    for path in sorted(directory.glob("*.toml")):
        formula = load_formula(path)
        formulas[formula.name] = formula
    if not formulas:
        raise DataFileError(directory, "(folder)", "holds no formula (*.toml)")
    return dict(sorted(formulas.items(), key=lambda item: _version_key(item[1].version)))


def _version_key(version):
    return tuple(int(part) for part in version.split("."))
