"""The env-file reader, fed random bytes with a secret planted in them: every input is read or
refused with one line (a UsageError that names the file), never another exception, and that line
never holds a piece of the secret. Examples are bounded by the profile in tests/conftest.py."""

import os
import unittest.mock

import hypothesis
import hypothesis.strategies as st

from harness import redact
from harness.bucket import settings
from harness.errors import UsageError

# Letters that no key or message word has in a row, so a piece of it in a message is a leak.
CANARY = "canaryQzXwVkJhPfTbYdNmRsLgCq7Z3x9W"
PIECE = 8

# What env files are made of, and what goes wrong in them: keys (and near misses, and the secret
# run into a key that lost its '='), what comes between a key and its value, values made of
# pieces (the secret, names, URLs, quotes, control characters, line ends of every kind, bytes that
# are not UTF-8), lines joined by LF, CRLF or CR alone, and a BOM (UTF-8 or UTF-16) or none.
KEYS = [key.encode() for key in settings.ENV_KEYS] + [
    b"S3_BUCKT", b"DATABASE_PASSWORD", b"export S3_BUCKET", b"# S3_BUCKET", CANARY.encode(),
    f"AWS_SECRET_ACCESS_KEY{CANARY}".encode(), f"S3_{CANARY}".encode(), f"AWS_SESSION_TOKEN_{CANARY}".encode()]
BETWEEN = [b"=", b"=", b"=", b"", b" = ", b"= ", b"\t=", b"=\"", b"='"]
PIECES = [
    CANARY.encode(), CANARY.encode(), b"ok-bucket", b"UPPER", b"us-east-1", b"bad region!", b"rt/", b"https://",
    f"https://admin:{CANARY}@s3.example.internal".encode(), b"@", b":", b"/", b"=", b" ", b"\t", b'"', b"'", b"#",
    b"\n", b"\r", b"\r\n", b"\x00", b"\x1b", b"\x0b", b"\x0c", b"\x7f", b"\xc2\x85", "\u2028".encode(),
    "\u00a0".encode(), "\u202e".encode(), "\ufeff".encode(), "é".encode(), b"\xff", b"\xc3", b"\xe2\x80",
]
VALUE = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=4)), max_size=5).map(b"".join)
LINE = st.one_of(
    st.tuples(st.sampled_from(KEYS), st.sampled_from(BETWEEN), VALUE).map(b"".join),
    st.sampled_from(KEYS),  # a bare key
    VALUE,  # anything at all
)
CONTENT = st.tuples(st.sampled_from([b"", b"", b"\xef\xbb\xbf", b"\xff\xfe"]), st.sampled_from([b"\n", b"\r\n", b"\r"]),
                    st.lists(LINE, max_size=8)).map(lambda parts: parts[0] + parts[1].join(parts[2]) + parts[1])
# The environment a bare key reads: a wrapped token and a plain secret.
ENVIRONMENT = {"AWS_SESSION_TOKEN": f"{CANARY}\n{CANARY}", "AWS_SECRET_ACCESS_KEY": CANARY}


def leaked(text: str) -> list[str]:
    return [CANARY[i:i + PIECE] for i in range(len(CANARY) - PIECE + 1) if CANARY[i:i + PIECE] in text]


@hypothesis.given(content=CONTENT)
@hypothesis.example(content=f"S3_BUCKET=ok-bucket\rAWS_SECRET_ACCESS_KEY={CANARY}\r".encode())
@hypothesis.example(content=f"AWS_SECRET_ACCESS_KEY{CANARY}\n".encode())
@hypothesis.example(content=f"S3_BUCKET={CANARY}\x00\n".encode())
def test_any_bytes_are_read_or_refused_in_one_line_without_the_secret(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("fuzz") / "deploy.env"
    path.write_bytes(content)
    with unittest.mock.patch.dict(os.environ, ENVIRONMENT):
        try:
            values = settings.read_env_file(str(path))
        except UsageError as exc:
            message = str(exc)
            assert message.startswith(str(path)), message
            assert not any(redact.is_unprintable(char) for char in message), repr(message)
            assert not leaked(message), message
            return
    # Read: only the keys the harness knows, each value one line of printable characters.
    assert set(values) <= set(settings.ENV_KEYS), values
    assert not any(redact.is_unprintable(char) for value in values.values() for char in value), values
