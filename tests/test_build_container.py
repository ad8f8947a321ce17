"""The build container runs with the harness's real settings: no network, no credentials."""

import re
import socket
import urllib.parse

import pytest

from harness import build, containers, debian_archive, engine, images, layout
from harness.stacks import load_stacks
from tests.helpers import source_cache

pytestmark = pytest.mark.engine

# A download as a build might attempt one: apt-get's own fetch of the archive's index.
DOWNLOAD = "apt-get -o Acquire::Retries=0 -o Acquire::http::Timeout=10 update"


@pytest.fixture(scope="module")
def build_image():
    client = engine.connect()
    stack = load_stacks(layout.STACKS)["debian-12"]
    image, _ = images.ensure_stack_images(client, stack, source_cache() / "locks", log=lambda m: None)
    return client, image


def run(client, options, command):
    container = client.containers.run(command=["bash", "-c", command], **options)
    try:
        status = container.wait(timeout=300)["StatusCode"]
        return status, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def archive_address():
    """The Debian archive's IP address, resolved on the host: a connection that needs no DNS."""
    host = urllib.parse.urlparse(debian_archive.host_mirror()).hostname
    return socket.gethostbyname(host)


def test_download_from_inside_the_build_container_fails(build_image):
    client, image = build_image
    options = containers.container_options(image, run_id="test", pair="network-test")
    options["user"] = "0:0"  # apt needs root; the network, not permissions, must be what stops it
    status, output = run(client, options, f"{DOWNLOAD} 2>&1; echo '== tcp'; "
                                          f"(exec 3<>/dev/tcp/{archive_address()}/80) 2>&1 && echo connected; "
                                          "echo '== interfaces'; ls /sys/class/net")
    apt_out, rest = output.split("== tcp")
    tcp_out, interfaces = rest.split("== interfaces")
    assert "Failed to fetch" in apt_out or "Temporary failure" in apt_out, output
    assert "connected" not in tcp_out and "unreachable" in tcp_out.lower(), output
    assert interfaces.split() == ["lo"], output


def test_the_same_download_works_with_a_network(build_image):
    """The control: the same attempts succeed when the container has a network, so the test above
    fails for the right reason (the network is cut), not because the command is broken."""
    client, image = build_image
    options = {**containers.container_options(image, run_id="test", pair="network-control"), "user": "0:0"}
    options.pop("network_mode")
    status, output = run(client, options, f"{DOWNLOAD} && (exec 3<>/dev/tcp/{archive_address()}/80) && echo connected")
    assert status == 0 and "Reading package lists" in output and "connected" in output, output


def test_no_credentials_reach_the_build_container(build_image, monkeypatch):
    client, image = build_image
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "canary-secret-7f3a")
    options = containers.container_options(image, run_id="test", pair="env-test")
    status, output = run(client, options, "env")
    assert status == 0 and "canary-secret-7f3a" not in output and "AWS_" not in output, output


def test_a_silent_phase_still_shows_signs_of_life(build_image, monkeypatch, tmp_path):
    """The heartbeat goes by the clock: a phase that prints nothing (an LTO link, a PGO training
    test under emulation) is still reported while it runs, with its phase and seconds so far."""
    client, image = build_image
    monkeypatch.setattr(build, "HEARTBEAT", 1)
    heard = []
    container = build.Container(image, ["bash", "-c", "echo '::phase:: quiet'; sleep 4; echo '::phase:: done'"], {}, {})
    with (tmp_path / "build.log").open("w") as log_file:
        result = build._run(containers.ContainerRun(client, "test", "heartbeat-test"), container, log_file,
                            heard.append, timeout=120)
    assert result.exit_code == 0
    beats = [line for line in heard if line.startswith("quiet, ")]
    assert len(beats) >= 2 and all(re.fullmatch(r"quiet, \ds so far \(1 log lines\)", b) for b in beats), heard
    assert "quiet" in heard and heard[-1] == "done" and 3 <= result.phase_seconds["quiet"] < 10, (heard, result)
