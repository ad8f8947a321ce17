"""Running the harness for real, as a user would: `python -m pytest` in a subprocess."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from filelock import FileLock

from harness import archive, emulation, layout
from harness.layout import ROOT
# The pair the pipeline tests build for real: the fastest of the runtimes buildable here.
# This machine's own architecture: the tests build its pairs only (an emulated one takes longer;
# tests/test_arm64.py builds one on purpose).
NATIVE = emulation.host_arch()
QUICK_311 = ["--runtimes", "python-3.11.2", "--stacks", "debian-12", "--arch", NATIVE, "--profile", "quick"]
PROJECT_FILES = ("conftest.py", "test_runtimes.py", "pytest.ini", "harness", "builds", "stacks")


def run_harness(*args, cwd=ROOT, env=None, timeout=3600):
    """Run the harness's pytest; return the CompletedProcess (stdout and stderr as text).

    env: variables to set; a value of None removes the variable."""
    full_env = {**os.environ, **(env or {})}
    full_env = {key: value for key, value in full_env.items() if value is not None}
    full_env.pop("PYTEST_XDIST_WORKER", None)
    full_env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    full_env.pop("PYTEST_ADDOPTS", None)
    full_env.pop("PUBLIC_URL", None)  # a developer's own would change every catalog's URLs
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


def make_stack_images(stack, cwd=ROOT, env=None, timeout=1800):
    """The stack's build and run images, made (or found) as a run makes them, with
    `python -m harness build-image`: since --plan changes nothing on the machine (issue 24), the
    tests that ask --plan about a changed stack make its images first, as a run would."""
    full_env = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "harness", "build-image", stack], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def verified_build(first_build):
    """The archive first_build made, with its record, SBOM and provenance statement (as bytes),
    read under the archive's lock, as the harness writes them: another test's run verifying the
    same archive (in another run image) cannot mix its files with these."""
    result, out = first_build
    assert result["returncode"] == 0, (result["stdout"] + result["stderr"])[-3000:]
    [target] = (out / "archives" / "debian-12" / "amd64").glob("python-3.11.2-quick-*.tar.zst")
    with FileLock(str(target) + ".lock"):
        record, document = (json.loads(archive.beside(target, suffix).read_text())
                            for suffix in (archive.RECORD_SUFFIX, archive.SBOM_SUFFIX))
        statement = archive.beside(target, archive.PROVENANCE_SUFFIX).read_bytes()
    return target, record, document, statement


def copy_project(dest: Path) -> Path:
    """A copy of the harness to edit (a broken formula, a changed stack) without touching ours."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def source_cache() -> Path:
    return layout.cache_dir()


def table_row(output, pair):
    """The summary table's row of a pair, split into cells."""
    rows = [line.split() for line in output.splitlines() if line.startswith(pair + " ")]
    assert rows, output[-3000:]
    return rows[0]


def failure_reason(output):
    reasons = [line.strip() for line in output.splitlines() if line.strip().startswith("failed: ")]
    assert len(reasons) == 1, output[-3000:]
    return reasons[0]


def uploaded_keys(client, bucket="pyruntimes-dry-run"):
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    if bucket not in names:
        return []
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


class EngineProxy:
    """A unix socket that forwards to the Docker engine's. A run pointed at it (DOCKER_HOST) sees
    the engine go away, for real, when stop() closes the socket and every connection through it."""

    def __init__(self, path: Path):
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        assert host.startswith("unix://"), "the engine proxy forwards unix sockets only"
        self.target, self.path, self.connections = host[len("unix://"):], path, []
        self.server = socket.socket(socket.AF_UNIX)
        self.server.bind(str(path))
        self.server.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"unix://{self.path}"

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # stopped
            engine = socket.socket(socket.AF_UNIX)
            engine.connect(self.target)
            self.connections += [client, engine]
            for source, sink in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would leave the listening
        # socket alive (and accepting) until then. Unlinked, the path refuses new connections.
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        self.path.unlink(missing_ok=True)
        for connection in self.connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            except OSError:
                pass


class MotoProcess:
    """An S3 API in a process of its own (moto's server), for a test whose bucket must outlive
    other tests in the same worker: moto keeps buckets per process, and the `s3` fixture resets
    its own process's. Anonymous requests are answered as S3 answers them (a bucket policy decides)."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                                         "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("moto_server did not start")
        import boto3  # here: helpers is imported by tests that need no S3
        self.client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                   aws_access_key_id="x", aws_secret_access_key="x")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def public_read_policy(bucket: str) -> str:
    """What README.md tells a deployment to set: anyone may GET an object; nothing else."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicReadRuntimes", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]})
