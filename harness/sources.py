"""Fetching a formula's source tarball, accepted only when its sha256 matches the pin.

Candidates, in order: the local cache, configured mirrors, the formula's URL (python.org), the
host's Debian source archive (which carries the byte-identical upstream tarball). A candidate that
fails (unreachable, 404, wrong bytes) is skipped for the next; the reasons are kept for the error.
Writes into the cache are atomic: a download lands in a temporary file that is renamed into place
only after its hash matched, so a partial or wrong file is never taken for a good one.
"""

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from filelock import FileLock

from . import debian_archive
from .errors import PairError
from .hashing import file_sha256

CHUNK = 1 << 20
TIMEOUT = 30  # seconds without progress before a mirror is given up


def source_candidates(formula, mirrors):
    for mirror in mirrors:
        yield f"mirror {mirror}", f"{mirror.rstrip('/')}/{formula.version}/{formula.filename}"
    yield "python.org", formula.url


def fetch_source(formula, cache_dir: Path, mirrors=(), log=print) -> Path:
    """Return the path of the verified tarball in the cache, fetching it if needed."""
    target = cache_dir / "sources" / formula.sha256 / formula.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.exists():
            if file_sha256(target) == formula.sha256:
                return target
            log(f"cached {target} does not match its sha256; fetching it again")
            target.unlink()
        failures = []
        for label, url in source_candidates(formula, mirrors):
            if _download_verified(url, target, formula.sha256, failures, label, log):
                return target
        try:
            url = debian_archive.find_tarball(formula, cache_dir / "apt", log=log)
        except debian_archive.Unavailable as exc:
            failures.append(f"Debian source archive: {exc}")
        else:
            if _download_verified(url, target, formula.sha256, failures, "Debian source archive", log):
                return target
        raise PairError(f"no source for {formula.name} matched sha256 {formula.sha256}: " + "; ".join(failures))


def _download_verified(url, target: Path, sha256, failures, label, log) -> bool:
    log(f"fetching {url}")
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            failures.append(f"{label}: sha256 {digest.hexdigest()} does not match")
            log(f"{url}: sha256 {digest.hexdigest()} does not match the formula's {sha256}; not used")
            return False
        os.replace(tmp, target)
        return True
    except urllib.error.HTTPError as exc:
        failures.append(f"{label}: HTTP {exc.code} {exc.reason}")
        log(f"{url}: HTTP {exc.code} {exc.reason}")
        return False
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        failures.append(f"{label}: {reason}")
        log(f"{url}: {reason}")
        return False
    finally:
        tmp.unlink(missing_ok=True)



def release_epoch(tarball: Path) -> int:
    """The source's release date, in seconds since the epoch: the newest mtime among the
    tarball's entries, which is when the release manager made it (3.13.15: 2026-08-05 12:25 UTC,
    3.11.2: 2023-02-07, 3.9.2: 2021-02-19). A fact about the pinned input, so builds that use it
    as SOURCE_DATE_EPOCH (reproducible-builds.org) still give the same bytes, and
    `python -VV` shows the release's date rather than a made-up one."""
    try:
        with tarfile.open(tarball) as tar:
            return int(max(member.mtime for member in tar))  # a pax header's mtime is a float
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise PairError(f"{tarball.name}: cannot read its entries' dates ({exc})") from None
