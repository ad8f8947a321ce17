"""The listings consumers read beside the manifest (harness/bucket/listings.py): a uv catalog per
stack and the index page, written by real publishes to an S3 API over real HTTP (moto), made again
by a rerun, refused by check-published where they differ from the bucket; the public URL they use;
and the bucket policy that lets consumers read them anonymously. uv itself and a browser read them
in tests/test_consumers.py."""

import concurrent.futures
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from harness.bucket import catalog, listings, publish, s3
from tests.helpers import MotoProcess, public_read_policy, run_harness
from tests.test_check_published import check_published, pair_build
from tests.test_publish import endpoint, objects, read, target  # noqa: F401  (fixtures)


def publish_matrix(tmp_path, target):
    """python-3.11.2 and 3.13.15 on debian-12 (amd64 and arm64) and 3.13.15 on debian-13."""
    client = s3.client_for(target)
    pairs = [pair_build(tmp_path, target, runtime, stack, arch) for runtime, stack, arch in (
        ("python-3.11.2", "debian-12", "amd64"), ("python-3.13.15", "debian-12", "amd64"),
        ("python-3.13.15", "debian-12", "arm64"), ("python-3.13.15", "debian-13", "amd64"))]
    for local in pairs:
        assert publish.publish(client, target, local).status is publish.Status.PUBLISHED
    return client, pairs


def test_each_stack_has_a_uv_catalog_of_its_runtimes_and_architectures(tmp_path, target):
    client, pairs = publish_matrix(tmp_path, target)
    base = f"{target.endpoint}/{target.bucket}/"  # the embedded S3's path-style URL: what works as published
    assert set(objects(target)) >= {"runtimes/index.html", "runtimes/debian-12/python-downloads.json",
                                    "runtimes/debian-13/python-downloads.json"}
    debian_12 = json.loads(read(target, "runtimes/debian-12/python-downloads.json"))
    assert sorted(debian_12) == ["cpython-3.11.2-linux-x86_64-gnu", "cpython-3.13.15-linux-aarch64-gnu",
                                 "cpython-3.13.15-linux-x86_64-gnu"]
    by_key = {local.keys.archive: local for local in pairs}
    for name, entry in debian_12.items():
        local = by_key[entry["url"].removeprefix(base)]
        assert entry["sha256"] == local.sha256
        assert entry == {"name": "cpython", "arch": {"family": name.split("-")[3], "variant": None}, "os": "linux",
                         "libc": "gnu", "major": 3, "minor": int(name.split("-")[1].split(".")[1]),
                         "patch": int(name.split("-")[1].split(".")[2]), "prerelease": "", "url": base + local.keys.archive,
                         "sha256": local.sha256, "variant": None, "build": None}
        # The URL is the object, read over HTTP (moto allows the signer-less read only with a policy: below).
        assert read(target, local.keys.archive) == local.archive.read_bytes()
    assert list(json.loads(read(target, "runtimes/debian-13/python-downloads.json"))) == [
        "cpython-3.13.15-linux-x86_64-gnu"]
    # The index lists every runtime with its files, linked relative to the page.
    page = read(target, "runtimes/index.html").decode()
    for local in pairs:
        relative = local.keys.archive.removeprefix(target.prefix)
        assert all(f'href="{relative}{suffix}"' in page for suffix in ("", ".sha256", ".cdx.json",
                                                                        ".provenance.json", ".json"))
        assert local.sha256 in page
    assert "4 runtimes on 2 stacks" in page
    assert check_published(target).returncode == 0


def test_a_rerun_makes_missing_or_stale_listings_again(tmp_path, target):
    client, pairs = publish_matrix(tmp_path, target)
    client.delete_object(Bucket=target.bucket, Key="runtimes/debian-13/python-downloads.json")
    client.put_object(Bucket=target.bucket, Key="runtimes/index.html", Body=b"<p>old</p>")
    before = read(target, "runtimes/debian-12/python-downloads.json")
    outcome = publish.settle_existing(client, target, pairs[0])
    assert outcome.status is publish.Status.ALREADY_THERE and outcome.repaired == ()  # the pair was complete
    assert outcome.listings == ("index", "uv catalog of debian-13")
    assert read(target, "runtimes/debian-12/python-downloads.json") == before  # unchanged: not rewritten
    assert check_published(target).returncode == 0
    assert publish.settle_existing(client, target, pairs[0]).listings == ()  # converged


def test_check_published_refuses_a_catalog_entry_whose_sha256_or_url_is_not_the_bucket_s(tmp_path, target):
    client, pairs = publish_matrix(tmp_path, target)
    key = "runtimes/debian-12/python-downloads.json"
    document = json.loads(read(target, key))
    document["cpython-3.13.15-linux-x86_64-gnu"]["sha256"] = "0" * 64
    document["cpython-3.11.2-linux-x86_64-gnu"]["url"] = "https://elsewhere.example/python-3.11.2.tar.zst"
    document["cpython-3.9.2-linux-x86_64-gnu"] = document["cpython-3.13.15-linux-aarch64-gnu"]
    client.put_object(Bucket=target.bucket, Key=key, Body=json.dumps(document).encode())
    result = check_published(target)
    assert result.returncode == 1, result.stdout
    base = f"{target.endpoint}/{target.bucket}/"
    assert result.stdout.splitlines() == [
        f"{key}: cpython-3.11.2-linux-x86_64-gnu.url is 'https://elsewhere.example/python-3.11.2.tar.zst', should be "
        f"'{base}runtimes/debian-12/amd64/python-3.11.2.tar.zst' (the public URL of its key)",
        f"{key}: cpython-3.13.15-linux-x86_64-gnu.sha256 is '{'0' * 64}', should be '{pairs[1].sha256}' "
        "(the archive the manifest lists)",
        f"{key}: 'cpython-3.9.2-linux-x86_64-gnu': an entry the manifest does not list",
    ]
    client.put_object(Bucket=target.bucket, Key=key, Body=b"[1, 2")
    result = check_published(target)
    assert result.stdout.splitlines() == [f"{key}: not JSON (Expecting ',' delimiter: line 1 column 6 (char 5)); "
                                          "uv cannot read it"]
    client.delete_object(Bucket=target.bucket, Key="runtimes/index.html")
    assert check_published(target).stdout.splitlines()[0] == "runtimes/index.html: missing (the index; a publish writes it)"


def test_the_public_url_is_the_catalogs_base(tmp_path, target):
    """PUBLIC_URL (a CDN in front of the bucket): the catalogs' URLs are it and the key; check-published
    compares with the URL it is given."""
    cdn = s3.Target(**{**target.__dict__, "public_url": "https://downloads.example.com/python/"})
    client = s3.client_for(cdn)
    local = pair_build(tmp_path, cdn, "python-3.13.15")
    assert publish.publish(client, cdn, local).ok
    [entry] = json.loads(read(cdn, "runtimes/debian-12/python-downloads.json")).values()
    assert entry["url"] == "https://downloads.example.com/python/runtimes/debian-12/amd64/python-3.13.15.tar.zst"
    assert check_published(cdn, "--public-url", "https://downloads.example.com/python").returncode == 0
    result = check_published(cdn)  # the bucket's own URL is not the catalog's
    assert result.returncode == 1 and "(the public URL of its key)" in result.stdout


@pytest.mark.parametrize("value, said", [
    ("ftp://s3cr3t-canary.example.com/", "--public-url is not an http(s) URL that KEY is appended to"),
    ("https://downloads.example.com/?X-Amz-Signature=s3cr3t-canary", "--public-url is not an http(s) URL"),
    ("https://downloads.example.com/#s3cr3t-canary", "--public-url is not an http(s) URL"),
    ("https://downloads.example.com/ AWS_SECRET_ACCESS_KEY=s3cr3t-canary", "--public-url is not an http(s) URL"),
    ("https://user:s3cr3t-canary@downloads.example.com/", "--public-url has an '@' in it (a user:password@?), not shown"),
    ("https:user:s3cr3t-canary@downloads.example.com/", "--public-url has an '@' in it"),
    ("https:/s3cr3t-canary.example.com/", "--public-url is not an http(s) URL"),
    ("https://s3cr3t-canary.example.com/$(id)", "--public-url is not an http(s) URL"),
    ("https://[s3cr3t-canary/", "--public-url is not an http(s) URL"),
    ("", "--public-url is empty"),
])
def test_a_bad_public_url_is_one_line(value, said):
    result = run_harness("test_runtimes.py", "--collect-only", "-q", "--public-url", value, timeout=120)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert any(said in line for line in lines), lines
    assert "s3cr3t-canary" not in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr


def test_the_bucket_s_own_url_on_aws_is_virtual_hosted_in_its_region_unless_the_name_has_a_dot():
    assert listings.bucket_url("runtimes", "https://s3.us-east-1.amazonaws.com", "eu-west-1") == \
        "https://runtimes.s3.eu-west-1.amazonaws.com/"
    assert listings.bucket_url("my.runtimes", "https://s3.amazonaws.com", "eu-west-1") == \
        "https://s3.eu-west-1.amazonaws.com/my.runtimes/"
    assert listings.bucket_url("runtimes", "http://127.0.0.1:9000/", None) == "http://127.0.0.1:9000/runtimes/"
    assert catalog.url_of("https://cdn.example/", "p/debian-12/amd64/python-3.13.15.tar.zst") == \
        "https://cdn.example/p/debian-12/amd64/python-3.13.15.tar.zst"


def test_anonymous_reads_need_the_bucket_policy_the_readme_gives(tmp_path):
    """moto, as S3: an unsigned GET is refused until the bucket policy allows s3:GetObject."""
    server = MotoProcess()
    try:
        server.client.create_bucket(Bucket="public-runtimes")
        target = s3.Target("public-runtimes", "", endpoint=server.endpoint)
        assert publish.publish(server.client, target, pair_build(tmp_path, target, "python-3.13.15")).ok
        url = f"{server.endpoint}/public-runtimes/debian-12/python-downloads.json"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        assert refused.value.code == 403
        server.client.put_bucket_policy(Bucket="public-runtimes", Policy=public_read_policy("public-runtimes"))
        with urllib.request.urlopen(url, timeout=30) as answer:
            assert "cpython-3.13.15-linux-x86_64-gnu" in json.load(answer)
    finally:
        server.stop()


def test_listings_converge_on_the_manifest_when_publishes_run_at_once(tmp_path, target):
    """Eight pairs published at the same moment, each refreshing the listings after its manifest
    entry: whatever order their reads and conditional writes interleave in, the listings end up
    as the final manifest gives them (check-published compares them byte for byte)."""
    client = s3.client_for(target)
    pairs = [pair_build(tmp_path, target, runtime, stack, arch) for runtime in ("python-3.11.2", "python-3.13.15")
             for stack in ("debian-12", "debian-13") for arch in ("amd64", "arm64")]
    with concurrent.futures.ThreadPoolExecutor(len(pairs)) as pool:
        outcomes = list(pool.map(lambda local: publish.publish(client, target, local), pairs))
    assert all(outcome.status is publish.Status.PUBLISHED for outcome in outcomes)
    for stack in ("debian-12", "debian-13"):
        assert len(json.loads(read(target, f"runtimes/{stack}/python-downloads.json"))) == 4
    assert "8 runtimes on 2 stacks" in read(target, "runtimes/index.html").decode()
    result = check_published(target)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pair_in_conflict_leaves_its_objects_alone_and_the_listings_are_made_all_the_same(tmp_path, target):
    """After a change of the build's inputs every published pair is in conflict until it is
    republished with --overwrite: the listings (the bucket's, not the pair's) do not wait for that."""
    client, pairs = publish_matrix(tmp_path, target)
    client.delete_object(Bucket=target.bucket, Key="runtimes/index.html")
    (tmp_path / "other").mkdir()
    other = replace(pair_build(tmp_path / "other", target, "python-3.11.2"), cache_key="other inputs")
    other.archive.write_bytes(b"rebuilt from other inputs")
    other = replace(other, sha256=hashlib.sha256(b"rebuilt from other inputs").hexdigest())
    pair_keys = [key for key in objects(target) if "python-3.11.2" in key]
    before = {key: read(target, key) for key in pair_keys + ["runtimes/manifest.json"]}
    outcome = publish.settle_existing(client, target, other)
    assert outcome.status is publish.Status.CONFLICT and outcome.listings == ("index",)
    assert {key: read(target, key) for key in before} == before
    assert check_published(target).returncode == 0


def test_a_variant_is_listed_as_uv_names_it(tmp_path, target):
    """A free-threaded build (its runtime python-3.13.15-freethreaded) beside the default one: uv's
    name for it, cpython-3.13.15+freethreaded-..., with "variant": "freethreaded" (`uv python install
    3.13t` asks for it; tests/test_consumers.py installs a default build with uv)."""
    client = s3.client_for(target)
    default = pair_build(tmp_path, target, "python-3.13.15")
    (tmp_path / "free").mkdir()
    free = pair_build(tmp_path / "free", target, "python-3.13.15-freethreaded")
    free = replace(free, entry={**free.entry, "version": "3.13.15", "variant": "freethreaded"})
    for local in (default, free):
        assert publish.publish(client, target, local).ok
    listed = json.loads(read(target, "runtimes/debian-12/python-downloads.json"))
    assert sorted(listed) == ["cpython-3.13.15+freethreaded-linux-x86_64-gnu", "cpython-3.13.15-linux-x86_64-gnu"]
    entry = listed["cpython-3.13.15+freethreaded-linux-x86_64-gnu"]
    assert entry["variant"] == "freethreaded" and entry["sha256"] == free.sha256
    assert entry["url"].endswith("runtimes/debian-12/amd64/python-3.13.15-freethreaded.tar.zst")
    assert listed["cpython-3.13.15-linux-x86_64-gnu"]["variant"] is None
    assert check_published(target).returncode == 0
