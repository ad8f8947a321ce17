"""An env file holds secrets. Whatever is wrong with it, the run stops before any work with one line
that names the file, the line and the key, and shows no value; --deploy with credentials that
cannot work stops the same way, before any build. A canary secret planted in each case must appear
nowhere: not in stdout, not in stderr, not in an --out-dir (which is never even created)."""

import http.server
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest

from harness import layout, redact
from harness.bucket import settings
from harness.bucket import s3 as s3_mod
from tests.helpers import NATIVE, ROOT, run_harness
from tests.test_usage_errors import assert_one_line_error

# Each shape: the file ({canary} stands for the secret), then what the error line must say
# ({file} stands for the file's path). Line 1 is always a valid bucket, so the bad line is not
# simply the first one.
MALFORMED = {
    "double-quoted": ('AWS_SECRET_ACCESS_KEY="{canary}"',
                      ["{file}:2: AWS_SECRET_ACCESS_KEY has a quoted value", "without quotes"]),
    "single-quoted": ("AWS_SECRET_ACCESS_KEY='{canary}'",
                      ["{file}:2: AWS_SECRET_ACCESS_KEY has a quoted value", "without quotes"]),
    "export": ("export AWS_SECRET_ACCESS_KEY={canary}",
               ["{file}:2: AWS_SECRET_ACCESS_KEY starts with 'export'", "drop 'export'"]),
    "spaces-around-equals": ("AWS_SECRET_ACCESS_KEY = {canary}",
                             ["{file}:2: AWS_SECRET_ACCESS_KEY has spaces around '='", "no spaces around '='"]),
    "space-after-equals": ("AWS_SECRET_ACCESS_KEY= {canary}",
                           ["{file}:2: AWS_SECRET_ACCESS_KEY has spaces around '='"]),
    "misspelt-key": ("AWS_SECRET_ACESS_KEY={canary}",
                     ["{file}:2: unknown key AWS_SECRET_ACESS_KEY", "did you mean AWS_SECRET_ACCESS_KEY?"]),
    "unknown-key": ("DATABASE_PASSWORD={canary}",
                    ["{file}:2: unknown key DATABASE_PASSWORD", "the keys read are S3_BUCKET, S3_PREFIX, PUBLIC_URL, AWS_"]),
    "space-for-equals": ("AWS_SECRET_ACCESS_KEY {canary}", ["{file}:2: not a KEY=VALUE line"]),
    "not-a-setting": ("secret: {canary}", ["{file}:2: not a KEY=VALUE line"]),
    # Shaped like a bare KEY (letters and digits only): still not repeated as the "key".
    "pasted-secret": ("{canary}", ["{file}:2: unknown key (not shown: it may be a secret)"]),
    "crlf": ("AWS_SECRET_ACCESS_KEY={canary}\r", ["{file}:2: line ends in CRLF"]),
    # A CR inside a line: a reader that takes it for a line end sees two settings, a reader that
    # does not sees one value swallowing the next setting (then printed as a bucket or a prefix).
    "stray-cr": ("AWS_SESSION_TOKEN={canary}\rS3_PREFIX={canary}",
                 ["{file}:2: AWS_SESSION_TOKEN has a carriage return (CR) inside the line", "Unix (LF)"]),
    "cr-swallows-bucket": ("S3_BUCKET=ok-bucket\rAWS_SECRET_ACCESS_KEY={canary}",
                           ["{file}:2: S3_BUCKET has a carriage return (CR) inside the line"]),
    "nul": ("AWS_SECRET_ACCESS_KEY={canary}\0{canary}",
            ["{file}:2: AWS_SECRET_ACCESS_KEY has a control or invisible character in it", "one line"]),
    "tab-inside-value": ("AWS_SECRET_ACCESS_KEY={canary}\t{canary}",
                         ["{file}:2: AWS_SECRET_ACCESS_KEY has a control or invisible character in it"]),
    "escape": ("AWS_SESSION_TOKEN={canary}\x1b[2J{canary}",
               ["{file}:2: AWS_SESSION_TOKEN has a control or invisible character in it"]),
    "line-separator": ("AWS_SESSION_TOKEN={canary}\u2028{canary}",
                       ["{file}:2: AWS_SESSION_TOKEN has a control or invisible character in it"]),
    "bom-inside-value": ("AWS_SESSION_TOKEN=\ufeff{canary}",
                         ["{file}:2: AWS_SESSION_TOKEN has a control or invisible character in it"]),
    # Before the '=': the "key" is not named, it may be a secret.
    "nul-in-key": ("{canary}\0=x", ["{file}:2: this line has a control or invisible character in it"]),
    # Written as a lone surrogate, stored as the byte 0xff.
    "invalid-utf8": ("AWS_SECRET_ACCESS_KEY={canary}\udcff{canary}",
                     ["{file}:2: not valid UTF-8", "save the file as UTF-8"]),
    # Two settings on one line: the bucket's value is not repeated.
    "bucket-runs-into-secret": ("S3_BUCKET=ok-bucket AWS_SECRET_ACCESS_KEY={canary}",
                                ["S3_BUCKET in {file}: its value (not shown) is not a valid S3 bucket name"]),
    "prefix-runs-into-secret": ("S3_PREFIX=runtimes AWS_SECRET_ACCESS_KEY={canary}",
                                ["S3_PREFIX in {file} has a space in it", "python/runtimes"]),
}


def isolated_aws(tmp_path, **extra):
    """An environment in which boto3 finds only what a test gives it."""
    env = {key: None for key in settings.ENV_KEYS}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"),
               AWS_EC2_METADATA_DISABLED="true", AWS_DEFAULT_PROFILE=None)
    env.update(extra)
    return env


def new_canary():
    # Letters and digits only, so that it can also pass for a bare KEY; never in a test id or path.
    return "canary" + uuid.uuid4().hex


def assert_not_shown(result, canary):
    """Neither the canary nor any 8-character piece of it is in the run's output."""
    output = result.stdout + result.stderr
    pieces = [canary[i:i + 8] for i in range(len(canary) - 7)]
    shown = [piece for piece in pieces if piece in output]
    assert not shown, f"the secret leaked ({shown[:3]}...): {output}"


def assert_nothing_built(out_dir):
    if out_dir.exists():
        files = [path for path in out_dir.rglob("*") if path.is_file()]
        pytest.fail(f"{out_dir} was created (files: {files[:5]})")


@pytest.mark.parametrize("deploy", [False, True], ids=["dry-run", "deploy"])
@pytest.mark.parametrize("shape", list(MALFORMED))
def test_malformed_env_file_shows_no_secret(tmp_path, shape, deploy):
    line, words = MALFORMED[shape]
    canary = new_canary()
    env_file = tmp_path / "deploy.env"
    env_file.write_bytes(f"S3_BUCKET=ok-bucket\n{line.format(canary=canary)}\nAWS_ACCESS_KEY_ID={canary}\n"
                         .encode("utf-8", "surrogateescape"))
    out_dir = tmp_path / "out"
    # "--env-file=PATH": pytest guesses rootdir from path-like arguments before it knows our options.
    # --collect-only: the checks come first all the same, and a file wrongly taken costs a second,
    # not a build of the whole matrix (or, with --deploy, a pre-flight against AWS).
    args = [f"--env-file={env_file}", "--collect-only", "--out-dir", str(out_dir)] + (["--deploy"] if deploy else [])
    result = run_harness(*args, env=isolated_aws(tmp_path))
    assert_one_line_error(result, *(word.format(file=env_file) for word in words))
    assert_not_shown(result, canary)
    assert_nothing_built(out_dir)


def write_profiles(tmp_path, *names):
    (tmp_path / "aws-config").write_text("".join(f"[profile {name}]\nregion = us-east-1\n" for name in names))


# Each case: the env file (None: no --env-file), the environment's AWS settings, what the error says.
INCOMPLETE = {
    "key-id-without-secret-in-env-file": (
        "AWS_ACCESS_KEY_ID={canary}\n", {},
        ["--deploy: AWS_ACCESS_KEY_ID is set (in {file}) but AWS_SECRET_ACCESS_KEY is not", "set both"]),
    "secret-without-key-id-in-environment": (
        None, {"AWS_SECRET_ACCESS_KEY": "{canary}"},
        ["--deploy: AWS_SECRET_ACCESS_KEY is set (in the environment) but AWS_ACCESS_KEY_ID is not"]),
    # A bare key in the file takes the environment's value: still half a pair.
    "bare-key-id-with-empty-secret": (
        "AWS_ACCESS_KEY_ID\nAWS_SECRET_ACCESS_KEY=\n", {"AWS_ACCESS_KEY_ID": "{canary}"},
        ["AWS_ACCESS_KEY_ID is set (in {file}) but AWS_SECRET_ACCESS_KEY is not"]),
    "session-token-without-key-pair": (
        "AWS_SESSION_TOKEN={canary}\n", {},
        ["--deploy: AWS_SESSION_TOKEN is set (in {file}) without AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"]),
    "misspelt-profile-in-env-file": (
        "AWS_PROFILE=deployr\nAWS_ACCESS_KEY_ID={canary}\nAWS_SECRET_ACCESS_KEY={canary}\n", {},
        ["--deploy: AWS profile 'deployr' (AWS_PROFILE in {file}) is not in {config} or {credentials}",
         "did you mean deployer?"]),
    "unknown-profile-in-environment": (
        None, {"AWS_PROFILE": "nowhere", "AWS_SECRET_ACCESS_KEY": "{canary}", "AWS_ACCESS_KEY_ID": "{canary}"},
        ["--deploy: AWS profile 'nowhere' (AWS_PROFILE in the environment) is not in {config} or {credentials}",
         "the profiles there: deployer"]),
}


PAIR = "AWS_ACCESS_KEY_ID={canary}\nAWS_SECRET_ACCESS_KEY={canary}\n"
ENV_PAIR = {"AWS_ACCESS_KEY_ID": "{canary}", "AWS_SECRET_ACCESS_KEY": "{canary}"}
# Settings boto3 would refuse in a traceback (a bad region or endpoint), or that carry a secret in
# the wrong shape (a wrapped token, a password in a URL): the same cases' format as INCOMPLETE.
UNUSABLE = {
    "endpoint-with-userinfo-in-env-file": (
        "AWS_ENDPOINT_URL_S3=https://{canary}:{canary}@s3.example.internal\n" + PAIR, {},
        ["--deploy: AWS_ENDPOINT_URL_S3 (in {file}) has a user name or password in it", "remove it"]),
    "endpoint-with-token-in-environment": (
        None, {"AWS_ENDPOINT_URL_S3": "http://{canary}@127.0.0.1:9", **ENV_PAIR},
        ["--deploy: AWS_ENDPOINT_URL_S3 (in the environment) has a user name or password in it"]),
    # boto3 reads the every-service endpoint when the S3 one is unset.
    "general-endpoint-with-userinfo-in-environment": (
        PAIR, {"AWS_ENDPOINT_URL": "https://admin:{canary}@s3.example.internal"},
        ["--deploy: AWS_ENDPOINT_URL (in the environment) has a user name or password in it"]),
    "endpoint-not-a-url-in-env-file": (
        "AWS_ENDPOINT_URL_S3=not-a-url-{canary}\n" + PAIR, {},
        ["--deploy: AWS_ENDPOINT_URL_S3 (in {file}) is not an http(s) URL with a host name", "https://"]),
    "endpoint-without-scheme-in-environment": (
        None, {"AWS_ENDPOINT_URL_S3": "s3.example.internal/{canary}", **ENV_PAIR},
        ["--deploy: AWS_ENDPOINT_URL_S3 (in the environment) is not an http(s) URL with a host name"]),
    "region-in-env-file": (
        "AWS_REGION=bad region!\n" + PAIR, {},
        ["--deploy: AWS_REGION (in {file}) is not a region name", "such as us-east-1"]),
    "region-in-environment": (
        None, {"AWS_REGION": "bad region!", **ENV_PAIR},
        ["--deploy: AWS_REGION (in the environment) is not a region name"]),
    "default-region-in-environment": (
        PAIR, {"AWS_DEFAULT_REGION": "us_east_1"},
        ["--deploy: AWS_DEFAULT_REGION (in the environment) is not a region name"]),
    # A CI secret pasted wrapped over two lines.
    "wrapped-token-in-environment": (
        None, {"AWS_SESSION_TOKEN": "{canary}\n{canary}", **ENV_PAIR},
        ["AWS_SESSION_TOKEN in the environment has a control or invisible character in it", "join it back"]),
    "wrapped-token-through-bare-key": (
        "AWS_SESSION_TOKEN\n" + PAIR, {"AWS_SESSION_TOKEN": "{canary}\r\n{canary}"},
        ["{file}:1: AWS_SESSION_TOKEN (a bare key) takes its value from the environment, and has a control"]),
    "cr-in-secret-in-environment": (
        None, {"AWS_ACCESS_KEY_ID": "{canary}", "AWS_SECRET_ACCESS_KEY": "{canary}\r"},
        ["AWS_SECRET_ACCESS_KEY in the environment has a control or invisible character in it"]),
    # boto3 reads more AWS_* than the env file takes: each is checked by name.
    "wrapped-container-token-in-environment": (
        PAIR, {"AWS_CONTAINER_AUTHORIZATION_TOKEN": "{canary}\n{canary}"},
        ["AWS_CONTAINER_AUTHORIZATION_TOKEN in the environment has a control or invisible character in it"]),
    "escape-in-bucket-in-environment": (
        PAIR, {"S3_BUCKET": "ok-bucket\x1b{canary}"},
        ["S3_BUCKET in the environment has a control or invisible character in it"]),
}


def assert_deploy_stops(tmp_path, content, environment, words):
    """--deploy with this env file (None: none) and environment stops with one line saying words
    (with {file}, {config}, {credentials}), and the canary it was given shows nowhere."""
    canary = new_canary()
    write_profiles(tmp_path, "deployer")
    env_file = tmp_path / "deploy.env"
    args = ["--deploy", "--collect-only", "--s3-bucket", "ok-bucket", "--out-dir", str(tmp_path / "out")]
    if content is not None:
        env_file.write_text(content.format(canary=canary))
        args.append(f"--env-file={env_file}")
    env = isolated_aws(tmp_path, **{key: value.format(canary=canary) for key, value in environment.items()})
    result = run_harness(*args, env=env)
    assert_one_line_error(result, *(word.format(file=env_file, config=env["AWS_CONFIG_FILE"],
                                                credentials=env["AWS_SHARED_CREDENTIALS_FILE"]) for word in words))
    assert_not_shown(result, canary)
    assert_nothing_built(tmp_path / "out")


@pytest.mark.parametrize("case", list(INCOMPLETE))
def test_incomplete_credentials_stop_deploy_before_any_work(tmp_path, case):
    assert_deploy_stops(tmp_path, *INCOMPLETE[case])


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_settings_stop_deploy_with_one_line_naming_the_key(tmp_path, case):
    assert_deploy_stops(tmp_path, *UNUSABLE[case])


def test_key_pair_split_between_env_file_and_environment_is_accepted(tmp_path):
    """The check sees what boto3 is handed: the env file's values over the environment's, and an
    existing profile passes. Collecting only (no engine, no upload), the run gets past the checks."""
    key_id, secret = new_canary(), new_canary()
    write_profiles(tmp_path, "deployer")
    env_file = tmp_path / "deploy.env"
    # The secret comes from the environment, through the bare key.
    env_file.write_text(f"S3_BUCKET=ok-bucket\nAWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY\n"
                        "AWS_PROFILE=deployer\n")
    result = run_harness(f"--env-file={env_file}", "--deploy", "--collect-only", "-q",
                         "--out-dir", str(tmp_path / "out"), env=isolated_aws(tmp_path, AWS_SECRET_ACCESS_KEY=secret))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_not_shown(result, key_id)
    assert_not_shown(result, secret)
    assert_nothing_built(tmp_path / "out")


def template_keys():
    """The keys builds/dockerenv.default lists, set, bare or commented out (`# KEY`, `# KEY=...`)."""
    text = (layout.DOCKERENV).read_text()
    return [match[1] for match in re.finditer(r"^#? ?([A-Z][A-Z0-9_]*)(?:=.*)?$", text, re.MULTILINE)]


def test_dockerenv_default_lists_exactly_the_keys_read():
    keys = template_keys()
    assert sorted(keys) == sorted(settings.ENV_KEYS), "builds/dockerenv.default and settings.ENV_KEYS differ"
    assert len(keys) == len(set(keys)), f"listed twice: {keys}"


def test_dockerenv_default_works_as_a_template(tmp_path, monkeypatch):
    """Copied and filled in, it reads as meant: the bare credential lines take the environment's values."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-environment-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "from-environment-secret")
    copy = tmp_path / "deploy.env"
    text = (layout.DOCKERENV).read_text()
    copy.write_text(text.replace("\nS3_BUCKET=\n", "\nS3_BUCKET=ok-bucket\n").replace("# AWS_REGION=", "AWS_REGION="))
    assert settings.read_env_file(str(copy)) == {
        "S3_BUCKET": "ok-bucket", "S3_PREFIX": "", "AWS_ACCESS_KEY_ID": "from-environment-id",
        "AWS_SECRET_ACCESS_KEY": "from-environment-secret", "AWS_REGION": "us-east-1"}


# Whole files, made of the canary (the secret), then what the error line says.
FILES = {
    # Classic Mac OS line endings: no LF at all, so the whole file would be one line.
    "cr-only": (lambda canary: f"S3_BUCKET=ok-bucket\rAWS_SECRET_ACCESS_KEY={canary}\rS3_PREFIX={canary}\r".encode(),
                ["{file}:1: the file's lines end in a carriage return (CR) only", "Unix (LF)"]),
    # PowerShell's '>' writes UTF-16 with a BOM.
    "utf-16": (lambda canary: f"S3_BUCKET=ok-bucket\nAWS_SECRET_ACCESS_KEY={canary}\n".encode("utf-16"),
               ["{file}: the file is UTF-16", "save it as UTF-8"]),
    # A BOM is taken at the start of the file only (as Docker does); elsewhere it is an invisible
    # character in a line.
    "bom-on-line-2": (lambda canary: f"\ufeffS3_BUCKET=ok-bucket\n\ufeffAWS_SECRET_ACCESS_KEY={canary}\n".encode(),
                      ["{file}:2: this line has a control or invisible character in it"]),
    "invalid-utf8-after-bom": (lambda canary: f"\ufeffS3_BUCKET=ok-bucket\n".encode() + b"\xc3(" + canary.encode(),
                               ["{file}:2: not valid UTF-8"]),
}


@pytest.mark.parametrize("shape", list(FILES))
def test_malformed_env_file_bytes_show_no_secret(tmp_path, shape):
    content, words = FILES[shape]
    canary = new_canary()
    env_file = tmp_path / "deploy.env"
    env_file.write_bytes(content(canary))
    result = run_harness(f"--env-file={env_file}", "--deploy", "--collect-only", "--out-dir", str(tmp_path / "out"),
                         env=isolated_aws(tmp_path))
    assert_one_line_error(result, *(word.format(file=env_file) for word in words))
    assert_not_shown(result, canary)
    assert_nothing_built(tmp_path / "out")


def test_a_utf8_bom_at_the_start_is_accepted_as_docker_does(tmp_path):
    """Windows editors start a UTF-8 file with a BOM; `docker run --env-file` drops it, and so does
    the harness: the first key is read as written, not as '\\ufeffS3_BUCKET'."""
    env_file = tmp_path / "deploy.env"
    env_file.write_bytes(b"\xef\xbb\xbfS3_BUCKET=ok-bucket\nS3_PREFIX=rt\n")
    assert settings.read_env_file(str(env_file)) == {"S3_BUCKET": "ok-bucket", "S3_PREFIX": "rt"}


# A credential_process helper (a Python script, {canary} standing for the secret it knows), then
# what the error line says. Whatever it prints or says may be a secret: none of it is repeated.
HELPERS = {
    "fails-saying-a-secret": (
        'import sys\nsys.stderr.write("refresh token {canary} expired\\n")\nprint("{canary}")\nsys.exit(1)\n',
        ["--deploy: AWS credentials could not be had from the profile's credential_process", "not shown"]),
    "prints-no-json": (
        'print("token: {canary}")\n',
        ["--deploy: AWS credentials cannot be read (JSONDecodeError; its text is not shown", "JSON (Version 1)"]),
    "prints-bytes-not-utf8": (
        'import sys\nsys.stdout.buffer.write(b"\\xff{canary}")\n',
        ["--deploy: AWS credentials cannot be read (UnicodeDecodeError; its text is not shown"]),
    # boto3 repeats the version it was given in its message.
    "wrong-version": (
        'import json\nprint(json.dumps({{"Version": "{canary}"}}))\n',
        ["--deploy: AWS credentials could not be had from the profile's credential_process"]),
    "wraps-the-token": (
        'import json\nprint(json.dumps({{"Version": 1, "AccessKeyId": "{canary}", "SecretAccessKey": "{canary}", '
        '"SessionToken": "{canary}\\n{canary}"}}))\n',
        ["--deploy: the AWS session token boto3 had from the profile's credential_process has a control"]),
}


def write_helper(tmp_path, source, profile="helper"):
    """A profile whose credentials come from a credential_process running source (Python)."""
    script = tmp_path / "credential-helper.py"
    script.write_text(source)
    (tmp_path / "aws-config").write_text(f"[profile {profile}]\ncredential_process = {sys.executable} {script}\n")


@pytest.mark.parametrize("helper", list(HELPERS))
def test_a_credential_process_is_never_repeated(tmp_path, helper):
    source, words = HELPERS[helper]
    canary = new_canary()
    write_helper(tmp_path, source.format(canary=canary))
    env_file = tmp_path / "deploy.env"
    env_file.write_text("S3_BUCKET=ok-bucket\nAWS_PROFILE=helper\n")
    result = run_harness(f"--env-file={env_file}", "--deploy", "--collect-only", "--out-dir", str(tmp_path / "out"),
                         env=isolated_aws(tmp_path))
    assert_one_line_error(result, *words)
    assert_not_shown(result, canary)
    assert_nothing_built(tmp_path / "out")


def run_command(*args, env):
    """`python -m harness ARGS`, as a user runs it."""
    full_env = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_check_published_refuses_a_wrapped_token_by_name(tmp_path):
    canary = new_canary()
    env_file = tmp_path / "deploy.env"
    env_file.write_text(f"S3_BUCKET=ok-bucket\nAWS_ACCESS_KEY_ID={canary}\nAWS_SECRET_ACCESS_KEY={canary}\n")
    result = run_command("check-published", f"--env-file={env_file}",
                         env=isolated_aws(tmp_path, AWS_SESSION_TOKEN=f"{canary}\n{canary}"))
    assert_one_line_error(result, "error: AWS_SESSION_TOKEN in the environment has a control or invisible character")
    assert_not_shown(result, canary)


class EchoingStore:
    """A store on loopback that, as some S3-compatible stores do, repeats the caller's access key
    id and session token in its error messages: HEAD is answered 200 (the bucket is there), every
    other request 403 with an S3 error document saying whose key it refused."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _refuse(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key_id = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization", ""))
                token = self.headers.get("X-Amz-Security-Token", "none")
                body = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidAccessKeyId</Code>"
                        f"<Message>The AWS Access Key Id {key_id[1] if key_id else '?'} (session token {token}) "
                        f"is not in our records</Message></Error>").encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_POST = do_DELETE = _refuse

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echoing_store():
    store = EchoingStore()
    yield store.endpoint
    store.stop()


def credentials_from(source, tmp_path, key_id, secret, token):
    """The env file's lines and the environment that hand boto3 these credentials from source."""
    if source == "env-file":
        return f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\nAWS_SESSION_TOKEN={token}\n", {}
    if source == "environment":
        return "", {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}
    document = {"Version": 1, "AccessKeyId": key_id, "SecretAccessKey": secret, "SessionToken": token}
    write_helper(tmp_path, f"print({json.dumps(json.dumps(document))})\n")
    return "AWS_PROFILE=helper\n", {}


SOURCES = ["env-file", "environment", "credential-process"]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("command", ["deploy", "check-published"])
def test_a_store_that_repeats_the_credentials_is_redacted(tmp_path, echoing_store, source, command):
    """botocore puts the store's message into its error as it is: the key id and token boto3 signed
    with (from the env file, the environment or a credential_process) are masked in the one line
    that reports it, by the pre-flight of a deploy and by check-published."""
    key_id, secret, token = new_canary(), new_canary(), new_canary()
    lines, environment = credentials_from(source, tmp_path, key_id, secret, token)
    env_file = tmp_path / "deploy.env"
    env_file.write_text(f"S3_BUCKET=ok-bucket\nAWS_REGION=us-east-1\nAWS_ENDPOINT_URL_S3={echoing_store}\n{lines}")
    env = isolated_aws(tmp_path, **environment)
    if command == "deploy":
        result = run_harness("test_runtimes.py", "--plan", "--deploy", f"--env-file={env_file}",
                             "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", NATIVE,
                             "--out-dir", str(tmp_path / "out"), env=env)
        # The bucket answers (HEAD), then the pre-flight's scratch write is refused.
        status, expected = 2, ["pre-flight: s3://ok-bucket/ reachable with these credentials",
                               "error: pre-flight: these credentials cannot write to s3://ok-bucket/: "
                               "InvalidAccessKeyId (HTTP 403): The AWS Access Key Id [hidden] (session token [hidden])"]
    else:
        result = run_command("check-published", f"--env-file={env_file}", env=env)
        status, expected = 1, ["error: S3 failed: InvalidAccessKeyId (HTTP 403): The AWS Access Key Id [hidden] "
                               "(session token [hidden])"]
    lines_out = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == status and len(lines_out) == len(expected), result.stdout + result.stderr
    assert all(line.startswith(start) for line, start in zip(lines_out, expected)), lines_out
    for canary in (key_id, secret, token):
        assert_not_shown(result, canary)
    assert_nothing_built(tmp_path / "out")


def test_a_deploy_plan_against_real_s3_shows_and_writes_no_secret(tmp_path, s3):
    """The whole way a deploy goes before its builds, for real (a moto server over HTTP): the
    pre-flight writes and removes its scratch key, the plan asks the bucket about the archive, the
    table is printed; the credentials (from a credential_process, so only boto3 ever holds them)
    are in no output, no file of the run and no object of the bucket."""
    endpoint, client = s3
    client.create_bucket(Bucket="ok-bucket")
    key_id, secret, token = new_canary(), new_canary(), new_canary()
    lines, _ = credentials_from("credential-process", tmp_path, key_id, secret, token)
    env_file = tmp_path / "deploy.env"
    env_file.write_text(f"S3_BUCKET=ok-bucket\nS3_PREFIX=rt\nAWS_REGION=us-east-1\n"
                        f"AWS_ENDPOINT_URL_S3={endpoint}\n{lines}")
    inputs = set(tmp_path.rglob("*"))
    result = run_harness("test_runtimes.py", "--plan", "--deploy", f"--env-file={env_file}",
                         "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", NATIVE,
                         "--out-dir", str(tmp_path / "out"), env=isolated_aws(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pre-flight: s3://ok-bucket/rt/ reachable with these credentials" in result.stdout
    assert "python-3.11.2-debian-12" in result.stdout
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path not in inputs]
    objects = [client.get_object(Bucket="ok-bucket", Key=item["Key"])["Body"].read()
               for item in client.list_objects_v2(Bucket="ok-bucket").get("Contents", [])]
    for canary in (key_id, secret, token):
        assert_not_shown(result, canary)
        assert not [path for path in written if canary.encode() in path.read_bytes()]
        assert not [body for body in objects if canary.encode() in body]


def test_the_redactor_masks_a_registered_value_in_every_form():
    """A value is masked as it is, escaped (repr, bytes repr, JSON), URL-encoded, and piece by piece
    where control characters split it; text around it, and a value too short to mask, stay."""
    first, second = new_canary(), new_canary()
    value = f"{first}/+é\"'\n{second}"
    forms = [value, repr(value), repr(value.encode()), json.dumps(value), urllib.parse.quote(value, safe=""),
             urllib.parse.quote_plus(value), value.split("\n")[0], second]
    # Unregistered, each form shows the secret: what the redactor is for.
    assert all(first in form or second in form for form in forms)
    redact.register(value, "abc")
    for form in forms:
        masked = redact.redact(f"before {form} after")
        assert first not in masked and second not in masked, masked
        assert masked.startswith("before ") and masked.endswith(" after") and redact.MASK in masked
    assert redact.redact("abc") == "abc"  # shorter than MIN_LENGTH: masking it would mask every "abc"


def test_the_redactor_masks_the_environments_credentials_and_any_urls_userinfo(monkeypatch):
    token, password = new_canary(), new_canary()
    monkeypatch.setenv("AWS_SECURITY_TOKEN", token)  # boto3's older name: never registered by hand
    assert redact.redact(f"signed with {token}") == f"signed with {redact.MASK}"
    # A URL's user:password@ is masked whether or not it was registered.
    masked = redact.redact(f"cannot reach https://admin:{password}@s3.example.internal/bucket")
    assert masked == f"cannot reach https://{redact.MASK}@s3.example.internal/bucket"
    assert redact.userinfo_removed(f"https://admin:{password}@s3.example.internal:9000/x") == \
        "https://s3.example.internal:9000/x"


def test_botocore_error_texts_are_redacted_by_describe(s3):
    """Real requests to a real S3 (moto over HTTP) with a wrapped session token: botocore's error
    repeats the token (the issue's `Invalid header value b'...'`); describe() never does, even for a
    token no one registered. An endpoint's user:password@ is dropped from a connection error."""
    endpoint, _ = s3
    first, second = new_canary(), new_canary()
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                          aws_secret_access_key="x", aws_session_token=f"{first}\n{second}")
    with pytest.raises(botocore.exceptions.HTTPClientError) as raised:
        client.head_bucket(Bucket="ok-bucket")
    assert first in str(raised.value)  # what the issue found printed
    described = s3_mod.describe(raised.value)
    assert first not in described and second not in described, described
    assert described == ("HTTPClientError: An HTTP Client raised an unhandled exception: "
                         f"Invalid header value {redact.MASK}")

    password = new_canary()
    unreachable = boto3.client("s3", endpoint_url=f"http://admin:{password}@127.0.0.1:9", region_name="us-east-1",
                               aws_access_key_id="x", aws_secret_access_key="x",
                               config=botocore.config.Config(retries={"total_max_attempts": 1}))
    with pytest.raises(s3_mod.ERRORS) as raised:
        unreachable.head_bucket(Bucket="ok-bucket")
    described = s3_mod.describe(raised.value)
    assert password not in described and "cannot connect to http://127.0.0.1:9 " in described, described


def test_a_store_message_repeating_a_registered_key_is_redacted(echoing_store):
    """A ClientError's message is the store's text: a key id the store repeats is masked once the
    harness knows it (as every credential the run reads is registered), and only then."""
    key_id = new_canary().upper()
    client = boto3.client("s3", endpoint_url=echoing_store, region_name="us-east-1", aws_access_key_id=key_id,
                          aws_secret_access_key="x")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_object(Bucket="ok-bucket", Key="manifest.json")
    assert key_id in s3_mod.describe(raised.value)  # not registered: the redactor cannot know it
    redact.register(key_id)
    described = s3_mod.describe(raised.value)
    assert described.startswith(f"InvalidAccessKeyId (HTTP 403): The AWS Access Key Id {redact.MASK} "), described


def test_records_go_through_the_redactor(monkeypatch, tmp_path):
    """The files the harness writes (records, SBOMs, provenance: archive.json_bytes, the one
    serialisation) carry no registered credential, even one that slipped into
    a value: what ends up in the out folder ends up in the bucket too."""
    from harness import archive

    canary = "Canary" + uuid.uuid4().hex
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", canary)
    written = archive.json_bytes({"detail": f"an error text that quoted {canary}", "nested": [{"k": canary}]})
    assert canary.encode() not in written and redact.MASK.encode() in written
    assert json.loads(written)["nested"][0]["k"] == redact.MASK  # still JSON, still the same shape
