"""Faults injected for real while the harness runs: a build that fails, a container killed, Ctrl-C
and SIGTERM, a full disk, a corrupted archive, two runs at once. Each test asserts on the message,
the exit status and what is left behind (containers, archives, partial files, the bucket)."""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import docker.errors
import pytest

from harness import archive as archive_mod
from harness.bucket import s3server
from harness.engine import LABEL
from tests.helpers import (NATIVE, QUICK_311, ROOT, EngineProxy, copy_project, failure_reason, run_harness, source_cache, table_row,
                           uploaded_keys)

pytestmark = [pytest.mark.engine, pytest.mark.build]

PAIR = "python-3.11.2-debian-12"


@pytest.fixture
def docker_client():
    return docker.from_env()


def containers_of(client, run_id):
    return client.containers.list(all=True, filters={"label": f"{LABEL}.run={run_id}"})


def leftovers(out: Path):
    """Partial or staging files in an out folder and in the source cache."""
    found = [p for p in out.rglob("*") if p.name.startswith(".staging-") or ".partial" in p.name]
    return found + list((source_cache() / "sources").rglob(".partial-*"))


def start_harness(*args, run_id, cwd=ROOT, new_session=False, env=None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS"))},
           **(env or {})}
    env["PYRUNTIMES_RUN_ID"] = run_id
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_runtimes.py", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=new_session)


def wait_for_build_container(client, run_id, process, seconds=600):
    """The run's build container, once it is past extracting the source (so a build is under way)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()[-3000:]
        for container in containers_of(client, run_id):
            try:
                if container.status == "running" and b"::phase:: configure" in container.logs():
                    return container
            except docker.errors.NotFound:
                continue  # gone between listing and reading
        time.sleep(1)
    raise AssertionError("no build container appeared")


def test_a_failing_build_fails_its_pair_with_its_log_tail_and_the_others_finish(first_build, tmp_path, s3):
    """python-3.13.15 gets a configure option that does not exist (configure stops with an error);
    python-3.11.2 in the same run still passes and is published; the failed pair leaves no
    archive, no container, and nothing in the bucket."""
    _, out = first_build
    project = copy_project(tmp_path / "project")
    formula = project / "builds" / "runtimes" / "python-3.13.15.toml"
    formula.write_text(formula.read_text() + 'configure_args = ["--with-no-such-option"]\n')
    endpoint, client = s3
    run_id = uuid.uuid4().hex[:12]
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.11.2,python-3.13.15", "--stacks", "debian-12",
                         "--arch", NATIVE,
                         "--profile", "quick", "-n", "2", "--out-dir", str(out), cwd=project,
                         env={s3server.ENDPOINT_ENV: endpoint, "PYRUNTIMES_RUN_ID": run_id})
    keys = uploaded_keys(client)
    assert result.returncode == 1, result.stdout[-3000:]
    assert table_row(result.stdout, PAIR)[1] == "passed"
    assert table_row(result.stdout, "python-3.13.15-debian-12")[1] == "FAILED"
    assert failure_reason(result.stdout).startswith("failed: build failed in phase 'configure' (exit 1)")
    tail = result.stdout.split("log tail:", 1)[1].split("archive:", 1)[0]
    assert "unrecognized options: --with-no-such-option" in tail, tail
    assert "debian-12/amd64/python-3.11.2.tar.zst" in keys
    assert not [k for k in keys if "3.13.15" in k]
    assert containers_of(docker.from_env(), run_id) == []
    assert not [p for p in leftovers(out) if "3.13.15" in p.name]


def build_with_fault(tmp_path, docker_client, fault, env=None):
    """Start a quick build of PAIR, apply fault(container) once it is under way, let the run end.
    Returns (exit status, output, run id, out folder); no container of the run survives it."""
    run_id = uuid.uuid4().hex[:12]
    out = tmp_path / "out"
    process = start_harness(*QUICK_311, "--rebuild", "--out-dir", str(out), run_id=run_id, env=env)
    try:
        fault(wait_for_build_container(docker_client, run_id, process))
        output, _ = process.communicate(timeout=600)
    finally:
        process.kill()
    return process.returncode, output, run_id, out


def test_a_killed_build_container_fails_the_pair_and_leaves_nothing(tmp_path, docker_client):
    status, output, run_id, out = build_with_fault(tmp_path, docker_client, lambda container: container.kill())
    assert status == 1, output[-3000:]
    assert "(the container was killed (SIGKILL))" in output, output[-3000:]
    assert containers_of(docker_client, run_id) == []
    assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []


def test_a_build_past_its_time_limit_is_stopped_with_one_line(tmp_path, docker_client):
    """--build-timeout: the container is stopped at the limit and the pair fails saying so."""
    run_id = uuid.uuid4().hex[:12]
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_harness("test_runtimes.py", *QUICK_311, "--rebuild", "--build-timeout", "20s", "--out-dir", str(out),
                         env={"PYRUNTIMES_RUN_ID": run_id})
    assert result.returncode == 1, result.stdout[-3000:]
    reason = failure_reason(result.stdout)
    assert "ran past the time limit of 20s (--build-timeout)" in reason, reason
    assert "Traceback" not in result.stdout
    assert time.monotonic() - started < 120  # stopped at the limit, not at the build's end
    assert containers_of(docker_client, run_id) == []
    assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []


def test_a_build_out_of_memory_says_so_and_leaves_nothing(tmp_path, docker_client):
    """Mid-build, the container's memory is capped at 48 MB (docker update): the compiler is
    OOM-killed, for real, by the kernel."""
    status, output, run_id, out = build_with_fault(
        tmp_path, docker_client, lambda container: container.update(mem_limit="48m", memswap_limit="48m"))
    assert status == 1, output[-3000:]
    assert "(the container ran out of memory)" in output, output[-3000:]
    assert containers_of(docker_client, run_id) == []
    assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []


def test_the_engine_going_away_mid_build_fails_the_pair_with_one_line(tmp_path, docker_client):
    """The run reaches the engine through a socket proxy; closing it mid-build is, for the run, the
    engine stopping. (The real engine goes on, so the test removes the container it left.)"""
    proxy = EngineProxy(tmp_path / "docker.sock")
    status, output, run_id, out = build_with_fault(tmp_path, docker_client, lambda container: proxy.stop(),
                                                    env={"DOCKER_HOST": proxy.url})
    for container in containers_of(docker_client, run_id):
        container.remove(force=True)
    assert status == 1, output[-3000:]
    assert table_row(output, PAIR)[1] == "FAILED"
    assert failure_reason(output).startswith("failed: the Docker engine stopped answering"), output[-3000:]
    assert "Traceback" not in output
    assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []


@pytest.mark.parametrize("how", ["SIGINT to the process group (Ctrl-C)", "SIGTERM to pytest, -n 2"])
def test_an_interrupted_run_stops_within_seconds_and_cleans_up(tmp_path, docker_client, how):
    run_id = uuid.uuid4().hex[:12]
    out = tmp_path / "out"
    xdist = ["-n", "2"] if "-n 2" in how else []
    process = start_harness(*QUICK_311, "--rebuild", "--out-dir", str(out), *xdist, run_id=run_id,
                            new_session=True)
    try:
        wait_for_build_container(docker_client, run_id, process)
        signalled = time.monotonic()
        if how.startswith("SIGINT"):
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
        stopped_after = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0, output[-3000:]
    assert stopped_after < 30, f"stopped {stopped_after:.0f} s after the signal"
    assert "KeyboardInterrupt" in output or "Interrupted" in output, output[-3000:]
    assert containers_of(docker_client, run_id) == [], "a container of the run is still there"
    assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_full_disk_fails_the_pair_clearly_and_leaves_no_partial_archive(tmp_path, docker_client):
    """The out folder on a 30 MB tmpfs: the installed tree (about 40 MB) does not fit."""
    out = tmp_path / "small"
    out.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(out)], check=True)
    run_id = uuid.uuid4().hex[:12]
    try:
        result = run_harness("test_runtimes.py", *QUICK_311, "--rebuild", "--out-dir", str(out),
                             env={"PYRUNTIMES_RUN_ID": run_id})
        assert result.returncode == 1, result.stdout[-3000:]
        assert "No space left on device" in result.stdout, result.stdout[-3000:]
        assert table_row(result.stdout, PAIR)[1] == "FAILED"
        assert not list(out.rglob("*.tar.zst")) and leftovers(out) == []
        assert containers_of(docker_client, run_id) == []
    finally:
        subprocess.run(["umount", "--lazy", str(out)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_packaging_onto_a_full_disk_raises_and_leaves_no_partial_file(tmp_path):
    tree, disk = tmp_path / "tree", tmp_path / "disk"
    tree.mkdir()
    disk.mkdir()
    (tree / "incompressible").write_bytes(os.urandom(3 << 20))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    try:
        with pytest.raises(OSError) as raised:
            archive_mod.pack(tree, disk / "a.tar.zst", level=(3, None))
        assert "No space left" in str(raised.value)
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=False)


def test_a_corrupted_archive_is_detected_and_rebuilt_not_used(first_build, tmp_path):
    """A copy of the first build's archive, one byte changed: --plan says it must be built again,
    and the bad file is gone (a real run takes the same decision, then builds)."""
    _, shared_out = first_build
    out = tmp_path / "out"
    shutil.copytree(shared_out / "archives", out / "archives")
    archives = list((out / "archives" / "debian-12" / "amd64").glob("python-3.11.2-quick-*.tar.zst"))
    assert archives
    before = run_harness("test_runtimes.py", *QUICK_311, "--plan", "--out-dir", str(out))
    assert table_row(before.stdout, PAIR)[1:3] == ["would", "reuse"], before.stdout[-2000:]
    for archive in archives:
        data = bytearray(archive.read_bytes())
        data[len(data) // 2] ^= 0xFF
        archive.write_bytes(bytes(data))
    after = run_harness("test_runtimes.py", *QUICK_311, "--plan", "--out-dir", str(out))
    assert after.returncode == 0, after.stdout[-2000:]
    assert table_row(after.stdout, PAIR)[1:3] == ["would", "build"], after.stdout[-2000:]
    assert "does not match its recorded sha256; rebuilding" in after.stderr + after.stdout
    assert not any(a.exists() for a in archives)


def test_two_runs_at_once_share_the_out_folder_and_caches_safely(tmp_path):
    """Same pair, same new out folder, started together: one builds, the other waits on the lock
    and reuses; both verify (each in a folder of its own) and pass; one archive results."""
    out = tmp_path / "out"
    runs = [start_harness(*QUICK_311, "--out-dir", str(out), run_id=uuid.uuid4().hex[:12]) for _ in range(2)]
    outputs = [run.communicate(timeout=1800)[0] for run in runs]
    for run, output in zip(runs, outputs):
        assert run.returncode == 0, output[-3000:]
    builds = sorted(table_row(output, PAIR)[2] for output in outputs)
    assert builds[1] == "reused" and builds[0] != "reused", builds
    assert len(list(out.rglob("*.tar.zst"))) == 1 and leftovers(out) == []
