"""Deterministic packaging: the same tree gives the same archive bytes, wherever and whenever.

Entries are sorted, paths are relative ("bin/python3"), owners are root, mtimes are one value
(the source's release date: harness/sources.py, release_epoch), and setuid/setgid bits are dropped. Compression is zstd (smaller and much faster to
unpack than gzip). Extraction goes through tarfile's "data" filter: no absolute paths, no "..",
no links that leave the tree.

The files that describe an archive lie beside it, named after it (*_SUFFIX): its sha256 and record
(write_sidecars), its SBOM and provenance statement (harness/sbom.py, harness/provenance.py), all
JSON of them serialised one way (json_bytes), so that the bucket holds the bytes written here.
"""

import contextlib
import json
import os
import stat
import tarfile
from pathlib import Path

import zstandard

from . import redact
from .hashing import file_sha256

FIXED_MTIME = 946684800  # 2000-01-01: the mtime of trees packed without a date of their own (tests)
# (level, window log). Release archives are built once and downloaded on every deploy: the highest
# level, with a 64 MB window so that the whole tar (about 40 MB) is one match window; decompression
# then needs 64 MB of memory. bench/size.py measures the choice (3.11.2 quick tree: level 19 with
# its default 8 MB window 10.67 MB, this 10.34 MB). Quick archives are for validation: fast.
ZSTD_LEVELS = {"release": (22, 26), "quick": (10, None)}
# The files that describe an archive lie beside it, named after it: ARCHIVE + suffix, in the out
# folder (ARCHIVE is python-3.13.15-quick-KEY.tar.zst) and in the bucket (python-3.13.15.tar.zst).
CHECKSUM_SUFFIX = ".sha256"  # sha256sum format
RECORD_SUFFIX = ".json"  # what went in, and what verification found
SBOM_SUFFIX = ".cdx.json"  # CycloneDX's own name for a JSON BOM (harness/sbom.py)
# The unsigned in-toto statement (harness/provenance.py); ".intoto.jsonl", the usual name of a
# signed DSSE bundle, is left for the signature a CI signer would add.
PROVENANCE_SUFFIX = ".provenance.json"
# Release builds: the profiles the build used (PGO's counters, BOLT's profile), a tar compressed
# here; a rebuild given it makes the same bytes (builds/build-python.sh: PROFILE_OUT, PROFILE_IN).
PROFILE_SUFFIX = ".profile.tar.zst"
PROFILE_LEVEL = (19, None)


def pack(tree: Path, archive: Path, level: tuple[int, int | None], mtime: int = FIXED_MTIME) -> str:
    """Write tree's contents to archive (via a temporary file), every entry dated mtime (one value,
    so that the date never changes the bytes); return its sha256."""
    partial = archive.with_name(archive.name + ".partial")
    compressor = zstandard.ZstdCompressor(compression_params=_zstd_params(level))
    try:
        with open(partial, "wb") as raw, compressor.stream_writer(raw, closefd=False) as zstream, \
                tarfile.open(fileobj=zstream, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in _sorted_walk(tree):
                info = tar.gettarinfo(str(path), arcname=path.relative_to(tree).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = mtime
                info.mode &= ~(stat.S_ISUID | stat.S_ISGID)
                info.pax_headers = {}
                if info.isfile():
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
        os.replace(partial, archive)
    finally:
        partial.unlink(missing_ok=True)
    return file_sha256(archive)


def _sorted_walk(tree: Path):
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        root_path = Path(root)
        if root_path != tree:
            yield root_path
        for name in sorted(files):
            yield root_path / name
        # symlinks to directories appear in dirs but are not descended into: emit them as links
        for name in list(dirs):
            if (root_path / name).is_symlink():
                dirs.remove(name)
                yield root_path / name


@contextlib.contextmanager
def open_tar(archive: Path):
    """The archive as a tarfile stream: its members in order, each readable once as it comes."""
    with open(archive, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zstream, \
            tarfile.open(fileobj=zstream, mode="r|") as tar:
        yield tar


def members(archive: Path):
    with open_tar(archive) as tar:
        return [member for member in tar]


def extract(archive: Path, dest: Path):
    dest.mkdir(parents=True, exist_ok=True)
    with open_tar(archive) as tar:
        tar.extractall(dest, filter="data")


def beside(archive: Path, suffix: str) -> Path:
    """One of the files that describe the archive (a *_SUFFIX above)."""
    return archive.with_name(archive.name + suffix)


def json_bytes(document: dict) -> bytes:
    """The one serialisation of the JSON files beside an archive, written here and uploaded as
    they are: the bucket holds the same bytes as the out folder (and a signature over the
    provenance file holds for both)."""
    # Through the redactor, as every text the harness writes: a record holds no credential by
    # design, and this keeps one that slipped in (an error text, an environment value) out of the
    # out folder and the bucket.
    return (redact.redact(json.dumps(document, indent=2, sort_keys=True)) + "\n").encode()


def write_sidecars(archive: Path, sha256: str, record: dict):
    """archive.sha256 (sha256sum format) and archive.json (what went in), written atomically."""
    _atomic_write(beside(archive, CHECKSUM_SUFFIX), f"{sha256}  {archive.name}\n".encode())
    write_json(beside(archive, RECORD_SUFFIX), record)


def write_json(path: Path, document: dict):
    _atomic_write(path, json_bytes(document))


def read_json(path: Path) -> dict | None:
    """A JSON file beside an archive, or None when there is none."""
    return json.loads(path.read_text()) if path.exists() else None


def compress_file(source: Path, dest: Path, level=PROFILE_LEVEL) -> str:
    """dest = source compressed (the same bytes for the same source: see _zstd_params), written
    atomically; return dest's sha256."""
    compressor = zstandard.ZstdCompressor(compression_params=_zstd_params(level))
    partial = dest.with_name(f"{dest.name}.partial-{os.getpid()}")
    try:
        with open(source, "rb") as raw, open(partial, "wb") as out:
            compressor.copy_stream(raw, out)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    return file_sha256(dest)


def decompress_file(source: Path, dest: Path):
    with open(source, "rb") as raw, open(dest, "wb") as out:
        zstandard.ZstdDecompressor().copy_stream(raw, out)


def _zstd_params(level):
    number, window_log = level
    extra = {"window_log": window_log} if window_log else {}
    # threads: zstd's output is the same for any number of worker threads (but not for none).
    return zstandard.ZstdCompressionParameters.from_level(number, threads=-1, write_checksum=1, **extra)


def _atomic_write(path: Path, data: bytes):
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")  # two runs may write at once
    partial.write_bytes(data)
    os.replace(partial, path)
