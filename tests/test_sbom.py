"""Issue 15: the CycloneDX SBOM beside each archive, checked against CycloneDX's own schema by
cyclonedx-python-lib's validator. On a small tree packed like a runtime (with a source tarball
that holds the headers the versions come from), and on the run's real build (first_build)."""

import hashlib
import io
import json
import tarfile

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from harness import archive, sbom
from harness.checks import elf_checks
from harness.checks.check import VERIFY_PREFIX
from tests.helpers import verified_build

WHEEL = b"PK\x03\x04 a wheel's bytes"
SYSTEM_EXPAT = "'--enable-shared' '--with-system-expat'"
SOURCE_FILES = {
    "Modules/_decimal/libmpdec/mpdecimal.h": '#define MPD_MAJOR_VERSION 2\n#define MPD_VERSION "2.5.1"\n',
    "Modules/_hacl/refresh.sh": "#!/usr/bin/env bash\nexpected_hacl_star_rev=bb3d0dc8d9d15a5cd51094d5b69e70aa09005ff0\n",
    "Include/internal/mimalloc/mimalloc.h": "#define MI_MALLOC_VERSION 212   // major + 2 digits minor\n",
    "Modules/expat/expat.h": "#define XML_MAJOR_VERSION 2\n#define XML_MINOR_VERSION 6\n#define XML_MICRO_VERSION 4\n",
}


def validate(document: dict):
    """None when CycloneDX 1.6's JSON schema accepts the document, else the validator's error."""
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(document))


def runtime_tree(root, config_args=SYSTEM_EXPAT, decimal_ldflags="-lm Modules/_decimal/libmpdec/libmpdec.a"):
    """The files of a 3.13 runtime the SBOM reads, with the build variables given."""
    lib = root / "lib" / "python3.13"
    for module in ("_decimal", "_sha2", "_md5", "pyexpat", "_json"):
        (lib / "lib-dynload").mkdir(parents=True, exist_ok=True)
        (lib / "lib-dynload" / f"{module}.cpython-313-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    (lib / "ensurepip" / "_bundled").mkdir(parents=True)
    (lib / "ensurepip" / "_bundled" / "pip-24.3.1-py3-none-any.whl").write_bytes(WHEEL)
    build_vars = {"CONFIG_ARGS": config_args, "MODULE__DECIMAL_LDFLAGS": decimal_ldflags,
                  "MODULE__SHA2_DEPS": "./Modules/hashlib.h \\ Modules/_hacl/libHacl_Hash_SHA2.a",
                  "MODULE__MD5_CFLAGS": "-I./Modules/_hacl/include", "MODULE__JSON_DEPS": ""}
    (lib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_text(f"build_time_vars = {build_vars!r}\n")
    (root / "include" / "python3.13").mkdir(parents=True)
    (root / "include" / "python3.13" / "pyconfig.h").write_text("#define WITH_DOC_STRINGS 1\n#define WITH_MIMALLOC 1\n")
    (root / "lib" / "libpython3.13.so.1.0").write_bytes(b"\x7fELF")
    return root


def source_tarball(path, files=SOURCE_FILES):
    with tarfile.open(path, "w:xz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(f"Python-3.13.99/{name}")
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


def library(path, package, version, arch="amd64"):
    return {"path": path, "package": package, "version": version, "arch": arch}


def record_for(packed, sha256, source_sha256):
    return {
        "runtime": "python-3.13.99", "python_version": "3.13.99", "stack": "debian-12", "arch": "amd64",
        "profile": "quick", "cache_key": "c" * 64, "archive_sha256": sha256,
        "source": {"url": "https://www.python.org/ftp/python/3.13.99/Python-3.13.99.tar.xz", "sha256": source_sha256},
        "images": {"build": {"id": "sha256:" + "b" * 64, "packages_sha256": "1" * 64},
                   "run": {"id": "sha256:" + "d" * 64, "packages_sha256": "2" * 64}},
        "run_image_os": {"id": "debian", "version_id": "12"},
        "shared_library_packages": {
            "libssl.so.3": library("/lib/x86_64-linux-gnu/libssl.so.3", "libssl3", "3.0.17-1~deb12u2"),
            "libcrypto.so.3": library("/lib/x86_64-linux-gnu/libcrypto.so.3", "libssl3", "3.0.17-1~deb12u2"),
            "libz.so.1": library("/lib/x86_64-linux-gnu/libz.so.1", "zlib1g", "1:1.2.13.dfsg-1"),
            "libodd.so.1": {"path": "/usr/local/lib/libodd.so.1", "package": None, "version": None, "arch": None},
        },
    }


@pytest.fixture
def packed(tmp_path):
    """(archive, record, source) of a small runtime tree; `make(**tree_args)` packs another."""
    def make(**tree_args):
        target = tmp_path / f"runtime-{len(list(tmp_path.glob('*.tar.zst')))}.tar.zst"
        sha256 = archive.pack(runtime_tree(tmp_path / target.stem, **tree_args), target, level=(3, None))
        source = source_tarball(tmp_path / "Python-3.13.99.tar.xz")
        return target, record_for(target, sha256, hashlib.sha256(source.read_bytes()).hexdigest()), source
    return make


def by_name(components):
    return {component["name"]: component for component in components}


def test_sbom_lists_cpython_what_it_vendors_and_the_system_libraries(packed):
    target, record, source = packed()
    document = sbom.document(record, target, source, "python-3.13.99.tar.zst")
    assert validate(document) is None
    assert document["specVersion"] == "1.6" and document["serialNumber"].startswith("urn:uuid:")
    subject = document["metadata"]["component"]
    assert subject["name"] == "python-3.13.99.tar.zst" and sbom.archive_sha256(document) == record["archive_sha256"]

    components = by_name(document["components"])
    cpython = components["cpython"]
    assert cpython["version"] == "3.13.99"
    assert cpython["hashes"] == [{"alg": "SHA-256", "content": record["source"]["sha256"]}]
    purl = PackageURL.from_string(cpython["purl"])
    assert (purl.type, purl.name, purl.version) == ("generic", "cpython", "3.13.99")
    assert purl.qualifiers == {"download_url": record["source"]["url"], "checksum": "sha256:" + record["source"]["sha256"]}

    # Vendored, and in this build: expat is not (--with-system-expat), so it is not listed.
    vendored = by_name(cpython["components"])
    assert {name: c.get("version") for name, c in vendored.items()} == {
        "pip": "24.3.1", "mpdecimal": "2.5.1", "hacl-star": "bb3d0dc8d9d15a5cd51094d5b69e70aa09005ff0",
        "mimalloc": "2.1.2"}
    assert vendored["pip"]["purl"] == "pkg:pypi/pip@24.3.1"
    assert vendored["pip"]["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(WHEEL).hexdigest()}]
    assert vendored["pip"]["evidence"]["occurrences"] == [
        {"location": "lib/python3.13/ensurepip/_bundled/pip-24.3.1-py3-none-any.whl"}]
    assert vendored["mpdecimal"]["cpe"] == "cpe:2.3:a:bytereef:mpdecimal:2.5.1:*:*:*:*:*:*:*"
    assert [o["location"] for o in vendored["hacl-star"]["evidence"]["occurrences"]] == [
        "lib/python3.13/lib-dynload/_md5.cpython-313-x86_64-linux-gnu.so",
        "lib/python3.13/lib-dynload/_sha2.cpython-313-x86_64-linux-gnu.so"]
    assert vendored["mimalloc"]["evidence"]["occurrences"] == [{"location": "lib/libpython3.13.so.1.0"}]

    # The run image's packages, one component per package, with every library file it provides.
    libssl = components["libssl3"]
    assert libssl["purl"] == "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12"
    assert libssl["scope"] == "required"
    assert [o["location"] for o in libssl["evidence"]["occurrences"]] == [
        "/lib/x86_64-linux-gnu/libcrypto.so.3", "/lib/x86_64-linux-gnu/libssl.so.3"]
    assert PackageURL.from_string(components["zlib1g"]["purl"]).version == "1:1.2.13.dfsg-1"  # the epoch kept
    assert components["libodd.so.1"]["description"] == "in the run image, owned by no package"
    assert "purl" not in components["libodd.so.1"]
    # The archive needs CPython and every system library.
    assert document["dependencies"] == [{"ref": "archive", "dependsOn": [c["bom-ref"] for c in document["components"]]}]


def test_a_vendored_expat_is_listed_and_a_system_libmpdec_is_not(packed):
    target, record, source = packed(config_args="'--enable-shared'", decimal_ldflags="-lmpdec -lm")
    document = sbom.document(record, target, source, "python-3.13.99.tar.zst")
    assert validate(document) is None
    vendored = by_name(by_name(document["components"])["cpython"]["components"])
    assert sorted(vendored) == ["expat", "hacl-star", "mimalloc", "pip"]
    assert vendored["expat"]["version"] == "2.6.4"
    assert vendored["expat"]["evidence"]["occurrences"] == [
        {"location": "lib/python3.13/lib-dynload/pyexpat.cpython-313-x86_64-linux-gnu.so"}]


def test_the_same_archive_and_record_give_the_same_bytes_and_a_new_run_image_a_new_serial(packed):
    target, record, source = packed()
    first = sbom.document(record, target, source, "python-3.13.99.tar.zst")
    assert archive.json_bytes(first) == archive.json_bytes(sbom.document(record, target, source, "python-3.13.99.tar.zst"))
    updated = {**record, "shared_library_packages": {
        **record["shared_library_packages"],
        "libssl.so.3": library("/lib/x86_64-linux-gnu/libssl.so.3", "libssl3", "3.0.18-1~deb12u1")}}
    assert sbom.document(updated, target, source, "python-3.13.99.tar.zst")["serialNumber"] != first["serialNumber"]


def test_the_validator_is_real(packed):
    """The schema check would catch a broken SBOM: a component type CycloneDX does not have."""
    target, record, source = packed()
    document = sbom.document(record, target, source, "python-3.13.99.tar.zst")
    document["components"][0]["type"] = "interpreter"
    assert validate(document) is not None


def test_package_lines_of_the_ldd_scan():
    """What LDD_SCAN prints after its loop: the package owning each library (the real scan runs in
    the pipeline: test_the_real_build_s_sbom below), here with what real images rarely show: a
    library no package owns, and a release without VERSION_ID (Debian testing)."""
    out = (f"== {VERIFY_PREFIX}/bin/python3.13\n"
           "\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f)\n"
           "\tlibodd.so.1 => /usr/local/lib/libodd.so.1 (0x00007f)\n"
           f"{elf_checks.OS_RELEASE_LINE} debian\n"
           f"{elf_checks.OWNER_LINE} /lib/x86_64-linux-gnu/libssl.so.3 libssl3:amd64 3.0.17-1~deb12u2 amd64\n"
           f"{elf_checks.OWNER_LINE} /usr/local/lib/libodd.so.1 \n")
    libraries = {}
    assert elf_checks.shared_library_check(out, libraries).ok
    assert libraries == {"libssl.so.3": "/lib/x86_64-linux-gnu/libssl.so.3", "libodd.so.1": "/usr/local/lib/libodd.so.1"}
    assert elf_checks.library_packages(out, libraries) == {
        "libodd.so.1": {"path": "/usr/local/lib/libodd.so.1", "package": None, "version": None, "arch": None},
        "libssl.so.3": library("/lib/x86_64-linux-gnu/libssl.so.3", "libssl3", "3.0.17-1~deb12u2")}
    assert elf_checks.run_image_os(out) == {"id": "debian", "version_id": None}


# -- the real build ----------------------------------------------------------------------------------

@pytest.mark.engine
@pytest.mark.build
def test_the_real_build_s_sbom(first_build):
    target, record, document, _ = verified_build(first_build)
    assert validate(document) is None
    assert sbom.archive_sha256(document) == record["archive_sha256"]
    subject = document["metadata"]["component"]
    assert subject["name"] == "python-3.11.2.tar.zst"
    assert {"name": "pyruntimes:run-image", "value": record["images"]["run"]["id"]} in subject["properties"]

    # What 3.11.2 vendors: the wheels ensurepip bundles (hashed as the archive holds them) and
    # libmpdec; no HACL* (3.12+), no mimalloc (3.13+), no expat (the stack's is used).
    cpython = by_name(document["components"])["cpython"]
    vendored = by_name(cpython["components"])
    assert {name: c["version"] for name, c in vendored.items()} == {
        "pip": "22.3.1", "setuptools": "65.5.0", "mpdecimal": "2.5.1"}
    with archive.open_tar(target) as tar:
        wheels = {m.name: hashlib.sha256(tar.extractfile(m).read()).hexdigest() for m in tar
                  if m.name.startswith("lib/python3.11/ensurepip/_bundled/") and m.name.endswith(".whl")}
    assert {c["evidence"]["occurrences"][0]["location"]: c["hashes"][0]["content"]
            for c in (vendored["pip"], vendored["setuptools"])} == wheels

    # Every system library the runtime resolved, as the run image's package and version.
    run_packages = record["images"]["run"]["packages"]
    libraries = [c for c in document["components"] if c.get("purl", "").startswith("pkg:deb/")]
    linked = {o["additionalContext"].removeprefix("linked as ") for c in libraries for o in c["evidence"]["occurrences"]}
    assert linked == set(record["shared_libraries"]) and "libssl.so.3" in linked
    for component in libraries:
        purl = PackageURL.from_string(component["purl"])
        assert (purl.namespace, purl.qualifiers["distro"], purl.qualifiers["arch"]) == ("debian", "debian-12", "amd64")
        assert run_packages.get(f"{purl.name}:amd64", run_packages.get(purl.name)) == purl.version, component
    assert [c["name"] for c in libraries if any(o["location"].endswith("/libssl.so.3")
                                                for o in c["evidence"]["occurrences"])] == ["libssl3"]


def test_a_patched_source_is_the_cpython_component_s_pedigree(packed):
    """A formula's patch (builds/patches/) is part of what was built: CycloneDX's pedigree of the
    cpython component carries it, its diff, and the upstream change it backports."""
    from harness.layout import PATCHES
    from harness.hashing import file_sha256

    target, record, source = packed()
    name = "python-3.13.5-gh-135858.patch"
    record["patches"] = [{"name": name, "sha256": file_sha256(PATCHES / name)}]
    document = sbom.document(record, target, source, "python-3.13.99.tar.zst")
    assert validate(document) is None
    [patch] = by_name(document["components"])["cpython"]["pedigree"]["patches"]
    assert patch["type"] == "backport" and "_is_disabled" in patch["diff"]["text"]["content"]
    assert patch["resolves"][0]["source"]["url"] == "https://github.com/python/cpython/pull/135858"
    # Bytes this checkout does not hold are named by the record alone: no diff that is not theirs.
    record["patches"] = [{"name": name, "sha256": "0" * 64}]
    [patch] = by_name(sbom.document(record, target, source, "x.tar.zst")["components"])["cpython"]["pedigree"]["patches"]
    assert patch == {"type": "backport"}
