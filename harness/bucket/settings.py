"""Run settings from options, an env file (Docker's --env-file format) and the environment.

Precedence for S3_BUCKET / S3_PREFIX / PUBLIC_URL: command-line option, then env file, then environment.
AWS credentials in an env file are handed to boto3 on the host only.

An env file holds secrets, so an error about it names the file, the line number and the key, and
never shows a value or any other part of a line.
"""

import codecs
import difflib
import os
import re
import urllib.parse
from pathlib import Path

from .. import redact
from ..errors import UsageError

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# The keys an env file may set: the only definition (builds/dockerenv.default lists exactly these).
S3_KEYS = ("S3_BUCKET", "S3_PREFIX")
# The URL consumers download from (a CDN or website endpoint in front of the bucket): KEY appended
# to it is the object's public URL; the uv catalogs' URLs are made with it (harness/bucket/listings.py).
PUBLIC_KEYS = ("PUBLIC_URL",)
AWS_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3")
ENV_KEYS = S3_KEYS + PUBLIC_KEYS + AWS_KEYS

# One line, taken apart so that each near miss of KEY=VALUE gets its own message: a leading
# 'export', spaces around '=', or a bare KEY (no '=': the environment's value is taken).
ENV_LINE = re.compile(r"^(?P<export>export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_]*)"
                      r"(?:(?P<before>\s*)=(?P<after>\s*)(?P<value>.*))?$")
# A name safe to repeat in a message: every real key has an '_', and an AWS key id, secret or
# session token never does, so a secret pasted on a line of its own is not echoed as a "key".
SHOWABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]*)+$")
# No word of a variable's name is this long, and a secret is (an access key id has 20 characters).
LONGEST_WORD = 16
QUOTES = "'\""
# The names the harness reads from the environment (boto3 reads more AWS_* itself): each is checked
# for control characters before a run uses it.
ENVIRONMENT_PREFIXES = ("AWS_", "S3_")
UNPRINTABLE = "a control or invisible character in it (a line break, CR, tab, NUL or the like)"
ONE_LINE = "a value is one line of printable characters (a secret wrapped over lines: join it back into one)"


def read_env_file(path: str) -> dict:
    """Parse KEY=VALUE lines; '#' comments and blank lines are skipped; a bare KEY takes the
    environment's value (as docker run --env-file does). Values are taken literally, as Docker
    does, so quotes around a value are an error rather than silently part of it.

    Read as bytes, so that nothing in the file can make one line of it two, or two one: a line is
    what ends in LF, and a CR or any other control character in it is refused by its line number
    (a CR-only or stray-CR file would otherwise let one key's value swallow the next lines)."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--env-file {path}: no such file (copy builds/dockerenv.default and fill it in)")
    data = file.read_bytes()
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UsageError(f"{path}: the file is UTF-16 (as PowerShell's '>' writes it); save it as UTF-8")
    # Accepted, as Docker's own reader does: Windows editors start a UTF-8 file with a BOM, and a
    # file `docker run --env-file` takes should be taken here too.
    data = data.removeprefix(codecs.BOM_UTF8)
    cr_only = b"\r" in data and b"\n" not in data
    values = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        where = f"{path}:{number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{where}: not valid UTF-8 (the bytes are not shown: they may be a secret); "
                             "save the file as UTF-8") from None
        _refuse_unprintable(line, where, cr_only)
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, value = _parse_line(stripped, where)
        if value is None:
            value = from_environment(key, f"{where}: {key} (a bare key) takes its value from the environment, and")
        values[key] = value
        if key in redact.SECRET_ENV:
            redact.register(value)
        elif key in redact.URL_ENV:
            redact.register_url(value)
    return values


def _refuse_unprintable(line: str, where: str, cr_only: bool):
    """A line that holds a CR, a NUL, a tab inside it or another control or invisible character:
    refused, naming the key when the line starts like one, never showing what is around it."""
    # Spaces and tabs around a line are layout, not part of a value (they are stripped).
    line = line.strip(" \t")
    bad = next((index for index, char in enumerate(line) if redact.is_unprintable(char)), None)
    if bad is None:
        return
    key, equals, _ = line.partition("=")
    key = re.sub(r"^export[ \t]+", "", key).strip(" \t")
    name = key if equals and line.index("=") < bad and _showable(key) else "this line"
    if line[bad] == "\r":
        if cr_only:
            raise UsageError(f"{where}: the file's lines end in a carriage return (CR) only, as on classic Mac OS; "
                             "save the file with Unix (LF) line endings")
        if bad == len(line) - 1:
            raise UsageError(f"{where}: line ends in CRLF; save the file with Unix (LF) line endings")
        raise UsageError(f"{where}: {name} has a carriage return (CR) inside the line, which some readers take "
                         "for a line end; remove it (save the file with Unix (LF) line endings)")
    raise UsageError(f"{where}: {name} has {UNPRINTABLE}; {ONE_LINE}")


def _parse_line(line: str, where: str):
    """(KEY, VALUE), or (KEY, None) for a bare KEY; UsageError for anything else."""
    match = ENV_LINE.match(line)
    if not match:
        raise UsageError(f"{where}: not a KEY=VALUE line; write KEY=VALUE (KEY: letters, digits and _), "
                         "a bare KEY, or a '#' comment")
    key, value = match["key"], match["value"]
    shown = _showable(key)
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


def _showable(key: str) -> bool:
    """Whether a "key" may be repeated: not when it could hold a secret, pasted on its own line
    or run into a key whose '=' was lost (AWS_SECRET_ACCESS_KEYwJalr...)."""
    return (bool(SHOWABLE_NAME.match(key)) and all(len(word) <= LONGEST_WORD for word in key.split("_"))
            and _run_into(key) is None)


def _run_into(key: str) -> str | None:
    """The known key this one starts with and goes on from, if any."""
    return next((known for known in ENV_KEYS if key != known and key.startswith(known)), None)


def _unknown_key(key: str) -> str:
    """What to say about a key the tool does not read: the closest known one, else all of them."""
    if known := _run_into(key):
        return (f"a key that starts with {known} and goes on (not shown: it may be a value that lost its '='); "
                f"write {known}=VALUE")
    # A line that is not variable-shaped may be a pasted secret: say so rather than repeat it.
    name = f"unknown key {key}" if _showable(key) else "unknown key (not shown: it may be a secret)"
    close = difflib.get_close_matches(key.upper(), ENV_KEYS, n=1)
    if close:
        return f"{name}; did you mean {close[0]}?"
    return f"{name}; the keys read are {', '.join(ENV_KEYS)}"


def from_environment(key: str, context: str | None = None, environ=os.environ) -> str:
    """The environment's value of key ("" when unset), refused when it holds a control character."""
    value = environ.get(key, "")
    if any(redact.is_unprintable(char) for char in value):
        raise UsageError(f"{context or key + ' in the environment'} has {UNPRINTABLE}; {ONE_LINE}")
    return value


def check_environment(environ=os.environ):
    """Every AWS_* and S3_* variable, as boto3 and this harness read them: one with a control
    character in it (a CI secret pasted wrapped) is refused by name before anything uses it."""
    for key in sorted(environ):
        if key.startswith(ENVIRONMENT_PREFIXES):
            from_environment(key, environ=environ)


def check_bucket(bucket: str, source: str):
    if not BUCKET_RE.fullmatch(bucket):
        # A name is no secret, but a value with spaces or '=' in it is another setting (perhaps a
        # credential) that ran into this one: only a name-like value is repeated.
        shown = repr(bucket) if re.fullmatch(r"[A-Za-z0-9._-]{1,63}", bucket) else "its value (not shown)"
        raise UsageError(f"{source}: {shown} is not a valid S3 bucket name "
                         "(3-63 characters: lowercase letters, digits, '.' and '-')")


def check_prefix(prefix: str, source: str):
    if re.search(r"\s", prefix):
        # "S3_PREFIX=rt AWS_SECRET_ACCESS_KEY=..." would otherwise go into every key and message.
        raise UsageError(f"{source} has a space in it; a prefix is a folder path such as python/runtimes "
                         "(letters, digits, '/', '-', '_', '.')")


def bucket_and_prefix(bucket_option: str | None, prefix_option: str | None, env_file: dict,
                      env_file_path: str | None) -> tuple[str, str, str]:
    """S3_BUCKET and S3_PREFIX by precedence (option, env file, environment; "" when none), and
    where the bucket came from, for messages about it. Refuses an AWS_* or S3_* variable with a
    control character in it, as every run reads its settings here first."""
    check_environment()
    if bucket_option == "":  # not "no option": an empty value given on purpose (S3_BUCKET= in a script)
        raise UsageError("--s3-bucket is empty: name a bucket, or leave the option out to take S3_BUCKET "
                         "(from --env-file, then the environment)")
    bucket = bucket_option or env_file.get("S3_BUCKET") or os.environ.get("S3_BUCKET", "")
    source = ("--s3-bucket" if bucket_option else
              f"S3_BUCKET in {env_file_path}" if "S3_BUCKET" in env_file else "S3_BUCKET")
    prefix = prefix_option if prefix_option is not None else env_file.get("S3_PREFIX", os.environ.get("S3_PREFIX", ""))
    prefix_source = ("--s3-prefix" if prefix_option is not None else
                     f"S3_PREFIX in {env_file_path}" if "S3_PREFIX" in env_file else "S3_PREFIX in the environment")
    check_prefix(prefix, prefix_source)
    return bucket, prefix, source


def public_url(option: str | None, env_file: dict, env_file_path: str | None) -> str:
    """PUBLIC_URL by precedence (--public-url, env file, environment), checked and ending in "/";
    "" when none is set (the bucket's own URL is used: harness/bucket/listings.py)."""
    if option is not None:
        value, source = option, "--public-url"
    elif "PUBLIC_URL" in env_file:
        value, source = env_file["PUBLIC_URL"], f"PUBLIC_URL in {env_file_path}"
    else:
        value, source = from_environment("PUBLIC_URL"), "PUBLIC_URL in the environment"
    if not value:
        if option is not None:
            raise UsageError("--public-url is empty: give the URL consumers download from (https://HOST/...), "
                             "or leave the option out to use the bucket's own URL")
        return ""
    right = ("an http(s) URL that KEY is appended to, such as https://downloads.example.com/python/ (letters, "
             "digits and -._~/:%; no user, query or #)")
    # Its value is never shown: a URL can carry a token (user:password@, a signed query) and a value
    # that is not one may be another setting run into it (PUBLIC_URL=https://x/ AWS_SECRET_...=...).
    if "@" in value:
        raise UsageError(f"{source} has an '@' in it (a user:password@?), not shown; it should be {right}")
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        parts = None
    if (not re.fullmatch(r"[A-Za-z0-9._~/:%-]+", value) or parts is None or parts.scheme not in ("http", "https")
            or not value.startswith(f"{parts.scheme}://") or not parts.hostname):
        raise UsageError(f"{source} is not {right} (its value is not shown)")
    return value if value.endswith("/") else value + "/"
