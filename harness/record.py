"""The archive's record (ARCHIVE.json beside it): what went into a build and how it ran.

build_record() makes it when an archive is built; verification adds its results later
(harness/case.py: verification, verification_key, the run image's facts). The SBOM and the
provenance statement are made from it (harness/sbom.py, harness/provenance.py).
"""

from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass
from pathlib import Path

import zstandard

from . import build, layout, provenance
from .hashing import file_sha256


@dataclass(frozen=True)
class Built:
    """What a build made: the archive (its sha256) under cache key key, what build.run_build()
    returned, the seconds building and packing took, when the build started and finished, and the
    profile the build made ({"sha256", "size", "given"}), or None."""
    key: str
    archive: Path
    sha256: str
    result: build.BuildResult
    build_seconds: float
    pack_seconds: float
    started_on: str
    finished_on: str
    profile_data: dict | None = None
    source_date_epoch: int = 0  # the source's release date (sources.release_epoch)


def build_record(case, built: Built) -> dict:
    """The record of the build of case (a harness.case.Case: its formula, stack, architecture,
    images and run) that made built."""
    formula, stack, method, ctx, result = case.formula, case.stack, case.method, case.ctx, built.result
    return {
        "runtime": formula.name,
        "python_version": formula.version,
        "stack": stack.name,
        "arch": case.arch,
        "profile": ctx.profile,
        "cache_key": built.key,
        "archive_sha256": built.sha256,
        "archive_size": built.archive.stat().st_size,
        # released: the source's release date (its tarball's newest entry), the date sys.version
        # shows and the archive's entries carry (harness/sources.py: release_epoch).
        "source": {"url": formula.url, "sha256": formula.sha256,
                   "released": _utc(built.source_date_epoch) if built.source_date_epoch else None},
        "end_of_life": {"runtime": _iso(formula.end_of_life), "stack": _iso(stack.end_of_life),
                        "notice": case.end_of_life() or None},
        "formula_sha256": formula.file_hash,
        "configure_args": list(formula.configure_args),
        "patches": formula.patch_hashes(),  # applied to the source, in this order
        "build_script_sha256": file_sha256(layout.BUILD_SCRIPT),
        # The image the build ran in; for a cross build also the target's own build image,
        # where the verification compiles (a C extension, the embedding programs).
        "images": {"build": case.compile_image.describe(), "run": case.run_image.describe(),
                   **({"target_build": case.build_image.describe()} if method is build.Method.CROSS else {})},
        "build_method": method.value,
        "stack_inputs_sha256": stack.inputs_hash,
        "phase_seconds": {**result.phase_seconds, "package": built.pack_seconds},
        # Release builds: how many training tests ran, which failed, how many profile files.
        "pgo_training": result.pgo or None,
        # The same for BOLT's training (the instrumented interpreter's run), when the build used BOLT.
        "bolt_training": result.bolt or None,
        # Release builds: the profiles they used (.profile.tar.zst beside the archive; in the
        # bucket under profiles/ by this sha256), with which a rebuild makes the same bytes.
        "profile_data": built.profile_data,
        # What the build script states it compiles with; the build_flags check reads it back.
        "build_flags": result.flags or None,
        "build_seconds": built.build_seconds,
        "build_cpu_seconds": round(sum(result.cpu.get(k, 0) for k in ("user_seconds", "system_seconds")), 1) or None,
        # What the provenance statement says of the build itself (harness/provenance.py).
        "run_id": ctx.run_id,
        "build_started": built.started_on,
        "build_finished": built.finished_on,
        "harness_revision": provenance.harness_revision(ctx.root),
        "tools": {
            "docker_engine": ctx.docker.version().get("Version", "?"),
            "zstandard": zstandard.__version__,
            "host_python": platform.python_version(),
        },
    }


def _utc(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(date):
    return date.isoformat() if date else None
