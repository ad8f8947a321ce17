"""Bad input stops the harness before any work: one line on stderr, exit status 2, no traceback."""

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, copy_project, run_harness


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


@pytest.mark.parametrize("args, words", [
    # Whole seconds, from 1s to a year: beyond, a clock overflows; a fraction would be a 0-second limit.
    (["--build-timeout", "99999999999d"], ["--build-timeout '99999999999d' is longer than 365d"]),
    (["--image-max-age", "99999999999d"], ["--image-max-age '99999999999d' is longer than 365d"]),
    (["--build-timeout", "9" * 5000], ["is longer than 365d"]),
    (["--build-timeout", "0.5s"], ["--build-timeout '0.5s' is not a whole number", "90m rather than 1.5h"]),
    (["--image-max-age", "1.5h"], ["--image-max-age '1.5h' is not a whole number"]),
    (["--build-timeout", "0m"], ["--build-timeout '0m' is zero: a duration is 1s at the least"]),
    # Given empty on purpose, not left out: no silent fallback to S3_BUCKET from the environment.
    (["--s3-bucket", ""], ["--s3-bucket is empty: name a bucket, or leave the option out"]),
    (["--s3-bucket", "ok-bucket\n"], ["--s3-bucket", "not a valid S3 bucket name"]),
    (["--out-dir", ""], ["--out-dir is empty: name a folder"]),
])
def test_bad_values_are_one_line(tmp_path, args, words):
    # --collect-only: were a check missing, the run would collect and stop, never build.
    result = run_harness("--collect-only", "--runtimes", "python-3.11.2", *args,
                         env={"S3_BUCKET": "ok-bucket", "PYRUNTIMES_CACHE": str(tmp_path / "cache")})
    assert_one_line_error(result, *words)


def test_out_dir_or_cache_that_is_a_file_is_one_line(tmp_path):
    a_file = tmp_path / "a file"
    a_file.write_text("not a folder\n")
    for args, env, words in (
            # --out-dir=PATH: a separate argument that is an existing path would be taken by pytest
            # as where its root folder is (README: the options table).
            ([f"--out-dir={a_file}"], {}, [f"--out-dir {a_file} is a file, not a folder"]),
            ([f"--out-dir={a_file / 'out'}"], {}, [f"--out-dir {a_file / 'out'}: {a_file} is a file, not a folder"]),
            ([], {"PYRUNTIMES_CACHE": str(a_file)}, [f"PYRUNTIMES_CACHE {a_file} is a file, not a folder",
                                                     "or unset it for ~/.cache/pyruntimes"]),
            ([], {"PYRUNTIMES_CACHE": ""}, ["PYRUNTIMES_CACHE is empty"])):
        result = run_harness("--collect-only", "--runtimes", "python-3.11.2", "--out-dir", str(tmp_path / "out"), *args,
                             env={"PYRUNTIMES_CACHE": str(tmp_path / "cache"), **env})
        assert_one_line_error(result, *words)
    assert a_file.read_text() == "not a folder\n" and not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def edit(path, old: bytes, new: bytes, to=None):
    """Write `path` (or `to`) with old replaced by new, and make sure it was there to replace."""
    data = path.read_bytes()
    assert old in data, (path, old)
    (to or path).write_bytes(data.replace(old, new, 1))


FORMULA, STACK = "builds/runtimes/python-3.11.2.toml", "stacks/debian-12/stack.toml"


@pytest.mark.parametrize("change, words", [
    # Latin-1 from an old editor, in a formula and in a stack.
    (lambda p: edit(p / FORMULA, b"version", b"# caf\xe9\nversion"),
     ["python-3.11.2.toml: field '(file)': is not UTF-8 (byte 0xe9 on line 2): save it as UTF-8"]),
    (lambda p: edit(p / STACK, b"# Debian", b"\xff\xfe# Debian"),
     ["debian-12/stack.toml: field '(file)': is not UTF-8 (byte 0xff on line 1)"]),
    (lambda p: edit(p / FORMULA, b"Python-3.11.2.tgz", b".."),
     ["python-3.11.2.toml: field 'url'", "last segment is the source tarball"]),
    # A second formula for 3.13.15, written with a leading zero.
    (lambda p: edit(p / "builds/runtimes/python-3.13.15.toml", b'"3.13.15"', b'"3.13.015"',
                    to=p / "builds/runtimes/python-3.13.015.toml"),
     ["python-3.13.015.toml: field 'version'", "(numbers without leading zeros), not '3.13.015'"]),
    (lambda p: edit(p / FORMULA, b"sha256", b'stacks = ["debian-12", "debain-13"]\nsha256'),
     ["python-3.11.2.toml: field 'stacks': 'debain-13' is not a stack (a folder of stacks/)"]),
    (lambda p: (p / "stacks/debian-12").rename(p / "stacks/Debian_12"),
     ["field '(folder name)': 'Debian_12' is not a stack name: name the folder like debian-12"]),
    (lambda p: edit(p / STACK, b'architectures = ["amd64", "arm64"]', b'architectures = ["amd64", "arm64", "arm64"]'),
     ["debian-12/stack.toml: field 'architectures': names 'arm64' twice"]),
])
def test_bad_data_file_is_one_line_before_any_work(tmp_path, change, words):
    project = copy_project(tmp_path / "project")
    change(project)
    # --collect-only: were a check missing, the run would collect and stop, never build.
    result = run_harness("--collect-only", "--runtimes", "python-3.11.2", "--stacks", "debian-13",
                         "--out-dir", str(tmp_path / "out"), cwd=project)
    assert_one_line_error(result, *words)


def test_runners_file_that_is_not_utf8_is_one_line(tmp_path):
    """stacks/runners.toml is read by `python -m harness matrix` (the CI matrix), not by pytest."""
    project = copy_project(tmp_path / "project")
    runners = project / "stacks" / "runners.toml"
    runners.write_bytes(runners.read_bytes().replace(b"ubuntu-24.04-arm", b"ubuntu-24.04-\xa0arm"))
    result = subprocess.run([sys.executable, "-m", "harness", "matrix"], cwd=project, capture_output=True, text=True,
                            timeout=120)
    line = runners.read_bytes()[:runners.read_bytes().index(b"\xa0")].count(b"\n") + 1
    assert_one_line_error(result, f"{runners}: field '(file)': is not UTF-8 (byte 0xa0 on line {line}): save it as UTF-8")


@pytest.mark.parametrize("command", ["check-published", "attest-subjects", "rebuild"])
def test_an_empty_s3_bucket_is_refused_by_the_commands_too(tmp_path, command):
    """--s3-bucket '' falls back to S3_BUCKET nowhere: the commands beside pytest read the bucket
    through the same settings.bucket_and_prefix."""
    args = {"check-published": [], "attest-subjects": [str(tmp_path)], "rebuild": ["python-3.11.2", "debian-12"]}[command]
    result = subprocess.run([sys.executable, "-m", "harness", command, *args, "--s3-bucket", ""], cwd=ROOT,
                            env={**os.environ, "S3_BUCKET": "from-the-environment"}, capture_output=True, text=True)
    assert_one_line_error(result, "--s3-bucket is empty")
