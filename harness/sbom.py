"""The SBOM beside each archive: a CycloneDX 1.6 JSON document (ARCHIVE.cdx.json) of what the
runtime is made of, and of what it needs from the stack's run image.

Its subject (metadata.component) is the archive under its published name (python-X.Y.Z.tar.zst),
with its SHA-256. Its components, and where each is found:

- CPython: version, source URL and the sha256 of the source tarball, from the record (the
  formula's pins, which the build checked the tarball against); purl
  pkg:generic/cpython@X.Y.Z?download_url=URL&checksum=sha256:HASH, and NVD's CPE for Python.
- Nested in CPython (CycloneDX's "components" of a component: what it contains), the code CPython
  vendors that is in this build: found in the archive itself, versioned from the source tarball.
  - The wheels ensurepip bundles (pip; setuptools too before 3.12), read from the archive's
    lib/pythonX.Y/ensurepip/_bundled/: name and version from the file name (PEP 427), SHA-256 of
    the file; purl pkg:pypi/NAME@VERSION.
  - mpdecimal (libmpdec), in the _decimal module: when the archive's build-time variables
    (lib/pythonX.Y/_sysconfigdata_*.py) link _decimal with Modules/_decimal/libmpdec/libmpdec.a
    (3.11+), or, for the setup.py builds before 3.11, when CONFIG_ARGS has no
    --with-system-libmpdec. Version: MPD_VERSION in Modules/_decimal/libmpdec/mpdecimal.h.
  - HACL* (3.12+), in the hash modules whose build variables (MODULE_<NAME>_CFLAGS, _DEPS,
    _LDFLAGS) name Modules/_hacl. Version: the hacl-star commit Modules/_hacl/refresh.sh expects.
  - mimalloc (3.13+), in libpython, when the archive's include/pythonX.Y/pyconfig.h defines
    WITH_MIMALLOC. Version: MI_MALLOC_VERSION in Include/internal/mimalloc/mimalloc.h (212 is 2.1.2).
  - expat only when pyexpat was built with CPython's copy, that is without --with-system-expat in
    CONFIG_ARGS. builds/build-python.sh passes it, so expat is never listed here: the stack's
    libexpat is, with the system libraries. Version: XML_*_VERSION in Modules/expat/expat.h.
  Not listed: the rest of what CPython's own SBOM (Misc/sbom.spdx.json, 3.12+) names: libb2
  (BLAKE2's reference code in _blake2, until 3.14 moved BLAKE2 to HACL*) and macholib (Mach-O
  parsing, used by ctypes on macOS only).
- The system libraries the runtime links, as verification resolved them in the run image: the
  record's shared_library_packages (the ldd scan, and the dpkg package that owns each file, both
  in the run image: harness/checks/elf_checks.py). One component per package, purl
  pkg:deb/ID/PACKAGE@VERSION?arch=ARCH&distro=ID-VERSION_ID with ID and VERSION_ID from the run
  image's /etc/os-release (the record's run_image_os: debian, ubuntu), and the files it provides as
  evidence. They are not in the archive: they are what it needs from the image it runs in.

The document is deterministic (no timestamp; a serial number derived from its content): the same
archive verified in the same run image gives the same bytes.
"""

import ast
import hashlib
import re
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from packageurl import PackageURL

from . import archive as archive_mod
from .layout import PATCHES
from .hashing import file_sha256

SPEC_VERSION = "1.6"
MEDIA_TYPE = "application/vnd.cyclonedx+json"
SUBJECT_REF = "archive"
CPYTHON_REF = "cpython"

# What document() reads from the archive: the bundled wheels, the build-time variables, pyconfig.h.
_ARCHIVE_FILES = re.compile(r"lib/python3\.\d+t?/(ensurepip/_bundled/[^/]+\.whl|_sysconfigdata_[^/]*\.py)"
                            r"|include/python3\.\d+t?/pyconfig\.h")


@dataclass(frozen=True)
class ArchiveContents:
    """What the SBOM needs to know of an archive: the names of all its members, and the bytes of
    the few files it reads (_ARCHIVE_FILES)."""
    names: frozenset
    files: dict

    def build_vars(self) -> dict:
        """CPython's build-time variables (sysconfig.get_config_vars() of the runtime, read
        without running it): the literal dict in lib/pythonX.Y/_sysconfigdata_*.py."""
        for name, data in self.files.items():
            if "/_sysconfigdata_" in name:
                for node in ast.parse(data).body:
                    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "build_time_vars":
                        return ast.literal_eval(node.value)
        return {}

    def config_args(self) -> str:
        return self.build_vars().get("CONFIG_ARGS", "")

    def pyconfig(self) -> str:
        return next((data.decode() for name, data in self.files.items() if name.endswith("/pyconfig.h")), "")

    def wheels(self) -> dict:
        return {name: data for name, data in sorted(self.files.items()) if name.endswith(".whl")}

    def extension(self, module: str) -> str | None:
        """The path of a stdlib extension module's file (lib/pythonX.Y/lib-dynload/MODULE.*.so)."""
        pattern = re.compile(rf"lib/python3\.\d+t?/lib-dynload/{re.escape(module)}\.[^/]*so")
        return next((name for name in sorted(self.names) if pattern.fullmatch(name)), None)

    def libpython(self) -> str | None:
        return next((name for name in sorted(self.names) if re.fullmatch(r"lib/libpython3\.\d+t?\.so\.1\.0", name)), None)


def read_archive(archive: Path) -> ArchiveContents:
    with archive_mod.open_tar(archive) as tar:
        names, files = _read_tar(tar, lambda name: name if _ARCHIVE_FILES.fullmatch(name) else None)
    return ArchiveContents(frozenset(names), files)


def read_source_files(source: Path, paths: set) -> dict:
    """Some files of the source tarball, by their path in the source tree (Modules/...), as text."""
    def wanted(name):
        inside = name.split("/", 1)[-1]  # Python-X.Y.Z/Modules/... -> Modules/...
        return inside if inside in paths else None

    with tarfile.open(source, "r|*") as tar:
        _, files = _read_tar(tar, wanted)
    return {path: data.decode("utf-8", "replace") for path, data in files.items()}


def _read_tar(tar, wanted: Callable[[str], str | None]) -> tuple[set, dict]:
    """One pass over a tar stream: every member's name, and the regular files `wanted` names
    (it maps a member's name to the key to keep its bytes under, or None)."""
    names, files = set(), {}
    for member in tar:
        names.add(member.name)
        key = wanted(member.name)
        if key and member.isfile():
            files[key] = tar.extractfile(member).read()
    return names, files


# -- vendored libraries ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Vendored:
    """A library CPython carries a copy of, and how to tell whether (and where) this build has it."""
    name: str
    version_file: str  # in the source tree
    version: Callable[[str], str | None]  # the version, from that file's text
    found_in: Callable[[ArchiveContents], list]  # the archive's files it is compiled into; [] when not in this build
    purl: Callable[[str], PackageURL]
    licence: str  # SPDX id
    cpe: str = ""  # with {version}; as CPython's Misc/sbom.spdx.json names it for NVD


def _define(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1) if match else None


def _mimalloc_version(text: str) -> str | None:
    # MI_MALLOC_VERSION holds one digit each of major, minor and patch: 212 is 2.1.2 (tag v2.1.2).
    digits = _define(r"^#define\s+MI_MALLOC_VERSION\s+(\d+)", text)
    return ".".join(digits) if digits else None


def _expat_version(text: str) -> str | None:
    parts = [_define(rf"^#define\s+XML_{part}_VERSION\s+(\d+)", text) for part in ("MAJOR", "MINOR", "MICRO")]
    return ".".join(parts) if all(parts) else None


def _mpdecimal_in(contents: ArchiveContents) -> list:
    module = contents.extension("_decimal")
    build_vars = contents.build_vars()
    if "MODULE__DECIMAL_LDFLAGS" in build_vars:  # 3.11+: the Makefile links the copy, or -lmpdec
        bundled = "Modules/_decimal/libmpdec" in build_vars["MODULE__DECIMAL_LDFLAGS"]
    else:  # before 3.11, setup.py used the copy unless told otherwise
        bundled = not re.search(r"--with-system-libmpdec(?!=no)", contents.config_args())
    return [module] if module and bundled else []


def _hacl_in(contents: ArchiveContents) -> list:
    modules = {match.group(1).lower() for key, value in contents.build_vars().items()
               if (match := re.fullmatch(r"MODULE_(\w+)_(?:CFLAGS|DEPS|LDFLAGS)", key)) and "Modules/_hacl" in str(value)}
    return sorted(path for path in map(contents.extension, modules) if path)


def _mimalloc_in(contents: ArchiveContents) -> list:
    libpython = contents.libpython()
    return [libpython] if libpython and re.search(r"^#define WITH_MIMALLOC 1$", contents.pyconfig(), re.MULTILINE) else []


def _expat_in(contents: ArchiveContents) -> list:
    module = contents.extension("pyexpat")
    return [module] if module and "--with-system-expat" not in contents.config_args() else []


def _generic(name, download_url):
    return lambda version: PackageURL("generic", None, name, version, {"download_url": download_url(version)})


VENDORED = (
    Vendored("mpdecimal", "Modules/_decimal/libmpdec/mpdecimal.h",
             lambda text: _define(r'^#define\s+MPD_VERSION\s+"([^"]+)"', text), _mpdecimal_in,
             _generic("mpdecimal", lambda v: f"https://www.bytereef.org/software/mpdecimal/releases/mpdecimal-{v}.tar.gz"),
             "BSD-2-Clause", "cpe:2.3:a:bytereef:mpdecimal:{version}:*:*:*:*:*:*:*"),
    Vendored("hacl-star", "Modules/_hacl/refresh.sh",
             lambda text: _define(r"^expected_hacl_star_rev=([0-9a-f]+)", text), _hacl_in,
             lambda version: PackageURL("github", "hacl-star", "hacl-star", version),
             "MIT", "cpe:2.3:a:hacl-star:hacl-star:{version}:*:*:*:*:*:*:*"),
    Vendored("mimalloc", "Include/internal/mimalloc/mimalloc.h", _mimalloc_version, _mimalloc_in,
             lambda version: PackageURL("github", "microsoft", "mimalloc", f"v{version}"), "MIT"),
    Vendored("expat", "Modules/expat/expat.h", _expat_version, _expat_in,
             _generic("expat", lambda v: f"https://github.com/libexpat/libexpat/releases/download/"
                                         f"R_{v.replace('.', '_')}/expat-{v}.tar.gz"),
             "MIT", "cpe:2.3:a:libexpat_project:libexpat:{version}:*:*:*:*:*:*:*"),
)


def vendored_components(contents: ArchiveContents, source: Path) -> list[dict]:
    """The components CPython vendors in this build: the bundled wheels, then VENDORED's."""
    components = [_wheel(path, data) for path, data in contents.wheels().items()]
    present = [(library, found) for library in VENDORED if (found := library.found_in(contents))]
    texts = read_source_files(source, {library.version_file for library, _ in present}) if present else {}
    for library, found in present:
        version = library.version(texts.get(library.version_file, ""))
        identity = {"version": version, "purl": library.purl(version).to_string(),
                    **({"cpe": library.cpe.format(version=version)} if library.cpe else {})} if version else {}
        components.append({"type": "library", "bom-ref": f"vendored:{library.name}", "name": library.name, **identity,
                           "licenses": [{"license": {"id": library.licence}}],
                           "evidence": {"occurrences": [{"location": path} for path in found]}})
    return components


def _wheel(path: str, data: bytes) -> dict:
    name, version = Path(path).name.split("-")[:2]  # NAME-VERSION-TAGS.whl (PEP 427)
    purl = PackageURL("pypi", None, name.replace("_", "-").lower(), version).to_string()
    return {"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl,
            "hashes": [_sha256(hashlib.sha256(data).hexdigest())],
            "evidence": {"occurrences": [{"location": path}]}}


# -- the document ------------------------------------------------------------------------------------

def document(record: dict, archive: Path, source: Path, name: str) -> dict:
    """The SBOM of the archive the record describes (verified: its system libraries come from
    the verification), published as `name`; source is the CPython source tarball it was built from."""
    libraries = system_library_components(record)
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "lifecycles": [{"phase": "build"}],
            "tools": {"components": [{"type": "application", "name": "pyruntimes"}]},
            "component": _subject(record, name),
        },
        "components": [_cpython(record, vendored_components(read_archive(archive), source)), *libraries],
        "dependencies": [{"ref": SUBJECT_REF, "dependsOn": [CPYTHON_REF, *(c["bom-ref"] for c in libraries)]}],
    }
    # Unique per content, and the same for the same content (uuid5 of its hash), so that a
    # verification in an updated run image gives a new serial number and a rerun does not.
    content = hashlib.sha256(archive_mod.json_bytes(bom)).hexdigest()
    return {**bom, "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{name}#{content}')}"}


def archive_sha256(bom: dict) -> str | None:
    """The sha256 of the archive an SBOM describes (to tell a stale copy from a current one)."""
    try:
        hashes = bom["metadata"]["component"]["hashes"]
    except (KeyError, TypeError):
        return None
    return next((h.get("content") for h in hashes if isinstance(h, dict) and h.get("alg") == "SHA-256"), None)


def _sha256(hexdigest: str) -> dict:
    return {"alg": "SHA-256", "content": hexdigest}


def _property(name: str, value) -> dict:
    return {"name": f"pyruntimes:{name}", "value": str(value)}


def _subject(record: dict, name: str) -> dict:
    return {"type": "file", "bom-ref": SUBJECT_REF, "name": name, "version": record["python_version"],
            "description": f"CPython {record['python_version']} for the {record['stack']} stack ({record['arch']}), "
                           f"{record['profile']} profile",
            "hashes": [_sha256(record["archive_sha256"])],
            "properties": [_property("stack", record["stack"]), _property("arch", record["arch"]),
                           _property("profile", record["profile"]), _property("cache-key", record["cache_key"]),
                           _property("run-image", record["images"]["run"]["id"])]}


def _cpython(record: dict, vendored: list) -> dict:
    version, url, sha256 = record["python_version"], record["source"]["url"], record["source"]["sha256"]
    purl = PackageURL("generic", None, "cpython", version, {"download_url": url, "checksum": f"sha256:{sha256}"})
    component = {"type": "application", "bom-ref": CPYTHON_REF, "name": "cpython", "version": version,
                 "licenses": [{"license": {"id": "PSF-2.0"}}], "hashes": [_sha256(sha256)],
                 "purl": purl.to_string(), "cpe": f"cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*",
                 "externalReferences": [{"type": "source-distribution", "url": url, "hashes": [_sha256(sha256)]},
                                        {"type": "website", "url": "https://www.python.org/"}]}
    if record.get("patches"):
        component["pedigree"] = {"patches": [_patch(patch) for patch in record["patches"]]}
    return {**component, "components": vendored} if vendored else component


def _patch(patch: dict) -> dict:
    """A patch applied to CPython's source (builds/patches/): CycloneDX's pedigree, with the diff
    itself when this checkout holds the same bytes, and the upstream change it backports."""
    entry = {"type": "backport"}
    path = PATCHES / patch["name"]
    if path.is_file() and file_sha256(path) == patch["sha256"]:
        text = path.read_text()
        entry["diff"] = {"text": {"contentType": "text/x-diff", "content": text}}
        upstream = re.search(r"\(python/cpython#(\d+)\)", text)
        if upstream:
            entry["resolves"] = [{"type": "defect", "id": f"python/cpython#{upstream.group(1)}",
                                  "source": {"url": f"https://github.com/python/cpython/pull/{upstream.group(1)}"}}]
    return entry


def system_library_components(record: dict) -> list[dict]:
    """One component per run-image package that provides a library the runtime links."""
    os_release = record.get("run_image_os") or {}
    distro = f"{os_release['id']}-{os_release['version_id']}" if os_release.get("version_id") else None
    by_package = {}
    for soname, found in sorted((record.get("shared_library_packages") or {}).items()):
        key = (found["package"], found["version"], found["arch"]) if found["package"] else (soname, None, None)
        by_package.setdefault(key, []).append({"location": found["path"], "additionalContext": f"linked as {soname}"})
    components = []
    for (package, version, arch), occurrences in sorted(by_package.items()):
        if version is None:  # a file no package of the run image owns: named by its soname
            components.append({"type": "library", "bom-ref": f"unpackaged:{package}", "name": package, "scope": "required",
                               "description": "in the run image, owned by no package", "evidence": {"occurrences": occurrences}})
            continue
        purl = PackageURL("deb", os_release.get("id"), package, version,
                          {"arch": arch, **({"distro": distro} if distro else {})}).to_string()
        components.append({"type": "library", "bom-ref": purl, "name": package, "version": version, "purl": purl,
                           "scope": "required", "evidence": {"occurrences": occurrences}})
    return components
