"""The two hashes the harness takes: of a file's bytes, and of a JSON-able set of inputs."""

import hashlib
import json
from pathlib import Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def inputs_sha256(inputs) -> str:
    """A stable hash of inputs (dicts, lists, strings, numbers): keys sorted, no whitespace games."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
