"""Publishing against a moto S3 server over real HTTP on loopback; faults injected on the wire."""

import concurrent.futures
import dataclasses
import hashlib
import json

import pytest

from harness import archive, provenance
from harness.bucket import manifest, preflight, publish, s3, s3server
from harness.errors import PairError, UsageError
from harness.bucket.publish import Status
from tests.faulty_s3 import FaultyProxy

ENTRY = {"version": "3.13.15", "arch": "amd64", "formula_sha256": "f" * 64, "build_seconds": 12.5,
         "build_date": "2026-12-06", "checks_passed": 32, "checks_total": 32, "end_of_life": "2029-10-31",
         "variant": None}


@pytest.fixture(scope="module")
def endpoint():
    server, url = s3server.start()
    yield url
    server.stop()


@pytest.fixture
def target(endpoint, request):
    bucket = "t-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    target = s3.Target(bucket=bucket, prefix=s3.normalise_prefix("/runtimes"), endpoint=endpoint)
    s3.ensure_bucket(s3.client_for(target), bucket)
    return target


def local_build(tmp_path, target, content=b"archive bytes", name="a.tar.zst", cache_key="k1",
                runtime="python-3.13.15"):
    path = tmp_path / name
    path.write_bytes(content)
    sha = hashlib.sha256(content).hexdigest()
    return publish.Local(keys=s3.keys_for(target, "debian-12", "amd64", runtime), cache_key=cache_key,
                         entry=dict(ENTRY), record={"runtime": runtime, "archive_sha256": sha}, archive=path, sha256=sha,
                         sbom=sbom_of(sha), provenance=provenance_of(sha))


def sbom_of(sha256):
    """As much of an SBOM as publishing reads: the archive it describes (tests/test_sbom.py has whole ones)."""
    return {"bomFormat": "CycloneDX", "metadata": {"component": {"hashes": [{"alg": "SHA-256", "content": sha256}]}}}


def provenance_of(sha256):
    return {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "a.tar.zst", "digest": {"sha256": sha256}}]}


def objects(target):
    listing = s3.client_for(target).list_objects_v2(Bucket=target.bucket).get("Contents", [])
    return sorted(o["Key"] for o in listing)


def read(target, key):
    return s3.client_for(target).get_object(Bucket=target.bucket, Key=key)["Body"].read()


def manifest_of(target):
    return json.loads(read(target, target.prefix + manifest.NAME))


def test_prefix_forms_are_equivalent():
    assert {s3.normalise_prefix(p) for p in ("python", "python/", "/python/")} == {"python/"}
    assert s3.normalise_prefix("") == ""


def test_publish_uploads_archive_checksum_record_and_manifest_entry(tmp_path, target):
    local = local_build(tmp_path, target)
    assert local.keys.archive == "runtimes/debian-12/amd64/python-3.13.15.tar.zst"
    outcome = publish.publish(s3.client_for(target), target, local)
    assert outcome == publish.Outcome(Status.PUBLISHED, target.url(local.keys.archive), local.sha256)
    assert read(target, local.keys.archive) == b"archive bytes"
    assert read(target, local.keys.sha256).decode() == f"{local.sha256}  python-3.13.15.tar.zst\n"
    assert json.loads(read(target, local.keys.record)) == local.record
    # The SBOM and provenance statement beside it, as the bytes written locally (a signature
    # over the statement's bytes must hold for the bucket's copy).
    assert local.keys.sbom == local.keys.archive + ".cdx.json"
    assert local.keys.provenance == local.keys.archive + ".provenance.json"
    assert read(target, local.keys.sbom) == archive.json_bytes(local.sbom)
    assert read(target, local.keys.provenance) == provenance.statement_bytes(local.provenance)
    written = manifest_of(target)
    assert written["schema"] == 2
    entry = written["stacks"]["debian-12"]["amd64"]["python-3.13.15"]
    assert entry == {**ENTRY, "key": local.keys.archive, "sha256": local.sha256, "size": 13}


def test_existing_archive_is_never_overwritten_without_overwrite(tmp_path, target):
    client = s3.client_for(target)
    first = local_build(tmp_path, target, b"first build", "a.tar.zst", cache_key="k1")
    again = local_build(tmp_path, target, b"first build, rebuilt", "b.tar.zst", cache_key="k1")
    other = local_build(tmp_path, target, b"other inputs", "c.tar.zst", cache_key="k2")
    assert publish.publish(client, target, first).status is Status.PUBLISHED
    # The same inputs (a release build need not give the same bytes twice): what is there stands.
    assert publish.publish(client, target, again) == publish.Outcome(Status.ALREADY_THERE, first_url(target, first),
                                                                     first.sha256)
    conflict = publish.publish(client, target, other)
    assert conflict.status is Status.CONFLICT and not conflict.ok and conflict.sha256 == first.sha256
    assert "--overwrite replaces it" in conflict.describe()
    assert read(target, first.keys.archive) == b"first build"
    assert publish.publish(client, target, other, overwrite=True).status is Status.REPLACED
    assert read(target, first.keys.archive) == b"other inputs"
    assert manifest_of(target)["stacks"]["debian-12"]["amd64"]["python-3.13.15"]["sha256"] == other.sha256


def first_url(target, local):
    return target.url(local.keys.archive)


def test_two_concurrent_deploys_of_one_key_make_one_write(tmp_path, target):
    builds = [local_build(tmp_path, target, f"build {i}".encode() * 10000, f"{i}.tar.zst", cache_key=f"k{i}")
              for i in range(2)]

    def deploy(i):
        return publish.publish(s3.client_for(target), target, builds[i])

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(deploy, range(2)))
    assert sorted(o.status.name for o in outcomes) == ["CONFLICT", "PUBLISHED"], outcomes
    winner = builds[[o.status for o in outcomes].index(Status.PUBLISHED)]
    assert read(target, winner.keys.archive) == winner.archive.read_bytes()
    assert manifest_of(target)["stacks"]["debian-12"]["amd64"]["python-3.13.15"]["sha256"] == winner.sha256


def test_eight_concurrent_manifest_updates_all_land(target):
    def update(i):
        manifest.update(s3.client_for(target), target, "debian-12", f"python-3.13.{i}",
                        {"version": f"3.13.{i}", "sha256": str(i)})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(update, range(8)))
    assert sorted(manifest_of(target)["stacks"]["debian-12"]["amd64"]) == sorted(f"python-3.13.{i}" for i in range(8))


def test_an_interrupted_publish_is_completed_from_the_bucket_alone(tmp_path, target):
    """The archive landed, then the run stopped: no sidecars, no manifest entry. A later run that
    has no local build at all (another machine) completes the checksum and manifest from the
    archive's metadata; the record needs the build's own record, which it says plainly."""
    client = s3.client_for(target)
    local = local_build(tmp_path, target)
    with open(local.archive, "rb") as body:
        client.put_object(Bucket=target.bucket, Key=local.keys.archive, Body=body, Metadata=local.metadata())
    elsewhere = publish.Local(keys=local.keys, cache_key=local.cache_key, entry={**ENTRY, "build_seconds": None})
    before = {key: read(target, key) for key in objects(target)}
    with pytest.raises(PairError, match="no record of the published build"):
        publish.settle_existing(client, target, elsewhere)
    # A pair that cannot be completed fails before writing anything, as --plan says it would.
    assert {key: read(target, key) for key in objects(target)} == before
    outcome = publish.settle_existing(client, target, local)
    assert outcome.status is Status.ALREADY_THERE
    assert outcome.repaired == ("checksum file", "record", "SBOM", "provenance", "manifest entry")
    assert "repaired: checksum file, record, SBOM, provenance, manifest entry" in outcome.describe()
    assert outcome.listings == ("index", "uv catalog of debian-12")
    entry = manifest_of(target)["stacks"]["debian-12"]["amd64"]["python-3.13.15"]
    assert entry == {**ENTRY, "key": local.keys.archive, "sha256": local.sha256, "size": 13}
    # Converged: nothing left to repair, and the key's absence means "build".
    assert publish.settle_existing(client, target, elsewhere).repaired == ()
    assert publish.settle_existing(client, target, local_build(tmp_path, target, runtime="python-3.11.2")) is None


def test_an_sbom_or_statement_of_another_archive_is_replaced_from_the_local_copy(tmp_path, target):
    """The bucket's SBOM describes an earlier build, its statement is not JSON: both are made
    to describe the archive the bucket holds, from this machine's copies; without a copy, the
    pair fails naming the file."""
    client = s3.client_for(target)
    local = local_build(tmp_path, target)
    publish.publish(client, target, local)
    client.put_object(Bucket=target.bucket, Key=local.keys.sbom, Body=archive.json_bytes(sbom_of("0" * 64)))
    client.put_object(Bucket=target.bucket, Key=local.keys.provenance, Body=b"{truncated")
    without_sbom = dataclasses.replace(local, sbom=None)
    with pytest.raises(PairError, match=r"\.cdx\.json is missing or describes another archive, and this machine has "
                                        "no SBOM of the published build"):
        publish.settle_existing(client, target, without_sbom)
    outcome = publish.settle_existing(client, target, local)
    assert outcome.repaired == ("SBOM", "provenance")
    assert json.loads(read(target, local.keys.sbom)) == local.sbom
    assert json.loads(read(target, local.keys.provenance)) == local.provenance
    assert publish.settle_existing(client, target, without_sbom).repaired == ()  # converged: no copy needed


def test_a_manifest_that_is_not_json_is_named_and_never_overwritten(tmp_path, target):
    client = s3.client_for(target)
    client.put_object(Bucket=target.bucket, Key="runtimes/manifest.json", Body=b"{not json")
    with pytest.raises(manifest.Invalid) as failure:
        publish.publish(client, target, local_build(tmp_path, target))
    assert "s3://%s/runtimes/manifest.json is not valid JSON" % target.bucket in str(failure.value)
    assert "\n" not in str(failure.value)
    assert read(target, "runtimes/manifest.json") == b"{not json"


@pytest.mark.parametrize("failing", ["manifest.json", ".sha256", ".json", ".cdx.json", ".provenance.json",
                                     "index.html", "python-downloads.json"])
def test_an_s3_error_in_any_step_is_one_line_and_keeps_the_archive(tmp_path, endpoint, failing):
    """S3 refuses one kind of write (403 AccessDenied is not retried): one line naming what failed;
    the rerun, once S3 accepts it again, completes the publish."""
    bucket = "refusing-" + hashlib.sha256(failing.encode()).hexdigest()[:10]
    direct = s3.Target(bucket=bucket, prefix="", endpoint=endpoint)
    s3.ensure_bucket(s3.client_for(direct), bucket)
    proxy = FaultyProxy(endpoint, status=403, code="AccessDenied",
                        fail_if=lambda method, path: method == "PUT" and path.split("?")[0].endswith(failing))
    try:
        through = s3.Target(bucket=bucket, prefix="", endpoint=proxy.endpoint)
        local = local_build(tmp_path, through)
        with pytest.raises(PairError) as failure:
            publish.publish(s3.client_for(through), through, local)
    finally:
        proxy.stop()
    message = str(failure.value)
    assert "\n" not in message and "AccessDenied (HTTP 403)" in message, message
    if failing in ("index.html", "python-downloads.json"):
        # The pair's objects are in place: the line names the listing that could not be written.
        assert message.startswith("S3 failed writing the ") and f"{failing}: AccessDenied" in message, message
    else:
        assert f"the archive is kept at {local.archive}" in message and local.archive.exists()
    outcome = publish.publish(s3.client_for(direct), direct, local)
    # A refused listing is not the pair's: the rerun makes it again, apart from the pair's repairs.
    listing = failing in ("index.html", "python-downloads.json")
    assert outcome.status is Status.ALREADY_THERE and (outcome.listings if listing else outcome.repaired), outcome
    assert set(objects(direct)) == {local.keys.archive, local.keys.sha256, local.keys.record, local.keys.sbom,
                                    local.keys.provenance, "manifest.json", "index.html",
                                    "debian-12/python-downloads.json"}


def test_unreachable_s3_is_one_clear_error(tmp_path):
    target = s3.Target(bucket="nowhere", prefix="", endpoint="http://127.0.0.1:9")
    local = local_build(tmp_path, target)
    with pytest.raises(PairError, match=f"S3 failed .*cannot connect to http://127.0.0.1:9 .*the archive is kept at {local.archive}"):
        publish.publish(s3.client_for(target), target, local)
    assert local.archive.exists()


def test_s3_errors_then_recovery_still_publishes(tmp_path, endpoint):
    """The first 4 requests get 503 SlowDown over the wire; botocore's standard retry mode must
    carry the upload through, and the read-back must still match."""
    bucket = "flaky-bucket"
    s3.ensure_bucket(s3.client_for(s3.Target(bucket=bucket, prefix="", endpoint=endpoint)), bucket)
    proxy = FaultyProxy(endpoint, fail_first=4)
    try:
        target = s3.Target(bucket=bucket, prefix="", endpoint=proxy.endpoint)
        local = local_build(tmp_path, target)
        assert publish.publish(s3.client_for(target), target, local).status is Status.PUBLISHED
        assert proxy.failed == 4
    finally:
        proxy.stop()
    assert read(s3.Target(bucket=bucket, prefix="", endpoint=endpoint), local.keys.archive) == b"archive bytes"


# -- pre-flight (--deploy) ------------------------------------------------------------------------

def deploy_target(bucket, endpoint):
    return s3.Target(bucket=bucket, prefix="rt/", endpoint=endpoint, dry_run=False,
                     credentials={"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"})


def test_preflight_passes_on_a_store_that_honours_conditions_and_leaves_nothing(target):
    said = []
    deploy = deploy_target(target.bucket, target.endpoint)
    preflight.check(deploy, overwrite=False, say=said.append)
    assert said == [f"pre-flight: s3://{target.bucket}/rt/ reachable with these credentials",
                    "pre-flight: the store honours conditional writes (If-None-Match, If-Match)"]
    assert objects(target) == []  # the probe is gone


def test_preflight_refuses_a_missing_bucket(endpoint):
    with pytest.raises(UsageError, match="bucket 'no-such-bucket-here' does not exist"):
        preflight.check(deploy_target("no-such-bucket-here", endpoint), overwrite=False, say=lambda line: None)


def test_preflight_refuses_a_store_that_ignores_conditional_writes(target):
    proxy = FaultyProxy(target.endpoint, drop_headers=("If-None-Match", "If-Match"))
    try:
        deploy = deploy_target(target.bucket, proxy.endpoint)
        with pytest.raises(UsageError, match=r"ignores conditional writes \(If-None-Match, If-Match\).*--overwrite"):
            preflight.check(deploy, overwrite=False, say=lambda line: None)
        said = []
        preflight.check(deploy, overwrite=True, say=said.append)
        assert "WARNING: the store ignores If-None-Match and If-Match" in said[-1]
    finally:
        proxy.stop()
    assert objects(target) == []


def test_an_arm64_build_gets_its_own_entry_beside_the_amd64_one(tmp_path, target):
    """Architecture is part of a pair (issue 14): the arm64 build of a runtime on a stack is
    published at its own key and listed beside the amd64 one, under the same stack (schema 2,
    issue 25), and the amd64 entry is left as it was."""
    from dataclasses import replace

    client = s3.client_for(target)
    amd64 = local_build(tmp_path, target, content=b"x86-64 build", name="amd64.tar.zst")
    assert publish.publish(client, target, amd64).ok
    before = manifest_of(target)
    arm64 = replace(local_build(tmp_path, target, content=b"aarch64 build", name="arm64.tar.zst"),
                    keys=s3.keys_for(target, "debian-12", "arm64", "python-3.13.15"),
                    entry={**ENTRY, "arch": "arm64"})
    assert arm64.keys.archive == target.prefix + "debian-12/arm64/python-3.13.15.tar.zst"
    assert publish.publish(client, target, arm64).ok
    after = manifest_of(target)
    assert set(after) == {"schema", "stacks"} and set(after["stacks"]["debian-12"]) == {"amd64", "arm64"}
    assert after["stacks"]["debian-12"]["amd64"] == before["stacks"]["debian-12"]["amd64"]  # untouched
    entry = after["stacks"]["debian-12"]["arm64"]["python-3.13.15"]
    assert (entry["key"], entry["sha256"], entry["arch"]) == (arm64.keys.archive, arm64.sha256, "arm64")
    assert manifest.entry(after, "debian-12", "python-3.13.15", "arm64") == entry
    assert manifest.entry(after, "debian-12", "python-3.13.15")["sha256"] == amd64.sha256


def schema_1(document):
    """A schema 2 manifest as the harness wrote it before issue 25 (written out here, on its own):
    amd64 entries at stacks.STACK.RUNTIME, every other architecture under architectures.ARCH.stacks,
    no "schema" field."""
    old = {"stacks": {}}
    for stack, arches in document["stacks"].items():
        for arch, runtimes in arches.items():
            stacks = old["stacks"] if arch == "amd64" else old.setdefault("architectures", {}).setdefault(
                arch, {"stacks": {}})["stacks"]
            stacks.setdefault(stack, {}).update(runtimes)
    return old


def test_a_publish_over_a_schema_1_manifest_writes_schema_2_with_every_old_entry_kept(tmp_path, target):
    """A bucket whose manifest an older harness wrote (amd64 on two stacks, arm64, and an entry of
    its pair's own that is wrong): it is read, a publish of another pair writes it back whole as
    schema 2, every entry (the wrong one too: its pair's publish replaces it) where schema 2 lists it."""
    from dataclasses import replace

    client = s3.client_for(target)
    published = []
    for stack, arch, runtime in (("debian-12", "amd64", "python-3.13.15"), ("heroku-24", "amd64", "python-3.13.15"),
                                 ("debian-12", "arm64", "python-3.13.15"), ("debian-12", "amd64", "python-3.11.2")):
        local = replace(local_build(tmp_path, target, content=f"{stack} {arch} {runtime}".encode(),
                                    name=f"{stack}-{arch}-{runtime}.tar.zst", runtime=runtime),
                        keys=s3.keys_for(target, stack, arch, runtime), entry={**ENTRY, "arch": arch})
        assert publish.publish(client, target, local).status is Status.PUBLISHED
        published.append(local)
    new = manifest_of(target)
    new["stacks"]["debian-12"]["amd64"]["python-3.11.2"]["size"] = "46"  # wrong: the pair's own problem
    old = schema_1(new)
    assert set(old) == {"stacks", "architectures"} and "python-3.13.15" in old["stacks"]["heroku-24"]
    key = target.prefix + manifest.NAME
    client.put_object(Bucket=target.bucket, Key=key, Body=json.dumps(old).encode())
    listing = manifest.load(client, target)
    assert listing.schema == 1 and listing.document == new  # read, converted in memory
    assert len(listing.entries) == 3 and list(listing.wrong) == [published[3].keys.archive]
    assert read(target, key) == json.dumps(old).encode()  # reading writes nothing

    # Another pair's publish: the manifest comes back as schema 2, nothing lost.
    arm64 = replace(local_build(tmp_path, target, content=b"heroku-24 arm64", name="h-arm64.tar.zst"),
                    keys=s3.keys_for(target, "heroku-24", "arm64", "python-3.13.15"), entry={**ENTRY, "arch": "arm64"})
    assert publish.publish(client, target, arm64).status is Status.PUBLISHED
    after = manifest_of(target)
    assert after["schema"] == 2 and set(after) == {"schema", "stacks"}
    assert after == {**new, "stacks": {**new["stacks"], "heroku-24": {
        **new["stacks"]["heroku-24"], "arm64": {"python-3.13.15": manifest.entry(after, "heroku-24", "python-3.13.15",
                                                                                  "arm64")}}}}
    assert manifest.entry(after, "heroku-24", "python-3.13.15", "arm64")["sha256"] == arm64.sha256
    for local in published:
        stack, arch, filename = local.keys.archive.split("/")[-3:]
        assert after["stacks"][stack][arch][filename.removesuffix(".tar.zst")] == new["stacks"][stack][arch][
            filename.removesuffix(".tar.zst")]
    # And the wrong entry's own pair, settled again, replaces it.
    assert publish.settle_existing(client, target, published[3]).repaired == ("manifest entry",)
    assert manifest.load(client, target).problems() == []


# -- a repair racing an --overwrite deploy of the same key ------------------------------------------

@pytest.mark.parametrize("lands_before", [".sha256", ".json", "manifest.json"])
def test_a_repair_never_writes_back_the_description_of_an_archive_replaced_meanwhile(tmp_path, target, lands_before):
    """A rerun repairs archive A's checksum file, record and manifest entry; an --overwrite deploy
    of the same key (archive B, from other inputs) lands between the repair's reads and one of its
    writes: a real, whole publish against the same S3, run from a botocore hook just before the
    repair's PutObject of that key goes out. The bucket must end describing B, every file of it,
    and the repair must report what the key holds now."""
    client, other_client = s3.client_for(target), s3.client_for(target)
    ours = local_build(tmp_path, target, b"archive A", "a.tar.zst", cache_key="k1")
    theirs = local_build(tmp_path, target, b"archive B, from other inputs", "b.tar.zst", cache_key="k2")
    assert publish.publish(client, target, ours).status is Status.PUBLISHED
    # An interrupted publish of A: its checksum file, its record and the manifest did not land.
    for key in (ours.keys.sha256, ours.keys.record, target.prefix + manifest.NAME):
        client.delete_object(Bucket=target.bucket, Key=key)
    assert publish.assess(client, target, ours).repairs == ("checksum file", "record", "manifest entry")

    landed = []

    def overwrite_lands_first(params, **_):
        if not landed and params["url_path"].split("?")[0].endswith(lands_before):
            landed.append(publish.publish(other_client, target, theirs, overwrite=True))

    client.meta.events.register("before-call.s3.PutObject", overwrite_lands_first)
    outcome = publish.settle_existing(client, target, ours)

    assert [o.status for o in landed] == [Status.REPLACED]  # the overwrite did land in the middle
    # The repair stopped and decided again about what the key holds now: B, from other inputs.
    assert (outcome.status, outcome.sha256) == (Status.CONFLICT, theirs.sha256)
    assert read(target, ours.keys.archive) == b"archive B, from other inputs"
    assert read(target, ours.keys.sha256).decode() == f"{theirs.sha256}  python-3.13.15.tar.zst\n"
    assert json.loads(read(target, ours.keys.record)) == theirs.record
    assert json.loads(read(target, ours.keys.sbom)) == theirs.sbom
    assert json.loads(read(target, ours.keys.provenance)) == theirs.provenance
    assert manifest_of(target)["stacks"]["debian-12"]["amd64"]["python-3.13.15"]["sha256"] == theirs.sha256
    assert publish.assess(client, target, theirs).decision is publish.Decision.COMPLETE


def test_a_repair_that_loses_a_sidecar_race_to_another_repair_finishes_the_rest(tmp_path, target):
    """Two reruns repairing the same archive at once: the other writes the checksum file between
    this one's read and write. The condition fails, the archive is still the one described, so
    this run reads again and completes what is left, and the bucket is complete."""
    client, other_client = s3.client_for(target), s3.client_for(target)
    ours = local_build(tmp_path, target)
    assert publish.publish(client, target, ours).status is Status.PUBLISHED
    for key in (ours.keys.sha256, ours.keys.sbom):
        client.delete_object(Bucket=target.bucket, Key=key)
    landed = []

    def other_repair_first(params, **_):
        if not landed and params["url_path"].split("?")[0].endswith(".sha256"):
            landed.append(publish.settle_existing(other_client, target, ours))

    client.meta.events.register("before-call.s3.PutObject", other_repair_first)
    outcome = publish.settle_existing(client, target, ours)
    assert [o.repaired for o in landed] == [("checksum file", "SBOM")]
    assert outcome.status is Status.ALREADY_THERE and outcome.repaired == ()  # nothing left that was not there
    assert publish.assess(client, target, ours).decision is publish.Decision.COMPLETE
