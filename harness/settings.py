"""Run settings from options, an env file (Docker's --env-file format) and the environment.

Precedence for S3_BUCKET / S3_PREFIX: command-line option, then env file, then environment.
AWS credentials in an env file are handed to boto3 on the host only.
"""

import os
import re
from pathlib import Path

from .errors import UsageError

ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL_S3")


def cache_dir() -> Path:
    """Verified sources, the private apt index, wheels and locks: $PYRUNTIMES_CACHE, else ~/.cache/pyruntimes."""
    return Path(os.environ.get("PYRUNTIMES_CACHE", Path.home() / ".cache" / "pyruntimes"))


def read_env_file(path: str) -> dict:
    """Parse KEY=VALUE lines; '#' comments and blank lines are skipped; a bare KEY takes the
    environment's value (as docker run --env-file does). Values are taken literally, as Docker
    does, so quotes around a value are an error rather than silently part of it."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--env-file {path}: no such file (copy builds/dockerenv.default and fill it in)")
    values = {}
    raw = file.read_bytes()
    for number, line in enumerate(raw.decode("utf-8", "replace").split("\n"), 1):
        if line.endswith("\r"):
            raise UsageError(f"{path}:{number}: line ends in CRLF; save the file with Unix (LF) line endings")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = ENV_LINE.match(stripped)
        if not match:
            raise UsageError(f"{path}:{number}: {stripped[:40]!r} is not KEY=VALUE (a name of letters, digits, _)")
        key, value = match.group(1), match.group(2)
        if value is None:
            value = os.environ.get(key, "")
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            raise UsageError(f"{path}:{number}: {key} is quoted; env files take values literally: write {key}={value[1:-1]}")
        values[key] = value
    return values


def check_bucket(bucket: str, source: str):
    if not BUCKET_RE.match(bucket):
        raise UsageError(f"{source}: {bucket!r} is not a valid S3 bucket name "
                         "(3-63 characters: lowercase letters, digits, '.' and '-')")
