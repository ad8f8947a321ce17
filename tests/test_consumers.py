"""What a published runtime's consumers do with it, done by their own tools: uv installs it from the
stack's catalog inside the stack's run image, by version request, and makes a working venv from
it; uv refuses an archive whose bytes are not the catalog's; a real browser (Debian's chromium)
renders the index page, each of whose links is an object in the bucket.

The bucket is an S3 API over real HTTP (moto's server, a process of its own), read anonymously as a
deployment's consumers read it: allowed by the bucket policy README.md gives, as a deployment sets
it (tests/test_listings.py shows that moto refuses anonymous reads without it).
"""

import base64
import datetime
import hashlib
import html.parser
import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import docker
import pytest
from filelock import FileLock

from harness.bucket import s3server
from harness.layout import ROOT
from tests.helpers import NATIVE, MotoProcess, public_read_policy, run_harness, table_row

pytestmark = [pytest.mark.engine, pytest.mark.build]

BUCKET = "pyruntimes-dry-run"  # a dry run's bucket
PAIR = ["--runtimes", "python-3.13.15", "--stacks", "debian-12", "--arch", NATIVE, "--profile", "quick"]
CATALOG = "debian-12/python-downloads.json"
ARCHIVE = f"debian-12/{NATIVE}/python-3.13.15.tar.zst"
UV = Path(sys.executable).with_name("uv")  # pinned in requirements.txt
ARTIFACTS = ROOT / "out" / "test-artifacts"


@pytest.fixture
def published(shared_dir):
    """python-3.13.15 on debian-12, built (quick) once per run in a shared out folder, published by a
    dry run to an S3 of this test's own whose bucket allows anonymous reads: (server, record)."""
    server = MotoProcess()
    server.client.create_bucket(Bucket=BUCKET)
    server.client.put_bucket_policy(Bucket=BUCKET, Policy=public_read_policy(BUCKET))
    out = shared_dir / "consumers-out"
    try:
        # One build for the tests of this module, whichever worker runs them: the other reuses it.
        with FileLock(str(shared_dir / "consumers.lock")):
            result = run_harness("test_runtimes.py", *PAIR, "--out-dir", str(out),
                                 env={s3server.ENDPOINT_ENV: server.endpoint})
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert table_row(result.stdout, "python-3.13.15-debian-12")[1] == "passed"
        [record_path] = (out / "archives" / "debian-12" / NATIVE).glob("python-3.13.15-quick-*.tar.zst.json")
        yield server, json.loads(record_path.read_text())
    finally:
        server.stop()


def make_wheel(folder: Path) -> str:
    """A pure-Python wheel, made here: the venv installs it with no index and no network."""
    name, version = "pyruntimes_greeting", "1.0"
    info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": b"def hello():\n    return 'hello from a wheel'\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: pyruntimes-greeting\nVersion: {version}\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
                     f"{len(data)}\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        for path, data in {**files, f"{info}/RECORD": record.encode()}.items():
            wheel.writestr(path, data)
    return "pyruntimes-greeting"


CHECK = """\
import json, sqlite3, ssl, sys
import pyruntimes_greeting
connection = sqlite3.connect(":memory:")
connection.execute("create table t (x)")
connection.execute("insert into t values (42)")
context = ssl.create_default_context()
print("CHECK " + json.dumps({
    "version": sys.version, "base_prefix": sys.base_prefix, "in_venv": sys.prefix != sys.base_prefix,
    "openssl": ssl.OPENSSL_VERSION, "verifies": context.verify_mode == ssl.CERT_REQUIRED,
    "sqlite": sqlite3.sqlite_version, "row": connection.execute("select x from t").fetchone()[0],
    "greeting": pyruntimes_greeting.hello()}))
"""


def uv_in_run_image(image: str, script: str, folder: Path) -> tuple[int, str]:
    """script (sh) in the run image, with uv, the wheel folder and the check mounted read-only and the
    loopback S3 reachable (the host's network); uv's own output and the exit status."""
    engine = docker.from_env()
    container = engine.containers.run(
        image, ["sh", "-ec", script], detach=True, network_mode="host",
        environment={"UV_CACHE_DIR": "/tmp/uv-cache", "UV_PYTHON_INSTALL_DIR": "/tmp/uv-python", "UV_NO_CONFIG": "1",
                     "NO_COLOR": "1", "HOME": "/tmp"},
        volumes={str(UV): {"bind": "/usr/local/bin/uv", "mode": "ro"},
                 str(folder): {"bind": "/consumer", "mode": "ro"}})
    try:
        status = container.wait(timeout=600)["StatusCode"]
        return status, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def test_uv_installs_the_runtime_from_the_stack_catalog_in_the_run_image(published, tmp_path):
    server, record = published
    catalog_url = f"{server.endpoint}/{BUCKET}/{CATALOG}"
    package = make_wheel(tmp_path / "consumer" / "wheels")
    (tmp_path / "consumer" / "check.py").write_text(CHECK)
    run_image = record["images"]["run"]["id"]
    status, output = uv_in_run_image(run_image, f"""
        uv --version
        uv python install 3.13 --python-downloads-json-url {catalog_url}
        uv python find 3.13
        uv venv /tmp/venv --python 3.13
        uv pip install --python /tmp/venv/bin/python --no-index --find-links /consumer/wheels {package}
        /tmp/venv/bin/python -VV
        /tmp/venv/bin/python /consumer/check.py
        """, tmp_path / "consumer")
    print(output)  # uv's own lines, for whoever reads the test's report
    assert status == 0, output[-3000:]
    assert "Installed Python 3.13.15" in output, output
    assert "cpython-3.13.15-linux-" in output  # the name uv gave the catalog's entry it chose
    assert re.search(r"Installed 1 package", output), output
    check = json.loads(output.split("CHECK ", 1)[1].splitlines()[0])
    assert check["version"].startswith("3.13.15 ") and check["in_venv"] and check["base_prefix"].startswith("/tmp/uv-python/")
    assert check["row"] == 42 and check["greeting"] == "hello from a wheel" and check["verifies"], check
    assert check["openssl"].startswith("OpenSSL 3.") and check["sqlite"].startswith("3."), check
    # The date the runtime reports is its source's release date (not 2000-01-01).
    released = datetime.date.fromisoformat(record["source"]["released"][:10])
    assert f"(main, {released:%b} {released.day:2d} {released.year}," in check["version"], (check["version"], released)

    # The archive's bytes replaced in the bucket (its catalog entry unchanged): uv refuses it.
    original = server.client.get_object(Bucket=BUCKET, Key=ARCHIVE)["Body"].read()
    server.client.put_object(Bucket=BUCKET, Key=ARCHIVE, Body=original[:-1] + bytes([original[-1] ^ 1]))
    status, output = uv_in_run_image(run_image, f"uv python install 3.13 --python-downloads-json-url {catalog_url}",
                                     tmp_path / "consumer")
    print(output)
    assert status != 0, output
    assert "hash mismatch" in output.lower(), output
    assert "Installed Python" not in output


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("href"):
            self.hrefs.append(dict(attrs)["href"])


def chromium(*args) -> subprocess.CompletedProcess:
    browser = shutil.which("chromium")
    assert browser, "chromium is missing: `make test` installs it (scripts/ensure-test-tools.sh)"
    # --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_index_page_renders_in_a_browser_and_every_link_is_an_object_in_the_bucket(published):
    server, record = published
    index_url = f"{server.endpoint}/{BUCKET}/index.html"
    dom = chromium("--dump-dom", index_url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    assert "Python 3.13.15" in page and record["archive_sha256"] in page
    passed = sum(1 for check in record["verification"].values() if check["ok"])
    assert f"{passed}/{len(record['verification'])}" in page
    assert f"--python-downloads-json-url {server.endpoint}/{BUCKET}/{CATALOG}" in page

    links = Links()
    links.feed(page)
    files = [href for href in links.hrefs if not href.startswith("#")]
    keys = {item["Key"] for item in server.client.list_objects_v2(Bucket=BUCKET)["Contents"]}
    resolved = []
    for href in files:
        url = urllib.parse.urljoin(index_url, href)
        # An anonymous GET of its first byte, as a consumer's download starts (moto checks a HEAD
        # against an "s3:HeadObject" no policy grants, where S3 checks s3:GetObject).
        request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status in (200, 206) and len(answer.read()) == 1, url
        key = urllib.parse.unquote(urllib.parse.urlsplit(url).path).removeprefix(f"/{BUCKET}/")
        assert key in keys, (href, sorted(keys))
        resolved.append(key)
    # The manifest, the stack's catalog, and the archive with its four sidecars.
    assert sorted(resolved) == sorted(["manifest.json", CATALOG, ARCHIVE, *(ARCHIVE + suffix for suffix in (
        ".sha256", ".cdx.json", ".provenance.json", ".json"))])
    print(f"{len(resolved)} links, each an object in the bucket, read anonymously")

    # Screenshots kept with the test's artifacts: a wide screen and a phone.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, size in (("index-wide.png", "1280,900"), ("index-phone.png", "390,1000")):
        shot = chromium(f"--window-size={size}", f"--screenshot={ARTIFACTS / name}", index_url)
        assert shot.returncode == 0 and (ARTIFACTS / name).stat().st_size > 10_000, shot.stderr[-2000:]
        print(f"screenshot: {ARTIFACTS / name}")
