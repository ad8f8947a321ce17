"""--s3-bucket, --s3-prefix and --env-file: declared once (harness/bucket/target.py) for pytest's
harness and the commands that read the published bucket, and resolved by one function, so both
spell, document and read them alike. Real subprocesses of both."""

import subprocess
import sys

import pytest

from harness.bucket import target
from tests.helpers import ROOT, run_harness

COMMANDS = ("check-published", "attest-subjects", "rebuild")


def command(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})


def flat(text: str) -> str:
    """Help text with its wrapping undone (argparse and pytest wrap at different widths)."""
    return " ".join(text.split())


def test_pytest_and_every_command_declare_the_same_options():
    helps = {"pytest": run_harness("--help").stdout}
    helps.update((name, command(name, "--help").stdout) for name in COMMANDS)
    for where, text in helps.items():
        for name, metavar, help_text in target.OPTIONS:
            assert f"{name}={metavar}" in text or f"{name} {metavar}" in text, (where, name)
            assert flat(help_text) in flat(text), (where, name)


@pytest.mark.parametrize("content, words", [
    ("S3_BUCKET=Not_A_Bucket\n", "S3_BUCKET in {file}: 'Not_A_Bucket' is not a valid S3 bucket name"),
    ("S3_PREFIX=rt\n", "needs a bucket: set S3_BUCKET (environment or --env-file) or pass --s3-bucket"),
    ("S3_BUCKET=ok-bucket\nAWS_ACCESS_KEY_ID=AKIDEXAMPLE\n",
     "AWS_ACCESS_KEY_ID is set (in {file}) but AWS_SECRET_ACCESS_KEY is not"),
])
def test_deploy_and_the_commands_resolve_an_env_file_alike(tmp_path, content, words):
    """The same env file, the same refusal, each naming what needs the bucket."""
    env_file = tmp_path / "deploy.env"
    env_file.write_text(content)
    clean = {key: None for key in ("S3_BUCKET", "S3_PREFIX", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                   "AWS_PROFILE", "AWS_SESSION_TOKEN")}
    results = {"--deploy": run_harness("--deploy", "--collect-only", "-q", f"--env-file={env_file}",
                                       "--out-dir", str(tmp_path / "out"), env=clean)}
    results["check-published"] = command("check-published", f"--env-file={env_file}")
    results["rebuild"] = command("rebuild", "python-3.13.15", "debian-12", f"--env-file={env_file}")
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        line = words.format(file=env_file)
        assert result.stderr.startswith("error: ") and line in result.stderr, (name, result.stderr)
        if "needs a bucket" in line:
            assert result.stderr.startswith(f"error: {name} needs a bucket"), (name, result.stderr)
