"""--plan is the run: for each state a pair's key can be in at the bucket, `--plan --deploy` says
what the run then does, because both take the same decision (publish.assess, which
settle_existing carries out); and a plan changes nothing on the machine (no image made or
refreshed, no record written, no emulator installed).

Real parts only: the harness run as a user runs it (a pytest subprocess), a moto server over HTTP
standing in for the bucket, the Docker engine. debian-11: its images are made on this machine and
python-3.9.2's source is in the cache, so the one state that builds starts a real release build,
stopped by --build-timeout after 3 seconds."""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import archive, emulation, engine, images, layout, stacks
from harness.bucket import manifest, publish, s3
from harness.case import Planned
from harness.formulas import load_formula
from tests.helpers import copy_project, run_harness, table_row
from tests.test_publish import provenance_of, sbom_of

pytestmark = [pytest.mark.engine]

STACK = "debian-11"
# Each runtime's key is put in one state before the plan and the run (one bucket, one run for all).
STATES = {
    "python-3.9.2": "absent",  # the one whose source is cached: the run starts building it
    "python-3.9.1": "ours by bytes",
    "python-3.9.25": "ours by cache key",
    "python-3.10.22": "from other inputs",
    "python-3.11.2": "ours, with a checksum file, an SBOM and a manifest entry missing",
    "python-3.12.15": "ours, its provenance describing another archive and none on this machine",
}
# What the run must do in each state, so that a plan and a run agreeing on a wrong answer fail too.
EXPECTED = {"absent": Planned.BUILD, "ours by bytes": Planned.SKIP, "ours by cache key": Planned.SKIP,
            "from other inputs": Planned.FAIL,
            "ours, with a checksum file, an SBOM and a manifest entry missing": Planned.REPAIR,
            "ours, its provenance describing another archive and none on this machine": Planned.FAIL}
REPAIRS = "checksum file, SBOM, manifest entry"
DEPLOY_ENV = {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1", "AWS_PROFILE": None,
              "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def stack_images():
    """debian-11's build and run images, looked up (never made here: another engineer's run or
    `make buildenv` makes them)."""
    stack = stacks.load_stacks(layout.STACKS)[STACK]
    found = images.look_up_stack_images(engine.connect(), stack, layout.cache_dir())
    if not found.complete:
        pytest.skip(f"the {STACK} images are not made on this machine ({', '.join(found.missing)}): "
                    f"make buildenv STACKS={STACK}")
    return found


@pytest.fixture
def moto(s3):
    """tests/conftest.py's S3 of the test's own (its fixture's name is this module's harness.bucket.s3)."""
    return s3


def pair(runtime):
    return f"{runtime}-{STACK}"


def junit_properties(path: Path) -> dict:
    """{pair: {property: value, plus "failure": the failure's message}} from a run's JUnit XML."""
    found = {}
    for case in ET.parse(path).iter("testcase"):
        props = {prop.get("name"): prop.get("value") for prop in case.iter("property")}
        failure = case.find("failure")
        props["failure"] = failure.get("message", "").removeprefix("Failed: ") if failure is not None else ""
        if "pair" in props:
            found[props["pair"]] = props
    return found


def what_the_run_did(props: dict, stderr: str, name: str) -> Planned:
    """The run's outcome for a pair, in the plan's terms: from its properties (publish_status,
    repaired) and its progress lines."""
    status = props.get("publish_status")
    if status == publish.Status.ALREADY_THERE.name:
        return Planned.REPAIR if props.get("repaired") else Planned.SKIP
    if status == publish.Status.CONFLICT.name or (props["failure"] and f"{name}: building" not in stderr):
        return Planned.FAIL
    if f"{name}: reusing" in stderr:
        return Planned.REUSE
    assert f"{name}: building (release profile" in stderr, stderr[-3000:]
    return Planned.BUILD


def bucket_state(client, bucket) -> dict:
    """Every object and its ETag."""
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in listing}


def pair_objects(state: dict, runtime: str) -> dict:
    return {key: etag for key, etag in state.items() if f"/{STACK}/amd64/{runtime}.tar.zst" in key}


class Bucket:
    """Puts a pair's key in one of STATES, in-process, with the harness's own publish."""

    def __init__(self, target, out: Path, scratch: Path):
        self.target, self.client, self.out, self.scratch = target, s3.client_for(target), out, scratch

    def local(self, runtime, key, content: bytes, beside_archive=True) -> publish.Local:
        """An archive of this pair as the harness leaves it in out/archives (with its checksum,
        record, SBOM and provenance beside it), or elsewhere (another machine's build)."""
        folder = self.out / "archives" / STACK / "amd64" if beside_archive else self.scratch / uuid.uuid4().hex
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{runtime}-release-{key[:16]}.tar.zst"
        path.write_bytes(content)
        sha = hashlib.sha256(content).hexdigest()
        record = {"runtime": runtime, "stack": STACK, "arch": "amd64", "archive_sha256": sha, "cache_key": key}
        archive.write_sidecars(path, sha, record)
        archive.write_json(archive.beside(path, archive.SBOM_SUFFIX), sbom_of(sha))
        archive.write_json(archive.beside(path, archive.PROVENANCE_SUFFIX), provenance_of(sha))
        # As the harness's own: what the formula says, and nothing of a build (this record has none).
        formula = load_formula(layout.RUNTIMES / f"{runtime}.toml")
        entry = {"version": formula.version, "arch": "amd64", "formula_sha256": formula.file_hash,
                 "build_seconds": None, "build_date": None, "checks_passed": None, "checks_total": None,
                 "end_of_life": formula.end_of_life.isoformat() if formula.end_of_life else None, "variant": None}
        return publish.Local(keys=s3.keys_for(self.target, STACK, "amd64", runtime), cache_key=key, entry=entry,
                             record=record, archive=path, sha256=sha, sbom=sbom_of(sha), provenance=provenance_of(sha))

    def publish(self, local):
        assert publish.publish(self.client, self.target, local).status is publish.Status.PUBLISHED

    def put_in_state(self, runtime, key, state):
        if state == "absent":
            return
        ours = self.local(runtime, key, f"{runtime} as this machine built it".encode())
        if state == "ours by bytes":  # and not by cache key: the archive's metadata names another
            self.publish(dataclasses.replace(ours, cache_key="0" * 64))
        elif state == "ours by cache key":  # other bytes (a release build need not repeat them), same inputs
            self.publish(self.local(runtime, key, f"{runtime} built elsewhere".encode(), beside_archive=False))
        elif state == "from other inputs":
            self.publish(self.local(runtime, "f" * 64, f"{runtime} from other inputs".encode(), beside_archive=False))
        elif state == "ours, with a checksum file, an SBOM and a manifest entry missing":
            self.publish(ours)
            for name in (ours.keys.sha256, ours.keys.sbom):
                self.client.delete_object(Bucket=self.target.bucket, Key=name)
            document, condition = manifest.read(self.client, self.target)
            del manifest.runtimes_of(document, STACK, "amd64")[runtime]
            self.client.put_object(Bucket=self.target.bucket, Key=manifest.key_for(self.target),
                                   Body=json.dumps(document).encode(), **condition)
        elif state == "ours, its provenance describing another archive and none on this machine":
            self.publish(ours)
            self.client.put_object(Bucket=self.target.bucket, Key=ours.keys.provenance,
                                   Body=archive.json_bytes(provenance_of("0" * 64)))
            archive.beside(ours.archive, archive.PROVENANCE_SUFFIX).unlink()
        else:
            raise AssertionError(state)


def test_the_plan_says_what_the_run_then_does_for_each_state_of_the_key(stack_images, moto, tmp_path):
    endpoint, client = moto
    bucket = "plan-" + uuid.uuid4().hex[:12]
    client.create_bucket(Bucket=bucket)
    out = tmp_path / "out"
    args = ["test_runtimes.py", "--runtimes", ",".join(STATES), "--stacks", STACK, "--deploy", "--s3-bucket", bucket,
            "--s3-prefix", "rt", "--out-dir", str(out), "--image-max-age", "365d"]
    env = {**DEPLOY_ENV, "AWS_ENDPOINT_URL_S3": endpoint}

    # Every key free: the plan says each pair would be built, with the cache key its images give.
    first = run_harness(*args, "--plan", f"--junitxml={tmp_path / 'first.xml'}", env=env, timeout=600)
    assert first.returncode == 0, (first.stdout + first.stderr)[-3000:]
    assert first.stdout.startswith(f"pre-flight: s3://{bucket}/rt/ reachable with these credentials\n"
                                   "pre-flight: the store honours conditional writes"), first.stdout[:500]
    learned = junit_properties(tmp_path / "first.xml")
    assert {props["plan"] for props in learned.values()} == {Planned.BUILD.value}, learned

    target = s3.Target(bucket=bucket, prefix="rt/", endpoint=endpoint)
    states = Bucket(target, out, tmp_path / "elsewhere")
    for runtime, state in STATES.items():
        states.put_in_state(runtime, learned[pair(runtime)]["cache_key"], state)
    before = bucket_state(client, bucket)

    plan = run_harness(*args, "--plan", f"--junitxml={tmp_path / 'plan.xml'}", env=env, timeout=600)
    assert plan.returncode == 0, (plan.stdout + plan.stderr)[-3000:]
    assert bucket_state(client, bucket) == before  # a plan writes nothing (the pre-flight's probe is gone)
    planned = junit_properties(tmp_path / "plan.xml")

    # A few seconds of a real release build, where the plan says the run builds.
    run = run_harness(*args, "--build-timeout", "3s", f"--junitxml={tmp_path / 'run.xml'}", env=env, timeout=900)
    assert run.returncode == 1, (run.stdout + run.stderr)[-3000:]  # the stopped build and the refusals fail
    ran = junit_properties(tmp_path / "run.xml")
    after = bucket_state(client, bucket)

    for runtime, state in STATES.items():
        said, did = planned[pair(runtime)], ran[pair(runtime)]
        decision = Planned(said["plan"])
        assert decision is EXPECTED[state], (state, said)
        assert what_the_run_did(did, run.stderr, pair(runtime)) is decision, (state, said, did)
        assert table_row(plan.stdout, pair(runtime))[1:3] == ["would", decision.value], (state, plan.stdout[-3000:])
        assert said["cache_key"] == learned[pair(runtime)]["cache_key"]
        if decision is Planned.REPAIR:
            assert said["repairs"] == did["repaired"] == REPAIRS, (said, did)
            assert pair_objects(after, runtime) != pair_objects(before, runtime)
        else:
            assert pair_objects(after, runtime) == pair_objects(before, runtime), state  # left alone
        if decision is Planned.FAIL:
            # The plan's line names why, as the run's failure does.
            reason = did["failure"].split(" is ", 1)[-1] if did.get("publish_status") else did["failure"]
            assert reason.strip() and reason.strip() in said["plan_line"], (said["plan_line"], did["failure"])
    assert "build stopped in phase" in ran[pair("python-3.9.2")]["failure"]
    repaired = states.local("python-3.11.2", learned[pair("python-3.11.2")]["cache_key"],
                            b"python-3.11.2 as this machine built it")
    assert publish.assess(client, target, repaired).decision is publish.Decision.COMPLETE


def _our_images(stack_names) -> set:
    """(repository:tag, id) of the images of these stacks (other engineers make other stacks' meanwhile)."""
    lines = subprocess.run(["docker", "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    return {line for line in lines if any(line.startswith(f"{images.REPOSITORY}/{name}-") for name in stack_names)}


def test_a_plan_makes_and_refreshes_no_image_and_says_what_a_run_would(stack_images, tmp_path):
    """A stack with no images (a copy of debian-11 under a name no image has) and debian-11's
    images past --image-max-age: a run would make the one's and refresh the other's; the plan
    says so in each line, and the image list and the cache of image packages stay as they were."""
    project = copy_project(tmp_path / "project")
    shutil.copytree(project / "stacks" / STACK, project / "stacks" / "plan-probe")
    cache = tmp_path / "cache"  # empty: the packages a plan reads are not recorded
    cache.mkdir()
    before = _our_images(["plan-probe", STACK])
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.9.2", "--stacks", f"plan-probe,{STACK}",
                         "--plan", "--image-max-age", "1s", cwd=project, env={"PYRUNTIMES_CACHE": str(cache)},
                         timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert _our_images(["plan-probe", STACK]) == before
    assert not any(line.startswith(f"{images.REPOSITORY}/plan-probe-") for line in before)
    assert list(cache.rglob("*")) == []

    assert table_row(result.stdout, "python-3.9.2-plan-probe")[1:4] == ["would", "set", "up"]
    [probe] = [line for line in result.stderr.splitlines() if "python-3.9.2-plan-probe: " in line]
    assert f"would make the plan-probe images ({images.REPOSITORY}/plan-probe-base:" in probe, probe
    [refresh] = [line for line in result.stderr.splitlines() if f"python-3.9.2-{STACK}: " in line]
    assert f"would refresh the {STACK} images (made " in refresh and "the limit is 1s" in refresh, refresh
    # The key the plan gives is that of the images as they are, as a run's would be if no package changes.
    assert table_row(result.stdout, f"python-3.9.2-{STACK}")[1:3] == ["would", "build"]


def test_a_plan_for_a_foreign_architecture_installs_and_registers_no_emulator(tmp_path):
    """With --arch naming a foreign architecture, a run installs QEMU and registers it with
    binfmt_misc; a plan says it would, and does neither."""
    foreign = "arm64" if emulation.host_arch() == "amd64" else "amd64"
    entry = emulation.BINFMT / f"qemu-{emulation.MACHINES[foreign]}"
    if not emulation.check(foreign):
        pytest.skip(f"QEMU for {foreign} is registered on this machine already ({entry}): "
                    "nothing is left that a plan could wrongly do")
    installed = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "qemu-user-static"], capture_output=True,
                               text=True).stdout
    registrations = sorted(os.listdir(emulation.BINFMT)) if emulation.BINFMT.is_dir() else None
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.13.15", "--stacks", "debian-12", "--arch", foreign,
                         "--plan", "--out-dir", str(tmp_path / "out"), timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "register QEMU with binfmt_misc" in result.stderr and "first" in result.stderr, result.stderr[-2000:]
    assert subprocess.run(["dpkg-query", "-W", "-f", "${Status}", "qemu-user-static"], capture_output=True,
                          text=True).stdout == installed
    assert (sorted(os.listdir(emulation.BINFMT)) if emulation.BINFMT.is_dir() else None) == registrations
    assert not entry.exists()
