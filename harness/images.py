"""A stack's images: base (pulled, or bootstrapped from Debian), then build and run images on top.

Each image we make is tagged by a hash of its inputs and carries that hash as a label, so a change
to a stack's package list (or to its base) makes a new image, and an unchanged stack reuses the one
it has. Workers build images under a file lock: the first builds, the others wait and reuse.

Stacks get security updates (a new libssl), so images do not live forever: older than the
freshness policy's age (7 days by default), or with --refresh-images (once per run), the base is
pulled or bootstrapped again and the build and run images are rebuilt from it without Docker's
layer cache. What the images hold is described by their installed packages and versions (dpkg),
not by image ids: those go into cache keys and records, so a refresh that changes no package
rebuilds nothing, and the log says which packages a refresh changed.

Superseded images are removed (remove_superseded): when a refresh or a changed package list gives
a stack's build, run or cross image a new tag, the images of the same stack, role and architecture
that the harness made before (its labels, its `pyruntimes/` repository) go, with the bases only they
used, unless a container (running or stopped) uses one or a run took one within USE_GRACE (a run
records each image it takes: image-use/ in the cache).

--plan only looks: look_up_stack_images() and look_up_cross_image() find the images a run would
use by the same tags, and say what a run would make or refresh first, without making anything.
"""

import datetime
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import docker.errors
from filelock import FileLock

from . import debian_archive, durations
from .engine import LABEL
from .errors import PairError
from .hashing import inputs_sha256

INPUTS_LABEL = f"{LABEL}.inputs"
RUN_LABEL = f"{LABEL}.made-in-run"  # the run that made an image: --refresh-images refreshes once per run
REPOSITORY = "pyruntimes"
ROLES = ("build", "run")
DEFAULT_MAX_AGE = 7 * 86400
# A superseded image a run took within this time is kept: that run (of this or another checkout
# sharing the engine and the cache) may still start a container from it. Longer than a run.
USE_GRACE = 86400
# Where debootstrap finds the keys that sign Debian's archive (package debian-archive-keyring).
KEYRING = os.environ.get("PYRUNTIMES_DEBIAN_KEYRING", "/usr/share/keyrings/debian-archive-keyring.gpg")


@dataclass(frozen=True)
class Freshness:
    max_age: int = DEFAULT_MAX_AGE  # seconds; older images are refreshed
    refresh: bool = False  # --refresh-images: refresh once in this run, whatever their age
    run_id: str = ""


@dataclass(frozen=True)
class StackImage:
    """A build or run image and what it holds: its installed packages, name -> version, and the
    architecture dpkg inside it says it is for."""
    image: object
    packages: dict
    arch: str = "amd64"

    @property
    def id(self):
        return self.image.id

    @property
    def packages_sha256(self) -> str:
        return hashlib.sha256("".join(f"{n}={v}\n" for n, v in sorted(self.packages.items())).encode()).hexdigest()

    def describe(self) -> dict:
        return {"id": self.id, "architecture": self.arch, "packages_sha256": self.packages_sha256,
                "packages": dict(sorted(self.packages.items()))}


def ensure_stack_images(client, stack, lock_dir: Path, log=print, freshness=Freshness(), arch="amd64"):
    """Return (build image, run image) for the stack and architecture as StackImages, making
    whatever is missing and refreshing what is stale. The architecture is read back from each
    image (its config, and dpkg inside it), never assumed: an image for another one is an error."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    # One lock per stack, whatever the architecture: the amd64 and arm64 bases are pulled by one
    # name, which names whichever was pulled last.
    with FileLock(str(lock_dir / f"images-{stack.name}.lock")):
        current = [_current_layered(client, stack, role, arch) for role in ROLES]
        reason = _refresh_reason(current, freshness)
        if reason:
            log(f"{stack.name}: refreshing the stack's images ({reason})")
        bases = {}  # a base shared by both roles (Debian stacks) is pulled or bootstrapped once
        made = []
        for role in ROLES:
            name = stack.base_for(role)
            if name not in bases:
                bases[name] = ensure_base_image(client, stack, role, log, fresh=bool(reason), arch=arch)
            made.append(_ensure_layered(client, stack, role, bases[name], log, fresh=bool(reason),
                                        run_id=freshness.run_id, arch=arch))
        images = [StackImage(image, packages_of(client, image, lock_dir.parent),
                             architecture_of(client, image, lock_dir.parent)) for image in made]
        for role, image in zip(ROLES, images):
            declared = image.image.attrs.get("Architecture")
            if image.arch != arch or declared != arch:
                raise PairError(f"stack {stack.name}: its {role} image for {arch} is for {image.arch} (dpkg inside "
                                f"it) and says {declared} (its config): remove it and its base "
                                f"({', '.join(image.image.tags) or image.id}; {_base_tag(stack, role, arch)}) "
                                "and run again")
        if reason:
            for role, old, new in zip(ROLES, current, images):
                before = packages_of(client, old, lock_dir.parent) if old is not None else None
                log(f"{stack.name}: {role} image refreshed: {describe_changes(before, new.packages)}")
        for role, image in zip(ROLES, images):
            note_use(lock_dir.parent, image.image)
            remove_superseded(client, stack, role, arch, image.image, lock_dir.parent, log)
    return images[0], images[1]


@dataclass(frozen=True)
class Found:
    """What a run would find of a stack's images for one architecture (look_up_stack_images):
    the images and their packages when all are there, else what it would make first."""
    build: StackImage | None = None
    run: StackImage | None = None
    missing: tuple = ()  # the tags of the images a run would make first (base, build, run)
    refresh: str = ""  # why a run would refresh them first, or ""
    # The images are there, but their packages are neither recorded on disk nor readable without
    # running them under an emulator a run would register first (can_run=False).
    unread: bool = False

    @property
    def complete(self) -> bool:
        return self.build is not None and self.run is not None


def look_up_stack_images(client, stack, cache_dir: Path, freshness=Freshness(), arch="amd64", can_run=True) -> Found:
    """The stack's build and run images for `arch` as ensure_stack_images() would find them, by
    the same tags, never making, refreshing or tagging one (--plan). Their packages (the cache
    key's input) come from the on-disk record of each image, else from dpkg in a container that
    is removed and not recorded; can_run=False (a foreign architecture whose emulator is not
    registered yet) allows only the former."""
    missing = []
    current = []
    for role in ROLES:
        base_tag = _base_tag(stack, role, arch)
        base = _get(client, base_tag)
        if base is None:
            missing += [base_tag, f"{REPOSITORY}/{_name(stack, arch)}-{role}"]
            current.append(None)
            continue
        tag = _tag(stack, role, _layered_inputs(stack, role, base), arch)
        image = _get(client, tag)
        if image is None:
            missing.append(tag)
        current.append(image)
    if missing:
        return Found(missing=tuple(dict.fromkeys(missing)))
    packages = [packages_of(client, image, cache_dir, keep=False, can_run=can_run) for image in current]
    if any(found is None for found in packages):
        return Found(refresh=_refresh_reason(current, freshness), unread=True)
    build, run = (StackImage(image, found, arch) for image, found in zip(current, packages))
    return Found(build=build, run=run, refresh=_refresh_reason(current, freshness))


def _refresh_reason(current, freshness) -> str:
    if any(image is None for image in current):
        return ""  # first made now: nothing to refresh
    if freshness.refresh:
        if all(image.labels.get(RUN_LABEL) == freshness.run_id for image in current):
            return ""  # already refreshed in this run (by another worker, or for another pair)
        return "--refresh-images"
    age = max(_age_seconds(image) for image in current)
    if age > freshness.max_age:
        made = f"{age / 86400:.1f} days" if age >= 86400 else f"{age / 3600:.1f} hours"
        return f"made {made} ago; the limit is {durations.describe(freshness.max_age)}"
    return ""


def _age_seconds(image) -> float:
    created = datetime.datetime.strptime(image.attrs["Created"][:19], "%Y-%m-%dT%H:%M:%S")
    return (datetime.datetime.utcnow() - created).total_seconds()


def packages_of(client, image, cache_dir: Path, keep=True, can_run=True) -> dict | None:
    """The image's installed packages (dpkg), kept on disk by image id: images do not change.
    keep=False (--plan) does not write that record; can_run=False reads only it (None without)."""
    cache = cache_dir / "image-packages" / (image.id.split(":")[-1] + ".json")
    if cache.exists():
        return json.loads(cache.read_text())
    if not can_run:
        return None
    out = client.containers.run(image.id, ["dpkg-query", "-W", "-f", "${binary:Package}=${Version}\\n"],
                                network_mode="none", remove=True, user="0:0")
    packages = dict(line.split("=", 1) for line in out.decode().splitlines() if "=" in line)
    if not keep:
        return packages
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(packages, sort_keys=True))
    partial.replace(cache)
    return packages


def architecture_of(client, image, cache_dir: Path) -> str:
    """What dpkg inside the image says it is for (dpkg --print-architecture), kept by image id."""
    cache = cache_dir / "image-packages" / (image.id.split(":")[-1] + ".arch")
    if cache.exists():
        return cache.read_text().strip()
    out = client.containers.run(image.id, ["dpkg", "--print-architecture"], network_mode="none", remove=True,
                                user="0:0").decode().strip()
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(out + "\n")
    partial.replace(cache)
    return out


def describe_changes(before: dict | None, after: dict) -> str:
    if before is None:
        return f"{len(after)} packages"
    changes = [f"{name} {before.get(name, '(new)')} -> {after.get(name, '(removed)')}"
               for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    if not changes:
        return f"no package changed ({len(after)} packages)"
    shown = ", ".join(changes[:12]) + (f", and {len(changes) - 12} more" if len(changes) > 12 else "")
    return f"{len(changes)} package(s) changed: {shown}"


def _current_layered(client, stack, role, arch="amd64"):
    """The build or run image the stack's tags point at now, or None."""
    base = _get(client, _base_tag(stack, role, arch))
    return _get(client, _tag(stack, role, _layered_inputs(stack, role, base), arch)) if base else None


def _name(stack, arch) -> str:
    """The stack's name in image tags and lock files: amd64 images keep the names they had before
    architectures were part of a pair (so the images already made are still found)."""
    return stack.name if arch == "amd64" else f"{stack.name}-{arch}"


def _base_tag(stack, role, arch="amd64"):
    inputs = {"image": stack.base_for(role), "suite": stack.debian_suite, "variant": "minbase"}
    if arch != "amd64":
        inputs["arch"] = arch
    return f"{REPOSITORY}/{_name(stack, arch)}-base:{inputs_sha256(inputs)[:16]}"


def ensure_base_image(client, stack, role, log, fresh=False, arch="amd64"):
    name = stack.base_for(role)
    tag = _base_tag(stack, role, arch)
    existing = _get(client, tag)
    if existing and not fresh:
        return existing
    try:
        log(f"{stack.name}: pulling {name} ({arch})")
        image = client.images.pull(name, platform=f"linux/{arch}")
    except docker.errors.APIError as exc:
        if not stack.debian_suite:
            raise PairError(
                f"stack {stack.name}: base image {name} cannot be pulled for {arch} "
                f"({exc.explanation or exc}) and the stack names no debian_suite to bootstrap from"
            ) from None
        log(f"{stack.name}: {name} cannot be pulled; bootstrapping {stack.debian_suite} ({arch}) from Debian")
        image = _bootstrap(client, stack, log, arch)
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


def _bootstrap(client, stack, log, arch="amd64"):
    _ensure_debootstrap(stack, log)
    _ensure_keyring(stack, log)
    try:
        mirror = debian_archive.host_mirror()
    except debian_archive.Unavailable as exc:
        raise PairError(f"stack {stack.name}: cannot bootstrap: {exc}") from None
    with tempfile.TemporaryDirectory(prefix=f"pyruntimes-rootfs-{stack.name}-") as tmp:
        rootfs, tarball = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        # The Release file's signature is checked against Debian's archive keyring, and a
        # bootstrap whose signature cannot be checked fails rather than falling back to trust.
        result = subprocess.run(
            # A foreign --arch runs debootstrap's second stage through the emulator
            # (harness/emulation.py registers it before any image of that architecture is made).
            ["debootstrap", "--variant=minbase", f"--arch={arch}", f"--keyring={KEYRING}", "--force-check-gpg",
             stack.debian_suite, str(rootfs), mirror],
            capture_output=True, text=True,
        )
        unsigned = _signature_failure(result.stdout + result.stderr) if result.returncode != 0 else ""
        if unsigned:
            raise PairError(f"stack {stack.name}: the {stack.debian_suite} archive's signature does not verify "
                            f"with {KEYRING} ({unsigned}); "
                            "refusing to bootstrap from it (is the keyring current? apt-get install debian-archive-keyring)")
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise PairError(f"stack {stack.name}: debootstrap {stack.debian_suite} failed: {' | '.join(tail)}")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        log(f"{stack.name}: importing the bootstrapped {stack.debian_suite} into Docker")
        answer = client.api.import_image_from_file(
            str(tarball), repository=f"{REPOSITORY}/{_name(stack, arch)}-bootstrap", tag="latest",
            changes=['CMD ["bash"]', f'LABEL {LABEL}.stack="{stack.name}"'],
        )
    image_id = json.loads(answer.strip().splitlines()[-1])["status"]
    image = _with_architecture(client, client.images.get(image_id), arch)
    image.tag(f"{REPOSITORY}/{_name(stack, arch)}-bootstrap", "latest")  # the relabelled one, not the import
    return client.images.get(image.id)


def _with_architecture(client, image, arch):
    """The image, its config saying `arch`. Docker 20.10's import records the engine's own
    architecture whatever the files are for (its --platform does not change it), and images built
    FROM it inherit that: an arm64 root file system would be labelled amd64. The config is edited
    in a `docker save` of the image and loaded back (a new id: the id is the config's hash)."""
    if image.attrs.get("Architecture") == arch:
        return image
    with tempfile.TemporaryDirectory(prefix="pyruntimes-arch-") as tmp:
        saved, edited = Path(tmp) / "saved.tar", Path(tmp) / "edited.tar"
        with open(saved, "wb") as out:
            for chunk in image.save(named=False):
                out.write(chunk)
        with tarfile.open(saved) as source, tarfile.open(edited, "w") as target:
            manifest = json.loads(source.extractfile("manifest.json").read())
            old_config = manifest[0]["Config"]
            config = json.loads(source.extractfile(old_config).read())
            config["architecture"] = arch
            if arch == "arm64":
                config["variant"] = "v8"
            config_bytes = json.dumps(config, separators=(",", ":")).encode()
            new_config = hashlib.sha256(config_bytes).hexdigest() + ".json"
            manifest[0]["Config"] = new_config
            for member in source:
                if member.name in ("manifest.json", old_config):
                    continue
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
            for name, data in ((new_config, config_bytes), ("manifest.json", json.dumps(manifest).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                target.addfile(info, io.BytesIO(data))
        with open(edited, "rb") as data:
            [loaded] = client.images.load(data.read())
    return loaded


def _ensure_keyring(stack, log):
    if Path(KEYRING).is_file():
        return
    if os.geteuid() == 0 and shutil.which("apt-get") and "PYRUNTIMES_DEBIAN_KEYRING" not in os.environ:
        log(f"{stack.name}: installing debian-archive-keyring, to check the archive's signatures")
        subprocess.run(["apt-get", "install", "-y", "-qq", "debian-archive-keyring"], capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if Path(KEYRING).is_file():
            return
    raise PairError(f"stack {stack.name}: cannot check the Debian archive's signatures: no keyring at {KEYRING} "
                    "(as root: apt-get install debian-archive-keyring)")


def _signature_failure(output: str) -> str:
    """debootstrap's complaint about the Release signature, if that is why it failed."""
    for line in output.splitlines():
        if line.startswith("E: ") and any(word in line for word in ("signed", "signature", "Release file", "keyring")):
            return line[3:].strip()[:160]
    return ""


def _ensure_layered(client, stack, role, base, log, fresh=False, run_id="", arch="amd64"):
    inputs = _layered_inputs(stack, role, base)
    return _layer(client, _Layer(stack, role, base, inputs, _tag(stack, role, inputs, arch), f"the {role} image for {arch}"),
                  log, fresh=fresh, run_id=run_id)


@dataclass(frozen=True)
class _Layer:
    """An image made of another: `base` with inputs["packages"] installed by apt (`before` runs
    first), tagged `tag`, labelled with the stack and its role; `what` names it in progress lines."""
    stack: object
    role: str
    base: object
    inputs: dict
    tag: str
    what: str
    before: str = ""


def _layer(client, layer: _Layer, log, fresh=False, run_id=""):
    """The image layer.tag, made unless it exists (or fresh: made again, apt-get run anew)."""
    stack, role, base, inputs, tag, what, before = (layer.stack, layer.role, layer.base, layer.inputs, layer.tag,
                                                    layer.what, layer.before)
    existing = _get(client, tag)
    if existing and not fresh:
        return existing
    log(f"{stack.name}: building {what} ({len(inputs['packages'])} packages)")
    lines = [f"FROM {base.id}"]
    if inputs["packages"]:
        lines += [
            "USER root",  # some bases (heroku/heroku:NN) default to an unprivileged user
            "ARG DEBIAN_FRONTEND=noninteractive",
            # --no-install-recommends: the image holds what the list names and what that needs, no more.
            "RUN " + (f"{before} && " if before else "")
            + "apt-get update -q && apt-get install -y -q --no-install-recommends "
            + " ".join(inputs["packages"]) + " && rm -rf /var/lib/apt/lists/*",
        ]
    dockerfile = "\n".join(lines)
    try:
        image, _ = client.images.build(
            fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True, forcerm=True, pull=False,
            nocache=fresh,  # a refresh must run apt-get again, even on an unchanged base
            labels={INPUTS_LABEL: inputs_sha256(inputs), f"{LABEL}.stack": stack.name, f"{LABEL}.role": role,
                    RUN_LABEL: run_id},
        )
    except docker.errors.BuildError as exc:
        tail = [line.get("stream", line.get("error", "")).strip() for line in exc.build_log][-4:]
        raise PairError(f"stack {stack.name}: {what} does not build: {' | '.join(t for t in tail if t)}") from None
    return image


def ensure_cross_image(client, stack, machine_build: StackImage, arch: str, lock_dir: Path, log=print) -> StackImage:
    """The machine's own build image (machine_build) plus what cross-compiling for `arch` takes
    (stack.toml [cross]: the cross compiler, the target's -dev packages beside the machine's, as
    dpkg's multiarch installs them). Made from the build image it extends, so a refresh of that
    makes a new one. Checked, not assumed: dpkg inside must list the target's packages as `arch`."""
    packages = stack.cross_packages(arch)
    inputs, tag = _cross_inputs_and_tag(stack, machine_build, arch)
    with FileLock(str(lock_dir / f"images-{stack.name}.lock")):
        image = _layer(client, _Layer(stack, "cross", machine_build.image, inputs, tag,
                                      f"the cross-compiling image for {arch} (on its {machine_build.arch} build image)",
                                      before=f"dpkg --add-architecture {arch}"), log)
        note_use(lock_dir.parent, image)
        remove_superseded(client, stack, "cross", machine_build.arch, image, lock_dir.parent, log)
    made = StackImage(image, packages_of(client, image, lock_dir.parent), architecture_of(client, image, lock_dir.parent))
    missing = [package for package in packages if ":" in package and package not in made.packages]
    if made.arch != machine_build.arch or missing:
        raise PairError(f"stack {stack.name}: its cross-compiling image for {arch} ({tag}) is for {made.arch} and "
                        f"lacks {', '.join(missing) or 'nothing'}: remove it and run again")
    return made


def look_up_cross_image(client, stack, machine_build: StackImage, arch: str, cache_dir: Path) -> StackImage | None:
    """The cross-compiling image ensure_cross_image() would use, by its tag, or None when a run
    would make it first; never made (--plan)."""
    image = _get(client, _cross_inputs_and_tag(stack, machine_build, arch)[1])
    if image is None:
        return None
    return StackImage(image, packages_of(client, image, cache_dir, keep=False), machine_build.arch)


def note_use(cache_dir: Path, image):
    """Record that a run took the image now (remove_superseded keeps what was taken lately)."""
    stamp = cache_dir / "image-use" / image.id.split(":")[-1]
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.touch()


def remove_superseded(client, stack, role, arch, current, cache_dir: Path, log=print, grace=USE_GRACE) -> list:
    """Remove the images `current` supersedes: the harness's own (labelled for this stack and role,
    every tag of it in current's `pyruntimes/` repository, or none), for the same architecture
    (the repository names it; the image's config too), other than current. Kept: one a container
    uses (running or stopped), and one a run took within `grace` seconds, else made within it.
    The bases only the removed ones used go with them (Docker prunes untagged parents).
    Returns the tags (or ids) removed."""
    repository = next((tag.split(":")[0] for tag in current.tags if tag.startswith(REPOSITORY + "/")), None)
    if repository is None:
        return []  # not one of ours: nothing to say what supersedes what
    labels = [f"{LABEL}.stack={stack.name}", f"{LABEL}.role={role}"]
    candidates = [image for image in _listed(client, labels)
                  if image.id != current.id and image.attrs.get("Architecture") == arch
                  and all(tag.split(":")[0] == repository for tag in image.tags)]
    candidates = [image for image in candidates if _last_use(image, cache_dir) < _now() - grace]
    if not candidates:
        return []
    # ignore_removed: on a shared engine another run removes its containers between the listing
    # and the SDK's inspect of each, which otherwise raises NotFound (seen in the fast suite).
    in_use = {container.attrs.get("Image") for container in client.containers.list(all=True, ignore_removed=True)}
    removed = []
    for image in candidates:
        if image.id in in_use:
            continue
        name = ", ".join(image.tags) or image.short_id
        try:
            for reference in image.tags or [image.id]:
                client.images.remove(reference, noprune=False)
        except docker.errors.APIError as exc:  # a container started from it meanwhile: kept
            log(f"{stack.name}: kept the superseded {role} image {name} ({exc.explanation or exc})")
            continue
        (cache_dir / "image-use" / image.id.split(":")[-1]).unlink(missing_ok=True)
        removed.append(name)
    if removed:
        log(f"{stack.name}: removed {len(removed)} superseded {role} image(s) for {arch}: {'; '.join(removed)}")
    return removed


def _listed(client, labels) -> list:
    """The images carrying every label, inspected; one removed meanwhile (another run) is left out."""
    found = []
    for summary in client.api.images(filters={"label": labels}):
        try:
            found.append(client.images.get(summary["Id"]))
        except docker.errors.NotFound:
            pass
    return found


def _last_use(image, cache_dir: Path) -> float:
    """When a run last took the image (its stamp), else when it was made: seconds since the epoch."""
    stamp = cache_dir / "image-use" / image.id.split(":")[-1]
    if stamp.exists():
        return stamp.stat().st_mtime
    created = datetime.datetime.strptime(image.attrs["Created"][:19], "%Y-%m-%dT%H:%M:%S")
    return created.replace(tzinfo=datetime.timezone.utc).timestamp()


def _now() -> float:
    return datetime.datetime.now(datetime.timezone.utc).timestamp()


def _cross_inputs_and_tag(stack, machine_build: StackImage, arch: str) -> tuple:
    inputs = {"base_id": machine_build.id, "role": "cross", "target": arch, "packages": stack.cross_packages(arch)}
    return inputs, f"{REPOSITORY}/{stack.name}-cross-{arch}:{inputs_sha256(inputs)[:16]}"


def _layered_inputs(stack, role, base) -> dict:
    """What the build or run image is made from: the stack's inputs for the role, on this base."""
    return {**stack.image_inputs(role), "base_id": base.id}


def _tag(stack, role, inputs, arch="amd64"):
    return f"{REPOSITORY}/{_name(stack, arch)}-{role}:{inputs_sha256(inputs)[:16]}"


def _get(client, tag):
    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
