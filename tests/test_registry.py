"""The path every user with a registry takes: stack base images pulled, not bootstrapped.

A real registry (Debian's docker-registry: the CNCF distribution registry) runs on loopback for
these tests; an image is pushed to it, a stack names it, and the harness must pull it. With the
registry stopped, that stack's pair fails with one line. Docker trusts registries on 127.0.0.0/8
over plain HTTP, so no TLS is needed.
"""

import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import docker
import pytest

from harness import layout
from tests.helpers import ROOT, copy_project, failure_reason, make_stack_images, run_harness, table_row

pytestmark = [pytest.mark.engine, pytest.mark.build]


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def registry(tmp_path):
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is missing: `make test` installs it (scripts/ensure-test-tools.sh)")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path}/data\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://{address}/v2/", timeout=2).close()
            break
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "the registry did not start"
            time.sleep(0.2)
    yield address, process
    process.terminate()
    process.wait(timeout=30)


def registry_stack(project, name, image):
    """A copy of debian-12 whose base comes only from `image` (no debian_suite to fall back on)."""
    text = (layout.STACKS / "debian-12" / "stack.toml").read_text()
    text = text.replace('image = "debian:bookworm-slim"', f'image = "{image}"').replace('debian_suite = "bookworm"\n', "")
    (project / "stacks" / name).mkdir()
    (project / "stacks" / name / "stack.toml").write_text(text)


def test_a_stack_is_pulled_from_a_registry_and_fails_in_one_line_without_it(first_build, registry, tmp_path):
    result, _ = first_build  # debian-12's base image exists: it is what gets pushed
    assert result["returncode"] == 0, result["stdout"][-3000:]
    address, process = registry
    client = docker.from_env()
    base = client.images.list(name="pyruntimes/debian-12-base")[0]
    repository, tag = f"{address}/pyruntimes-test/bookworm", uuid.uuid4().hex[:12]
    base.tag(repository, tag)
    for line in client.images.push(repository, tag, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(f"{repository}:{tag}")  # only the registry has it now

    project = copy_project(tmp_path / "project")
    registry_stack(project, "registry-12", f"{repository}:{tag}")
    out = tmp_path / "out"
    # The images as a run makes them (a plan makes none), then the plan, which finds them.
    pulled = make_stack_images("registry-12", cwd=project)
    assert pulled.returncode == 0, (pulled.stdout + pulled.stderr)[-3000:]
    assert f"registry-12: pulling {repository}:{tag}" in pulled.stderr, pulled.stderr[-3000:]
    assert "bootstrapping" not in pulled.stderr
    planned = run_harness("test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "registry-12",
                          "--profile", "quick", "--plan", "--out-dir", str(out), cwd=project)
    assert planned.returncode == 0, (planned.stdout + planned.stderr)[-3000:]
    assert table_row(planned.stdout, "python-3.11.2-registry-12")[1:3] == ["would", "build"], planned.stdout[-2000:]

    process.terminate()
    process.wait(timeout=30)
    registry_stack(project, "registry-gone", f"{repository}:{uuid.uuid4().hex[:12]}")
    # A run (not a plan, which makes no image): the pair fails at its images, before any build.
    gone = run_harness("test_runtimes.py", "--runtimes", "python-3.11.2", "--stacks", "registry-gone",
                       "--profile", "quick", "--out-dir", str(out), cwd=project)
    assert gone.returncode == 1, gone.stdout[-3000:]
    reason = failure_reason(gone.stdout)
    assert f"stack registry-gone: base image {repository}:" in reason and "cannot be pulled" in reason, reason
    assert "no debian_suite to bootstrap from" in reason and "Traceback" not in gone.stdout


def test_buildenv_for_a_stack_no_registry_serves_is_one_line():
    """heroku-18's images come only from a registry, and none answers here."""
    result = subprocess.run(["make", "-s", "buildenv", "STACK=heroku-18"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "stack heroku-18: base image heroku/heroku:18-build cannot be pulled" in errors[0], \
        result.stderr
    assert "Traceback" not in result.stderr
