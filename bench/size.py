"""size: the release archive of python-3.13.5 on debian-13 (zstd, as published) vs. `gzip -9` of
the same tar stream, and what dominates it.

The archive comes from the harness (./out: reused when already built, else built: 20 to 35 min
of PGO + LTO). "Every module present" is read from the archive's own verification record.

    .venv/bin/python bench/size.py
"""

import gzip
import io
import json
import os
import tarfile
from collections import Counter

import zstandard
from common import archive_of, record

PROFILE = os.environ.get("BENCH_PROFILE", "release")  # quick: a smoke test of the script itself
# The 3.13 release archive bench/speed.py measures too (one release build serves both).
RUNTIME, STACK = "python-3.13.5", "debian-13"
TARGET_MB = 10.0


def main():
    archive = archive_of(RUNTIME, STACK, PROFILE, "size")
    verification = json.loads(archive.with_name(archive.name + ".json").read_text())["verification"]
    with open(archive, "rb") as raw:
        tar_bytes = zstandard.ZstdDecompressor().stream_reader(raw).read()
    zst = archive.stat().st_size
    gz = len(gzip.compress(tar_bytes, compresslevel=9, mtime=0))

    # What dominates: each top-level part's bytes, alone compressed with the archive's settings.
    parts, groups = Counter(), {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
        for member in tar:
            if not member.isfile():
                continue
            key = _part(member.name)
            parts[key] += member.size
            groups.setdefault(key, []).append(tar.extractfile(member).read())
    compressor = zstandard.ZstdCompressor(level=19)
    packed = {key: len(compressor.compress(b"".join(blobs))) for key, blobs in groups.items()}
    lines = [f"archive {archive.name}",
             f"tree {len(tar_bytes) / 1e6:.2f} MB as tar; zstd (published) {zst / 1e6:.2f} MB; gzip -9 {gz / 1e6:.2f} MB",
             f"extension_modules: {verification['extension_modules']['detail'][:200]}",
             f"all {len(verification)} checks passed: {all(v['ok'] for v in verification.values())}",
             "", "largest parts (raw MB, alone at zstd -19 MB):"]
    for key, size in parts.most_common(12):
        lines.append(f"  {key:<45} {size / 1e6:6.2f}  {packed[key] / 1e6:6.2f}")
    ratio = zst / gz
    verdict = "met" if zst / 1e6 <= TARGET_MB and all(v["ok"] for v in verification.values()) else "MISSED"
    lines.append(f"RATIO size: {ratio:.3f} (zstd / gzip -9); archive {zst / 1e6:.2f} MB, target <= {TARGET_MB:.0f} MB: {verdict}")
    record("size", f"zstd/gzip -9 = {ratio:.3f}; archive {zst / 1e6:.2f} MB (target <= {TARGET_MB:.0f} MB: {verdict})",
           lines)


def _part(name):
    """Group paths: lib/python3.X/<package or __pycache__ or module>, lib-dynload, libpython, bin."""
    bits = name.split("/")
    if len(bits) >= 3 and bits[1].startswith("python3"):
        sub = bits[2]
        if sub == "lib-dynload" or sub.endswith(".py"):
            return "/".join(bits[:3]) if sub == "lib-dynload" else f"{bits[0]}/{bits[1]}/*.py (top-level modules)"
        return "/".join(bits[:3])
    return "/".join(bits[:2])


if __name__ == "__main__":
    main()
