"""Run settings from options, an env file (Docker's --env-file format) and the environment.

Precedence for S3_BUCKET / S3_PREFIX: command-line option, then env file, then environment.
AWS credentials in an env file are handed to boto3 on the host only.

An env file holds secrets, so an error about it names the file, the line number and the key, and
never shows a value or any other part of a line.
"""

import difflib
import os
import re
from pathlib import Path

from .errors import UsageError

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# The keys an env file may set: the only definition (builds/dockerenv.default lists exactly these).
S3_KEYS = ("S3_BUCKET", "S3_PREFIX")
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3")
ENV_KEYS = S3_KEYS + AWS_KEYS

# One line, taken apart so that each near miss of KEY=VALUE gets its own message: a leading
# 'export', spaces around '=', or a bare KEY (no '=': the environment's value is taken).
ENV_LINE = re.compile(r"^(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)"
                      r"(?:(?P<before>\s*)=(?P<after>\s*)(?P<value>.*))?$")
# A name safe to repeat in a message: every real key has an '_', and an AWS key id, secret or
# session token never does, so a secret pasted on a line of its own is not echoed as a "key".
SHOWABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]*)+$")
QUOTES = "'\""


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
    for number, line in enumerate(file.read_bytes().decode("utf-8", "replace").split("\n"), 1):
        where = f"{path}:{number}"
        if line.endswith("\r"):
            raise UsageError(f"{where}: line ends in CRLF; save the file with Unix (LF) line endings")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, value = _parse_line(stripped, where)
        values[key] = os.environ.get(key, "") if value is None else value
    return values


def _parse_line(line: str, where: str):
    """(KEY, VALUE), or (KEY, None) for a bare KEY; UsageError for anything else."""
    match = ENV_LINE.match(line)
    if not match:
        raise UsageError(f"{where}: not a KEY=VALUE line; write KEY=VALUE (KEY: letters, digits and _), "
                         "a bare KEY, or a '#' comment")
    key, value = match["key"], match["value"]
    shown = SHOWABLE_NAME.match(key)
    name, right = (key, f"{key}=VALUE") if shown else ("this line", "KEY=VALUE")
    if match["export"]:
        raise UsageError(f"{where}: {name} starts with 'export', which env files do not take; "
                         f"drop 'export' and write {right}")
    if match["before"] or match["after"]:
        raise UsageError(f"{where}: {name} has spaces around '='; write {right} with no spaces around '='")
    if value and (value[0] in QUOTES or value[-1] in QUOTES):
        raise UsageError(f"{where}: {name} has a quoted value, and env files take values literally "
                         f"(the quotes would be part of it); write {right} without quotes")
    if key not in ENV_KEYS:
        raise UsageError(f"{where}: {_unknown_key(key)}")
    return key, value


def _unknown_key(key: str) -> str:
    """What to say about a key the tool does not read: the closest known one, else all of them."""
    # A line that is not variable-shaped may be a pasted secret: say so rather than repeat it.
    name = f"unknown key {key}" if SHOWABLE_NAME.match(key) else "unknown key (not shown: it may be a secret)"
    close = difflib.get_close_matches(key.upper(), ENV_KEYS, n=1)
    if close:
        return f"{name}; did you mean {close[0]}?"
    return f"{name}; the keys read are {', '.join(ENV_KEYS)}"


def check_bucket(bucket: str, source: str):
    if not BUCKET_RE.fullmatch(bucket):
        raise UsageError(f"{source}: {bucket!r} is not a valid S3 bucket name "
                         "(3-63 characters: lowercase letters, digits, '.' and '-')")


def bucket_and_prefix(bucket_option: str | None, prefix_option: str | None, env_file: dict,
                      env_file_path: str | None) -> tuple[str, str, str]:
    """S3_BUCKET and S3_PREFIX by precedence (option, env file, environment; "" when none), and
    where the bucket came from, for messages about it."""
    bucket = bucket_option or env_file.get("S3_BUCKET") or os.environ.get("S3_BUCKET", "")
    source = ("--s3-bucket" if bucket_option else
              f"S3_BUCKET in {env_file_path}" if "S3_BUCKET" in env_file else "S3_BUCKET")
    prefix = prefix_option if prefix_option is not None else env_file.get("S3_PREFIX", os.environ.get("S3_PREFIX", ""))
    return bucket, prefix, source
