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

import sys
from pathlib import Path

from ..archive import RECORD_SUFFIX
from ..bucket import manifest
from . import on_bucket

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


def main(args) -> int:
    records = Path(args.records)
    if not records.is_dir():
        print(f"error: attest-subjects {args.records}: no such folder (give the folder the run's records were "
              "downloaded to)", file=sys.stderr)
        return 2
    outcome = on_bucket.run(args, "attest-subjects",
                            lambda client, target: (target, manifest.load(client, target).usable()))
    if isinstance(outcome, int):
        return outcome
    target, listing = outcome
    found = subjects(listing, records_under(records))
    sys.stdout.write(checksum_lines(found))
    print(f"{len(found)} archive(s) built by this run and listed in s3://{target.bucket}/{target.prefix} "
          "with the same sha256", file=sys.stderr)
    return 0
