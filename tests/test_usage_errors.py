"""Bad input stops the harness before any work: one line on stderr, exit status 2, no traceback."""

import pytest

from tests.helpers import copy_project, run_harness


def assert_one_line_error(result, *words):
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in lines[0]
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("args, words", [
    (["--runtimes", "python-9.9.9"], ["unknown runtime 'python-9.9.9'", "valid: python-3.9.1, python-3.9.2, python-3.9.25, python-3.10.22, python-3.11.2,"]),
    (["--stacks", "debian-99"], ["unknown stack 'debian-99'", "debian-12"]),
    (["--runtimes", ""], ["--runtimes is empty", "python-3.13.15"]),
    (["--runtimes", "python-3.11.2 python-3.11.2"], ["named twice"]),
    (["--deploy", "--profile", "quick"], ["cannot be deployed", "--profile release"]),
    (["--deploy", "--s3-bucket", "ok-bucket"], ["no AWS credentials"]),
    (["--deploy"], ["needs a bucket", "S3_BUCKET"]),
    (["--s3-bucket", "Not_A_Bucket"], ["not a valid S3 bucket name"]),
    (["--env-file", "/nonexistent/env"], ["no such file", "builds/dockerenv.default"]),
    (["--arch", "sparc"], ["--arch: unknown architecture 'sparc'", "valid: amd64, arm64"]),
    (["--profile-data=/etc/hostname", "--profile", "quick"], ["--profile-data is a release build's profile"]),
    (["--profile-data=/etc/hostname", "--runtimes", "python-3.11.2", "--stacks", "debian-12,debian-13"],
     ["--profile-data belongs to one pair, and 4 are selected", "one architecture (--arch)"]),
    (["--profile-data=/etc/hostname", "--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", "amd64"],
     ["--profile-data /etc/hostname: not zstd-compressed"]),
])
def test_bad_options(tmp_path, args, words):
    env = {"S3_BUCKET": None, "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None,
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    result = run_harness(*args, "--out-dir", str(tmp_path / "out"), "-n", "2", env=env)
    assert_one_line_error(result, *words)
    assert not (tmp_path / "out").exists()  # nothing built


@pytest.mark.parametrize("content, words", [
    ("S3_BUCKET=ok-bucket\r\n", ["{file}:1: line ends in CRLF", "Unix (LF)"]),
    ('# the bucket\nS3_BUCKET="ok-bucket"\n', ["{file}:2: S3_BUCKET has a quoted value",
                                             "S3_BUCKET=VALUE without quotes"]),
    ("export S3_BUCKET=ok-bucket\n", ["{file}:1: S3_BUCKET starts with 'export'", "drop 'export'"]),
    ("S3_BUCKET = ok-bucket\n", ["{file}:1: S3_BUCKET has spaces around '='", "no spaces around '='"]),
    ("S3_BUCKT=ok-bucket\n", ["{file}:1: unknown key S3_BUCKT", "did you mean S3_BUCKET?"]),
    ("S3_BUCKET=ok-bucket\n\nS3 BUCKET\n", ["{file}:3: not a KEY=VALUE line"]),
    ("S3_BUCKET=UPPER\n", ["S3_BUCKET in {file}: 'UPPER' is not a valid S3 bucket name"]),
])
def test_bad_env_files(tmp_path, content, words):
    env_file = tmp_path / "env"
    env_file.write_bytes(content.encode())
    # "--env-file=PATH": pytest guesses rootdir from path-like arguments before it knows our options
    result = run_harness(f"--env-file={env_file}", "--out-dir", str(tmp_path / "out"))
    assert_one_line_error(result, *(word.format(file=env_file) for word in words))
    assert not (tmp_path / "out").exists()  # nothing built


def test_malformed_formula_names_file_and_field(tmp_path):
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.11.2.toml"
    formula.write_text(formula.read_text().replace('sha256 = "2411', 'sha256 = "XX11'))
    result = run_harness("--runtimes", "python-3.11.2", "--out-dir", str(tmp_path / "out"), cwd=project)
    assert_one_line_error(result, "python-3.11.2.toml: field 'sha256'", "64 lowercase hex")
    assert not (tmp_path / "out").exists()


def test_malformed_stack_names_file_and_field(tmp_path):
    project = copy_project(tmp_path / "project")
    stack = project / "stacks" / "debian-13" / "stack.toml"
    stack.write_text(stack.read_text().replace("[run]\n", "[run]\nflavour = 1\n"))
    result = run_harness("--out-dir", str(tmp_path / "out"), cwd=project)
    assert_one_line_error(result, "debian-13/stack.toml: field 'run.flavour'", "not a known field")


def test_no_engine_answering_is_one_line_before_any_work(tmp_path):
    result = run_harness("--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", "amd64", "--profile", "quick",
                         "--out-dir", str(tmp_path / "out"), env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert_one_line_error(result, "no Docker engine answers", "make engine")
    assert not (tmp_path / "out").exists()
