"""The Make targets maintainers use, run as they run them."""

import subprocess

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.engine


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


def test_buildenv_rejects_an_unknown_stack():
    result = subprocess.run(["make", "-s", "buildenv", "STACK=debian-99"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "error: STACK: unknown stack 'debian-99'; valid: debian-11, debian-12, debian-13, heroku-18, heroku-20, heroku-22" in result.stderr
