"""When a pair's earlier work is reused: the archive's cache key, the verification's key, and the
test that an archive already in the out folder can stand for a build.

The inputs of each key are what can change its outcome. Adding an input unconditionally changes
every key (everything is rebuilt or re-verified), so inputs that existing archives lack are added
under a condition that leaves those archives' keys as they were (as "arch" is).
"""

from __future__ import annotations

from pathlib import Path

from . import archive as archive_mod
from . import build, inputs, layout
from .checks import verify
from .hashing import file_sha256, inputs_sha256

ARCHIVE_FORMAT = 2  # bump when packaging changes the bytes of archives built from the same tree
# (2: entries dated with the source's release date, not 2000-01-01)


def archive_key(formula, compile_image, profile: str, arch: str, method: build.Method,
                profile_data: Path | None) -> str:
    """The archive's cache key: a hash of every input that can change the archive's bytes. The
    checkout's files among them are those harness/inputs.py names, the definition --changed-since
    reads too; each is hashed as it was before that definition existed, so no key changed."""
    cross = method is build.Method.CROSS
    files = inputs.archive_files(layout.CHECKOUT, formula, cross=cross)
    key_inputs = {
        "formula": file_sha256(files.formula),
        "build_script": file_sha256(files.build_script),
        # What the build image holds (its packages and their versions), not when it was made:
        # a refresh that changes no package keeps every archive.
        "build_image_packages": compile_image.packages_sha256,
        "profile": profile,
        "archive_format": ARCHIVE_FORMAT,
        "zstd_level": archive_mod.ZSTD_LEVELS[profile],
    }
    if arch != "amd64":
        # Package lists can be the same for two architectures (dpkg names native packages without
        # one), so the architecture itself is an input; amd64 keys stay what they were before
        # architectures were part of a pair, so archives already built and published are found.
        key_inputs["arch"] = arch
    if formula.variant:
        # A variant's build: its configure arguments and ABI (builds/variants.toml); the default
        # build's keys stay what they were before variants existed.
        key_inputs["variant"] = {"name": formula.variant, "configure_args": list(formula.configure_args),
                                 "abi_suffix": formula.abi_suffix}
        if formula.cflags:
            key_inputs["variant"]["cflags"] = list(formula.cflags)
    if files.patches:
        key_inputs["patches"] = [{"name": patch.name, "sha256": file_sha256(patch)} for patch in files.patches]
    if cross:  # configure's answers for the target
        key_inputs["cross_sites"] = inputs_sha256({path.name: file_sha256(path) for path in files.cross_answers})
    if profile_data:
        key_inputs["profile_data"] = file_sha256(profile_data)
    return inputs_sha256(key_inputs)


def verification_key(archive_sha256: str, run_image, build_image, compile_image, policy=None) -> str:
    """The key a verification's results are reused under: a hash of every input that can change
    its outcome (the archive, the images the checks run in, the checks themselves, and the stack's
    ELF policy they hold the files to)."""
    return inputs_sha256({
        "elf_policy": {"libraries": list(policy.libraries), "glibc": policy.glibc} if policy else None,
        "archive_sha256": archive_sha256,
        "run_image_packages": run_image.packages_sha256,
        "build_image_packages": build_image.packages_sha256,  # the C-extension check compiles there
        "tools_image_packages": compile_image.packages_sha256,  # readelf runs there
        "checks": verify.checks_sha256(),
    })


def reusable_verification(record: dict, key: str, reverify: bool) -> dict | None:
    """The results of the archive's earlier verification (its record's "verification": name ->
    {"ok", "detail"}) when they can stand for this one: not --reverify, made under the same
    verification key, and all passed. Only passes are reused: a failure is always checked again
    (it may have been the machine's). Else None."""
    earlier = record.get("verification") or {}
    if not reverify and record.get("verification_key") == key and earlier and all(
            result["ok"] for result in earlier.values()):
        return earlier
    return None


def reusable(archive: Path, rebuild: bool, say) -> str | None:
    """The archive's sha256 when it can be reused (not --rebuild, its sha256 and record beside it,
    its bytes matching that sha256, and its profile, when it names one, there and unchanged), else
    None. An archive that does not match its sha256 is deleted; say() tells why one is rebuilt."""
    if rebuild or not archive.exists():
        return None
    recorded = archive_mod.beside(archive, archive_mod.CHECKSUM_SUFFIX)
    meta = archive_mod.beside(archive, archive_mod.RECORD_SUFFIX)
    if not recorded.exists() or not meta.exists():
        return None
    expected = recorded.read_text().split()[0]
    if file_sha256(archive) != expected:
        say(f"{archive.name} does not match its recorded sha256; rebuilding")
        archive.unlink()
        return None
    profile = (archive_mod.read_json(meta) or {}).get("profile_data")
    profile_path = archive_mod.beside(archive, archive_mod.PROFILE_SUFFIX)
    if profile and (not profile_path.exists() or file_sha256(profile_path) != profile["sha256"]):
        say(f"{archive.name}: its profile ({profile_path.name}) is missing or changed; rebuilding")
        return None
    return expected
