"""The one place that keeps credentials out of what the harness prints or writes.

Every credential value the run knows is registered here where it is read (an env file, the
environment, what boto3 resolved from a profile or a credential_process, the userinfo of a URL),
and every message that leaves the harness (error lines, progress lines, the summary table, S3
error descriptions) goes through redact(). The first defence stays not printing values at all;
this is the net under it, for the texts we do not write ourselves: botocore's error messages put a
header's value (a session token) or a whole URL (with user:password@) into their text.
"""

import json
import os
import re
import threading
import unicodedata
import urllib.parse
from functools import lru_cache

MASK = "[hidden]"
# Shorter values cannot be masked without masking ordinary text ("k" would hide every k); no real
# credential is that short (an AWS key id has 16+ characters, a secret key 40), test stand-ins are.
MIN_LENGTH = 4
# The environment's credentials, as boto3 reads them (AWS_SECURITY_TOKEN is its older name for the
# session token; AWS_CONTAINER_AUTHORIZATION_TOKEN authorises the container credential endpoint).
SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
              "AWS_CONTAINER_AUTHORIZATION_TOKEN")
# URLs boto3 or urllib3 read from the environment, whose user:password@ part is a credential.
URL_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY",
           "https_proxy", "http_proxy", "all_proxy")

# Credentials we never saw as values (a token refreshed mid-run in another library's hands): the
# shapes in which botocore and urllib3 texts carry them are masked whatever their value.
GENERIC = [
    # http.client refusing a header: "Invalid header value b'<the token>'" (repr, quotes escaped).
    (re.compile(r"""(Invalid header value )b?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""), r"\1" + MASK),
    # A URL's userinfo: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), r"\1" + MASK + "@"),
    # SigV4 in a header or a presigned URL: the key id, the signature, the session token.
    (re.compile(r"(?i)((?:X-Amz-)?Credential=)[^/\s,&]+"), r"\1" + MASK),
    (re.compile(r"(?i)((?:X-Amz-)?Signature=)[0-9a-f]+"), r"\1" + MASK),
    (re.compile(r"(?i)(X-Amz-Security-Token[=:]\s*)[^\s&,'\"]+"), r"\1" + MASK),
]

_registered: set[str] = set()
_environment_seen: tuple | None = None  # the variables' values _register_environment last registered
_lock = threading.Lock()


def is_unprintable(char: str) -> bool:
    """A control character (CR, LF, NUL, tab, ESC, ...), an invisible format character (a BOM, a
    bidi override) or a line/paragraph separator: none belongs in a key, a name or a credential,
    and each can end a line for one reader and not for another."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def register(*values):
    """Credential values to mask from now on, in every form a message may carry them: as they are,
    escaped (repr, JSON), URL-encoded, and each run of printable characters between control
    characters (a wrapped token shows up piece by piece, or with its line break escaped)."""
    forms = set()
    for value in values:
        if not isinstance(value, str) or not value:
            continue
        pieces = "".join("\0" if is_unprintable(char) else char for char in value).split("\0")
        for form in (value, *pieces, repr(value)[1:-1], repr(value.encode("utf-8", "replace"))[2:-1],
                     json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)):
            if len(form) >= MIN_LENGTH:
                forms.add(form)
    if forms:
        with _lock:
            _registered.update(forms)


def register_url(url):
    """The userinfo of a URL (scheme://user:password@host): whole, and its password; the user name
    alone only when it is all there is (https://TOKEN@host), as a name beside a password is often
    a plain word ("admin") that masking would hide everywhere."""
    if not isinstance(url, str) or "@" not in url:
        return
    userinfo = url.split("://", 1)[-1].split("/", 1)[0].rpartition("@")[0]
    name, colon, password = userinfo.partition(":")
    register(userinfo, urllib.parse.unquote(userinfo),
             *((password, urllib.parse.unquote(password)) if colon else (name, urllib.parse.unquote(name))))


def register_credentials(credentials):
    """What boto3 resolved (botocore Credentials, refreshable or not). For refreshable ones this
    may refresh them, as signing the next request would anyway."""
    if credentials is None:
        return
    frozen = credentials.get_frozen_credentials()
    register(frozen.access_key, frozen.secret_key, frozen.token)


def userinfo_removed(url: str) -> str:
    """A URL fit to show: without user:password@ (the rest of it is no secret)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def redact(text) -> str:
    """text with every registered credential, and every credential-shaped part, masked."""
    text = str(text)
    _register_environment()
    with _lock:
        secrets = frozenset(_registered)
    if secrets:
        text = _pattern(secrets).sub(MASK, text)
    for pattern, replacement in GENERIC:
        text = pattern.sub(replacement, text)
    return text


def _register_environment():
    """The environment's credentials, read at each call: every process of a run (pytest's, each
    xdist worker's, `python -m harness`) masks them without having to register them first.
    redact() runs for every line of a build log: the forms are worked out again only when one of
    these variables changed since the last call."""
    global _environment_seen
    values = tuple(os.environ.get(name, "") for name in SECRET_ENV + URL_ENV)
    if values == _environment_seen:
        return
    register(*values[:len(SECRET_ENV)])
    for url in values[len(SECRET_ENV):]:
        register_url(url)
    _environment_seen = values


@lru_cache(maxsize=8)
def _pattern(secrets: frozenset):
    # Longest first, so that a value is masked whole rather than around a shorter one inside it.
    return re.compile("|".join(re.escape(secret) for secret in sorted(secrets, key=len, reverse=True)))
