"""The Make targets maintainers use, run as they run them."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT


@pytest.mark.engine
def test_buildenv_opens_a_shell_in_the_build_image_with_builds_mounted(tmp_path):
    marker = ROOT / "builds" / f".buildenv-probe-{tmp_path.name}"
    marker.write_text("edited on the host\n")
    try:
        result = subprocess.run(
            ["make", "-s", "buildenv", "STACK=debian-12",
             f"BUILDENV_ARGS=-c 'cat {marker.name}; ls runtimes; command -v gcc; cat /etc/debian_version'"],
            cwd=ROOT, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    finally:
        marker.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "edited on the host" in lines  # the host's builds/ folder, live
    assert "python-3.13.15.toml" in lines
    assert "/usr/bin/gcc" in lines  # the build image, not the run image
    assert lines[-1].startswith("12.")


@pytest.mark.engine
def test_buildenv_rejects_an_unknown_stack():
    result = subprocess.run(["make", "-s", "buildenv", "STACK=debian-99"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "error: STACK: unknown stack 'debian-99'; valid: debian-11, debian-12, debian-13, heroku-18, heroku-20, heroku-22" in result.stderr


def make(*args, timeout=300):
    """make, as a maintainer runs it, less the set-up (-o: the venv and the engine are taken as
    there): these tests are about what reaches pytest, not about installing it."""
    return subprocess.run(["make", "-s", "-o", "setup", "-o", "venv", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# Names and paths with spaces, both quotes, '$' and a backslash: each must reach pytest as given.
AWKWARD = "it's \"a\" $HOME \\ $(id)"


def test_every_variable_reaches_pytest_intact(tmp_path):
    """make runs the recipe for real, with PY (the interpreter make calls pytest with) printing the
    argument list it is given instead: exactly what pytest would have received."""
    probe = tmp_path / "argv.py"
    probe.write_text("import json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    py = f"{sys.executable} {probe}"
    result = make("deploy-runtimes", f"PY={py}", f"RUNTIMES=a b {AWKWARD}", f"VARIANTS=v {AWKWARD}", f"STACKS=c  {AWKWARD}",
                  f"ARCH={AWKWARD}", f"ENV_FILE=my deploy {AWKWARD}.env", f"S3_BUCKET=b {AWKWARD}",
                  f"S3_PREFIX=p {AWKWARD}", "PYTEST_ARGS=-k 'x or y' --out-dir='my out' --junitxml=\"it's.xml\"")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "-m", "pytest", "test_runtimes.py", "--runtimes", f"a b {AWKWARD}", "--variants", f"v {AWKWARD}",
        "--stacks", f"c  {AWKWARD}",
        "--arch", AWKWARD, "--deploy", "--refresh-images", f"--env-file=my deploy {AWKWARD}.env",
        "--s3-bucket", f"b {AWKWARD}", "--s3-prefix", f"p {AWKWARD}",
        # PYTEST_ARGS is several arguments, written as on a shell command line.
        "-k", "x or y", "--out-dir=my out", "--junitxml=it's.xml"]
    result = make("build", f"PY={py}", f"RUNTIMES={AWKWARD}", f"STACK={AWKWARD}", f"ARCH={AWKWARD}", "PROFILE=quick")
    assert json.loads(result.stdout)[3:10] == ["--runtimes", AWKWARD, "--stacks", AWKWARD, "--arch", AWKWARD,
                                               "--profile"]
    result = make("list", f"PY={py}", f"STACKS={AWKWARD}")
    assert json.loads(result.stdout)[-2:] == ["--stacks", AWKWARD]


@pytest.mark.parametrize("variables, words", [
    (["RUNTIMES=python-3.11.2 it's"], "error: --runtimes: unknown runtime \"it's\""),
    (["STACKS=debian-12 x'y"], "error: --stacks: unknown stack \"x'y\""),
    (["ARCH=amd64 it's"], "error: --arch: unknown architecture \"it's\""),
    (["ENV_FILE={tmp}/it's my deploy.env"], "error: --env-file {tmp}/it's my deploy.env: no such file"),
    (["S3_BUCKET="], "error: --s3-bucket is empty"),
])
def test_make_deploy_stops_at_bad_input_with_the_value_intact(tmp_path, variables, words):
    """The real harness behind the real target, stopped by its one-line check before any work
    (--collect-only besides: were a check missing, the run would only collect)."""
    result = make("deploy-runtimes", "RUNTIMES=python-3.11.2", *(v.format(tmp=tmp_path) for v in variables),
                  "PYTEST_ARGS=--collect-only")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(words.format(tmp=tmp_path)), result.stderr


def test_prune_is_the_harness_command(tmp_path):
    """`make prune` runs `python -m harness prune` (harness/commands/prune.py) for real: with no
    engine to answer, the command's one line and exit status 2 come back through make; the
    command's own --help is the dispatcher's."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = subprocess.run(["make", "-s", "-o", "setup", "-o", "venv", "prune", f"PY={sys.executable}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env)
    assert result.returncode != 0
    assert result.stderr.startswith("error: no Docker engine answers"), result.stderr
    assert "Error 2" in result.stderr  # make's report of the command's exit status
    direct = subprocess.run([sys.executable, "-m", "harness", "prune"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=env)
    assert direct.returncode == 2 and direct.stdout == "", direct
    assert direct.stderr.startswith("error: no Docker engine answers") and len(direct.stderr.splitlines()) == 1
    assert "prune" in subprocess.run([sys.executable, "-m", "harness", "--help"], cwd=ROOT, capture_output=True,
                                     text=True, timeout=300).stdout
