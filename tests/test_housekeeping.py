"""Housekeeping: the end-of-run table fits a terminal, and the stack images a refresh superseded
do not stay in Docker's storage for ever (while another's images, and those still in use, stay)."""

import io
import os
import time
import uuid

import docker
import docker.errors
import pytest

from harness import engine, images
from harness.commands import prune
from harness.stacks import load_stack
from tests.helpers import NATIVE, run_harness

FOREIGN = "arm64" if NATIVE == "amd64" else "amd64"
TABLE_WIDTH = 120


def test_the_table_has_a_word_per_cell_and_says_each_skip_reason_once_under_it(tmp_path):
    """A foreign pair's row says `skipped`; why, once, under the table, with the pairs it skipped."""
    result = run_harness("test_runtimes.py", "--runtimes", "python-3.13.15", "--stacks", "debian-12,debian-13",
                         "--plan", "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    ours = result.stdout.split("= runtimes =", 1)[1].split("short test summary info", 1)[0]
    lines = ours.splitlines()[1:-1]
    suffix = "" if FOREIGN == "amd64" else f"-{FOREIGN}"  # selection.pair_id: amd64 pairs are not suffixed
    foreign = [f"python-3.13.15-{stack}{suffix}" for stack in ("debian-12", "debian-13")]
    table = [line for line in lines if line.startswith(("pair ", "python-"))]
    assert len(table) == 5, ours  # the header, two native pairs, two foreign ones
    for line in lines:
        assert len(line) <= TABLE_WIDTH, f"{len(line)} characters: {line}"
    for pair in foreign:
        row = next(line.split() for line in table if line.startswith(pair + " "))
        assert row[1:] == ["skipped", "-", "-", "-", "-", "-"], row
    reason = f"{FOREIGN} is foreign to this {NATIVE} machine; --arch {FOREIGN} cross-compiles it"
    said = [index for index, line in enumerate(lines) if reason in line]
    assert len(said) == 1, ours  # both pairs' reason, once
    assert lines[said[0]].startswith("  skipped: ") and "about 40 min here" in lines[said[0]], ours
    assert lines[said[0] + 1].split(", ") == ["    " + foreign[0], foreign[1]], ours
    assert "hours for a release build" not in result.stdout


@pytest.fixture
def client():
    try:
        return engine.connect()
    except Exception as exc:  # noqa: BLE001 - the engine's absence, said as the skip reason
        pytest.skip(str(exc))


def _tiny(client, base_id, tag=None, labels=None):
    """An image of no new layer: `base_id` plus labels (a second or so)."""
    dockerfile = f"FROM {base_id}\n".encode()
    image, _ = client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, labels=labels or {}, rm=True, pull=False)
    return image


def _exists(client, image_id):
    try:
        client.images.get(image_id)
        return True
    except docker.errors.ImageNotFound:
        return False


@pytest.mark.engine
def test_a_refresh_removes_the_images_it_superseded_and_only_those(client, tmp_path):
    """A throwaway stack (no packages: its images are its base plus labels) on a tiny base of our
    own, refreshed as a run refreshes one: its base tag moves to a new image, so the next run
    makes build and run images under new tags. The superseded ones go when a run takes the new
    ones, except one a container uses and one a run took within the grace; never an image the
    harness did not label, nor another stack's; `make prune` (harness/commands/prune.py) removes the rest."""
    found = [tag for image in client.images.list(name=f"{images.REPOSITORY}/*")
             for tag in image.tags if "-base:" in tag and image.attrs.get("Architecture") == NATIVE]
    if not found:
        pytest.skip("no pyruntimes/*-base image on this engine to start from: run `make build` once")
    name = f"hk-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "stacks" / name
    folder.mkdir(parents=True)
    (folder / "stack.toml").write_text(
        f'description = "housekeeping test"\narchitectures = ["{NATIVE}"]\n'
        f'[base]\nimage = "pyruntimes-test/{name}:base"\ndebian_suite = "bookworm"\n'
        '[build]\npackages = []\n[run]\npackages = []\n'
        '[policy]\nlibraries = ["libc.so.6"]\nglibc = "2.36"\n')
    stack = load_stack(folder)
    cache, logs = tmp_path / "cache", []
    base_tag = images._base_tag(stack, "build", NATIVE)
    container = None
    try:
        def refresh_base(generation):
            """What a refresh does to the base: its tag moves to a newly made image."""
            _tiny(client, found[0], tag=base_tag, labels={"test.housekeeping": f"{name}-{generation}"})

        def take():
            return images.ensure_stack_images(client, stack, cache / "locks", log=logs.append, arch=NATIVE)

        refresh_base(1)
        old_build, old_run = take()
        # Not the harness's: in its repository but without its labels; and another stack's image.
        repository = f"{images.REPOSITORY}/{name}-build"
        foreign = _tiny(client, found[0], tag=f"{repository}:0000000000000000")
        other = _tiny(client, found[0], tag=f"{images.REPOSITORY}/{name}-other-build:0000000000000000",
                      labels={f"{engine.LABEL}.stack": f"{name}-other", f"{engine.LABEL}.role": "build"})
        # A stopped container of the old run image; both old images last taken two days ago.
        container = client.containers.create(old_run.id, ["true"])
        for image in (old_build, old_run):
            stamp = cache / "image-use" / image.id.split(":")[-1]
            os.utime(stamp, (time.time() - 2 * 86400,) * 2)

        refresh_base(2)
        new_build, new_run = take()
        assert new_build.image.tags != old_build.image.tags, "the refresh did not give a new tag"
        assert not _exists(client, old_build.id), logs
        assert f"{name}: removed 1 superseded build image(s) for {NATIVE}: {old_build.image.tags[0]}" in logs, logs
        assert _exists(client, old_run.id), "an image a container uses was removed"
        for kept in (new_build, new_run, foreign, other):
            assert _exists(client, kept.id), logs

        # Superseded again, at once: the images just taken are within the grace, and stay.
        refresh_base(3)
        newest_build, newest_run = take()
        assert _exists(client, new_build.id) and _exists(client, new_run.id), logs

        # make prune, with no grace and the container gone: every superseded image goes, no other.
        container.remove()
        container = None
        removed = prune.prune(client, {stack.name: stack}, cache, log=logs.append, grace=0)
        assert sorted(removed) == sorted([*old_run.image.tags, *new_build.image.tags, *new_run.image.tags]), logs
        for gone in (old_run, new_build, new_run):
            assert not _exists(client, gone.id)
        for kept in (newest_build, newest_run, foreign, other):
            assert _exists(client, kept.id), logs
    finally:
        if container is not None:
            container.remove(force=True)
        for image in client.images.list():
            for tag in image.tags:
                if name in tag:
                    client.images.remove(tag, force=True)
        for image in client.images.list(filters={"label": "test.housekeeping"}):
            if image.labels.get("test.housekeeping", "").startswith(name):
                try:
                    client.images.remove(image.id, force=True)
                except docker.errors.APIError:
                    pass
