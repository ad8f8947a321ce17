"""`python -m harness attest-subjects DIR`: which archives a CI run built and the bucket now serves,
as the subjects of a signed provenance attestation.

The release workflow's pair jobs leave their records (the .json beside each archive) as artifacts;
its last job gathers them into DIR, proves the bucket with check-published, and asks this module for
the lines to attest (actions/attest-build-provenance's subject-checksums, sha256sum format):

    SHA256  PREFIX/STACK/ARCH/python-X.Y.Z.tar.zst

An archive is a subject when the manifest lists it with the sha256 of this run's record: a pair that
failed verification, lost a race to another run, or was already published from an earlier build
built nothing the bucket serves, and attesting it would claim a build this run did not publish.
"""

from pathlib import Path

from . import manifest
from .archive import RECORD_SUFFIX

ARCHIVE_RECORDS = "*.tar.zst" + RECORD_SUFFIX  # python-3.13.15-release-KEY.tar.zst.json


def records_under(directory: Path) -> list[dict]:
    """Every archive record under the folder (artifacts keep out/'s layout, one folder per pair)
    that names its pair and archive as the harness writes them (manifest.record_problems)."""
    records = []
    for path in sorted(directory.rglob(ARCHIVE_RECORDS)):
        try:
            record = manifest.loads(path.read_text())
        except (OSError, ValueError):
            continue  # not a record this run wrote whole: it cannot name a published archive either
        if not manifest.record_problems(record):
            records.append(record)
    return records


def subjects(listing: manifest.Manifest, records: list[dict]) -> list[tuple[str, str]]:
    """(sha256, key) of each archive the manifest lists with the sha256 one of the records names.
    Only entries the manifest has right count (an entry at another pair's key, or of another shape,
    is check-published's to name, and no subject)."""
    found = {}
    for record in records:
        entry = listing.entry(record["stack"], record["arch"], record["runtime"])
        if entry and entry.sha256 == record["archive_sha256"]:
            found[entry.key] = entry.sha256
    return [(sha256, key) for key, sha256 in sorted(found.items())]


def checksum_lines(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{sha256}  {key}\n" for sha256, key in pairs)
