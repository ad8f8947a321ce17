"""An env file holds secrets. Whatever is wrong with it, the run stops before any work with one line
that names the file, the line and the key, and shows no value; --deploy with credentials that
cannot work stops the same way, before any build. A canary secret planted in each case must appear
nowhere: not in stdout, not in stderr, not in an --out-dir (which is never even created)."""

import re
import uuid

import pytest

from harness import settings
from tests.helpers import ROOT, run_harness
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
                    ["{file}:2: unknown key DATABASE_PASSWORD", "the keys read are S3_BUCKET, S3_PREFIX, AWS_"]),
    "space-for-equals": ("AWS_SECRET_ACCESS_KEY {canary}", ["{file}:2: not a KEY=VALUE line"]),
    "not-a-setting": ("secret: {canary}", ["{file}:2: not a KEY=VALUE line"]),
    # Shaped like a bare KEY (letters and digits only): still not repeated as the "key".
    "pasted-secret": ("{canary}", ["{file}:2: unknown key (not shown: it may be a secret)"]),
    "crlf": ("AWS_SECRET_ACCESS_KEY={canary}\r", ["{file}:2: line ends in CRLF"]),
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
    env_file.write_bytes(f"S3_BUCKET=ok-bucket\n{line.format(canary=canary)}\nAWS_ACCESS_KEY_ID={canary}\n".encode())
    out_dir = tmp_path / "out"
    # "--env-file=PATH": pytest guesses rootdir from path-like arguments before it knows our options
    args = [f"--env-file={env_file}", "--out-dir", str(out_dir)] + (["--deploy"] if deploy else [])
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


@pytest.mark.parametrize("case", list(INCOMPLETE))
def test_incomplete_credentials_stop_deploy_before_any_work(tmp_path, case):
    content, environment, words = INCOMPLETE[case]
    canary = new_canary()
    write_profiles(tmp_path, "deployer")
    env_file = tmp_path / "deploy.env"
    args = ["--deploy", "--s3-bucket", "ok-bucket", "--out-dir", str(tmp_path / "out")]
    if content is not None:
        env_file.write_text(content.format(canary=canary))
        args.append(f"--env-file={env_file}")
    env = isolated_aws(tmp_path, **{key: value.format(canary=canary) for key, value in environment.items()})
    result = run_harness(*args, env=env)
    assert_one_line_error(result, *(word.format(file=env_file, config=env["AWS_CONFIG_FILE"],
                                                credentials=env["AWS_SHARED_CREDENTIALS_FILE"]) for word in words))
    assert_not_shown(result, canary)
    assert_nothing_built(tmp_path / "out")


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
    text = (ROOT / "builds" / "dockerenv.default").read_text()
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
    text = (ROOT / "builds" / "dockerenv.default").read_text()
    copy.write_text(text.replace("\nS3_BUCKET=\n", "\nS3_BUCKET=ok-bucket\n").replace("# AWS_REGION=", "AWS_REGION="))
    assert settings.read_env_file(str(copy)) == {
        "S3_BUCKET": "ok-bucket", "S3_PREFIX": "", "AWS_ACCESS_KEY_ID": "from-environment-id",
        "AWS_SECRET_ACCESS_KEY": "from-environment-secret", "AWS_REGION": "us-east-1"}
