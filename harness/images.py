"""A stack's images: base (pulled, or bootstrapped from Debian), then build and run images on top.

Each image we make is tagged by a hash of its inputs and carries that hash as a label, so a change
to a stack's package list (or to its base) makes a new image, and an unchanged stack reuses the one
it has. Workers build images under a file lock: the first builds, the others wait and reuse.
"""

import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker.errors
from filelock import FileLock

from . import debian_archive
from .engine import LABEL
from .errors import PairError
from .hashing import inputs_sha256

INPUTS_LABEL = f"{LABEL}.inputs"
REPOSITORY = "pyruntimes"


def ensure_stack_images(client, stack, lock_dir: Path, log=print):
    """Return (build image, run image) for the stack, making whatever is missing."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / f"images-{stack.name}.lock")):
        build = _ensure_layered(client, stack, "build", ensure_base_image(client, stack, "build", log), log)
        run = _ensure_layered(client, stack, "run", ensure_base_image(client, stack, "run", log), log)
    return build, run


def ensure_base_image(client, stack, role, log):
    name = stack.base_for(role)
    inputs = {"image": name, "suite": stack.debian_suite, "variant": "minbase"}
    tag = f"{REPOSITORY}/{stack.name}-base:{inputs_sha256(inputs)[:16]}"
    existing = _get(client, tag)
    if existing:
        return existing
    try:
        log(f"{stack.name}: pulling {name}")
        image = client.images.pull(name)
    except docker.errors.APIError as exc:
        if not stack.debian_suite:
            raise PairError(
                f"stack {stack.name}: base image {name} cannot be pulled "
                f"({exc.explanation or exc}) and the stack names no debian_suite to bootstrap from"
            ) from None
        log(f"{stack.name}: {name} cannot be pulled; bootstrapping {stack.debian_suite} from Debian")
        image = _bootstrap(client, stack, log)
    image.tag(*tag.split(":"))
    return client.images.get(tag)


def _ensure_debootstrap(stack, log):
    """debootstrap is Debian's own tool and small; like the engine (scripts/ensure-docker.sh), we
    install it only when it is needed and missing, and only as root on a Debian-like host."""
    if shutil.which("debootstrap"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"{stack.name}: installing debootstrap (apt-get install debootstrap)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], capture_output=True, text=True, env=env)
        if result.returncode != 0:  # a stale package index: refresh it once
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
            result = subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], capture_output=True, text=True, env=env)
        if result.returncode == 0 and shutil.which("debootstrap"):
            return
    raise PairError(
        f"stack {stack.name}: its base image cannot be pulled, and bootstrapping it needs debootstrap, "
        f"which is missing (as root: apt-get install debootstrap)"
    )


def _bootstrap(client, stack, log):
    _ensure_debootstrap(stack, log)
    try:
        mirror = debian_archive.host_mirror()
    except debian_archive.Unavailable as exc:
        raise PairError(f"stack {stack.name}: cannot bootstrap: {exc}") from None
    with tempfile.TemporaryDirectory(prefix=f"pyruntimes-rootfs-{stack.name}-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", stack.debian_suite, str(rootfs), mirror],
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise PairError(f"stack {stack.name}: debootstrap {stack.debian_suite} failed: {' | '.join(tail)}")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        log(f"{stack.name}: importing the bootstrapped {stack.debian_suite} into Docker")
        answer = client.api.import_image_from_file(
            str(tarball), repository=f"{REPOSITORY}/{stack.name}-bootstrap", tag="latest",
            changes=['CMD ["bash"]', f'LABEL {LABEL}.stack="{stack.name}"'],
        )
    image_id = json.loads(answer.strip().splitlines()[-1])["status"]
    return client.images.get(image_id)


def _ensure_layered(client, stack, role, base, log):
    inputs = {**stack.image_inputs(role), "base_id": base.id}
    tag = _tag(stack, role, inputs)
    existing = _get(client, tag)
    if existing:
        return existing
    log(f"{stack.name}: building the {role} image ({len(inputs['packages'])} packages)")
    lines = [f"FROM {base.id}"]
    if inputs["packages"]:
        lines += [
            "USER root",  # some bases (heroku/heroku:NN) default to an unprivileged user
            "ARG DEBIAN_FRONTEND=noninteractive",
            # --no-install-recommends: the image holds what the list names and what that needs, no more.
            "RUN apt-get update -q && apt-get install -y -q --no-install-recommends "
            + " ".join(inputs["packages"]) + " && rm -rf /var/lib/apt/lists/*",
        ]
    dockerfile = "\n".join(lines)
    try:
        image, _ = client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True, pull=False,
            labels={INPUTS_LABEL: inputs_sha256(inputs), f"{LABEL}.stack": stack.name, f"{LABEL}.role": role},
        )
    except docker.errors.BuildError as exc:
        tail = [line.get("stream", line.get("error", "")).strip() for line in exc.build_log][-4:]
        raise PairError(f"stack {stack.name}: the {role} image does not build: {' | '.join(t for t in tail if t)}") from None
    return image


def _tag(stack, role, inputs):
    return f"{REPOSITORY}/{stack.name}-{role}:{inputs_sha256(inputs)[:16]}"


def _get(client, tag):
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
