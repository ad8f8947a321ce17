"""One runtime x stack pair going through the pipeline; test_runtimes.py calls its steps in order.

fetch_source -> build_and_package (or reuse) -> verify -> publish

--plan runs none of it: plan() looks up the images by their tags, takes the cache key from them and
asks publish.assess() (the decision already_published() carries out) what the bucket's key needs,
and says what the run would do, as a Planned.

Each step reports progress, records what the summary table needs (via record_property, which
xdist carries back to the controller) and raises PairError with one line when it cannot go on.
The cache keys and the reuse test are harness/cache_policy.py; the archive's record is built by
harness/record.py.
"""

from __future__ import annotations

import datetime
import enum
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from . import archive as archive_mod
from . import build, cache_policy, emulation, engine, images, provenance, sbom, selection, sources
from . import record as record_mod
from .bucket import manifest, publish, s3
from .checks import verify
from .checks.check import Check
from .containers import ContainerRun
from .errors import PairError
from .hashing import file_sha256


class Planned(enum.Enum):
    """What a run does for a pair, as --plan says it (the summary table's "would ...")."""
    BUILD = "build"  # the key is free (or --overwrite): build, verify, publish
    REUSE = "reuse"  # the same, with the archive out/archives has for this cache key
    SKIP = "skip"  # already published and complete (publish.Decision.COMPLETE): nothing to do
    REPAIR = "repair"  # already published: complete what an interrupted publish left undone
    # Refused before any build, the bucket left alone: published from other inputs, incomplete
    # beyond this machine's repair, or a manifest that is not JSON.
    FAIL = "fail"
    # The cache key comes from images (or needs an emulator) a run would make first: what it
    # does after that cannot be known before.
    SET_UP = "set up first"


# What already_published() does, by what publish.assess() decides about the key.
PLANNED = {publish.Decision.COMPLETE: Planned.SKIP, publish.Decision.REPAIR: Planned.REPAIR,
           publish.Decision.CONFLICT: Planned.FAIL, publish.Decision.UNREPAIRABLE: Planned.FAIL}


@dataclass(frozen=True)
class Plan:
    planned: Planned
    line: str  # the plan's line: what the run does, and why
    cache_key: str | None = None  # None: it comes from images the run makes first
    repairs: tuple = ()  # REPAIR: what the run completes, as its "repaired: ..." names it


@dataclass
class RunContext:
    """What every pair of one run shares (built by conftest from the options)."""
    root: Path
    out_dir: Path
    cache_dir: Path
    profile: str
    rebuild: bool
    reverify: bool
    plan_only: bool
    mirrors: tuple
    jobserver: str | None  # the run's shared make jobserver (a FIFO), or None: see harness/jobserver.py
    run_id: str
    docker: object
    target: s3.Target
    overwrite: bool
    progress: object
    build_timeout: int = build.DEFAULT_TIMEOUT  # seconds (--build-timeout)
    freshness: images.Freshness = images.Freshness()  # when stack images are refreshed
    # --profile-data: a published profile (.profile.tar.zst) that release builds use instead of
    # training: how a rebuild makes the same bytes (harness/commands/rebuild.py)
    profile_data: Path | None = None


@dataclass
class Case:
    formula: object
    stack: object
    ctx: RunContext
    record_property: object
    arch: str = "amd64"
    build_image: object = None  # the stack's build image for the pair's architecture (verification compiles there)
    run_image: object = None
    # Where the build runs: build_image, or for a cross build the machine's build image with the
    # cross compiler (stack.toml [cross]).
    compile_image: object = None
    method: build.Method = build.Method.NATIVE
    source: Path | None = None  # the checked source tarball, once fetched
    record: dict = field(default_factory=dict)

    @property
    def pair(self):
        return selection.pair_id(self.formula, self.stack, self.arch)

    @property
    def container_run(self) -> ContainerRun:
        """Who runs this pair's containers: the engine, this run and pair, the run's jobserver."""
        return ContainerRun(self.ctx.docker, self.ctx.run_id, self.pair, self.ctx.jobserver)

    @property
    def log_path(self) -> Path:
        return self.ctx.out_dir / "logs" / f"{self.pair}.log"

    def say(self, message):
        self.ctx.progress(self.pair, message)

    def note(self, name, value):
        self.record_property(name, value)

    def end_of_life(self) -> str:
        """One line when the runtime or the stack has reached its end of life (it is still built:
        platforms still run apps on them, and a stack's security fix may need a rebuild)."""
        today = datetime.date.today()
        ended = [f"{what} reached end of life on {date.isoformat()}"
                 for what, date in ((f"Python {self.formula.minor}", self.formula.end_of_life),
                                    (f"stack {self.stack.name}", self.stack.end_of_life))
                 if date is not None and date <= today]
        return "; ".join(ended) + (" (built all the same)" if ended else "")

    def note_end_of_life(self):
        line = self.end_of_life()
        if line:
            self.note("end_of_life", line)

    # -- 1. fetch --------------------------------------------------------------------------------
    def fetch_source(self) -> Path:
        self.say("fetching source")
        started = time.monotonic()
        self.source = sources.fetch_source(self.formula, self.ctx.cache_dir, self.ctx.mirrors,
                                           log=lambda message: self.say(message))
        self.note("time_fetch", round(time.monotonic() - started, 1))
        return self.source

    # -- 2. build + package -----------------------------------------------------------------------
    def prepare_images(self):
        if self.build_image is not None:  # done once per pair: already_published() asked first
            return
        self.say("preparing stack images")
        started = time.monotonic()
        locks, log = self.ctx.cache_dir / "locks", (lambda message: self.say(message))
        self.build_image, self.run_image = images.ensure_stack_images(
            self.ctx.docker, self.stack, locks, log=log, freshness=self.ctx.freshness, arch=self.arch)
        machine = emulation.host_arch()
        self.method = build.method(self.stack, self.formula, self.arch, machine)
        self.compile_image = self.build_image
        if self.method is build.Method.CROSS:
            machine_build, _ = images.ensure_stack_images(
                self.ctx.docker, self.stack, locks, log=log, freshness=self.ctx.freshness, arch=machine)
            self.compile_image = images.ensure_cross_image(self.ctx.docker, self.stack, machine_build, self.arch,
                                                           locks, log=log)
        if self.method is not build.Method.NATIVE:
            self.say(f"{self.arch} on this {machine} machine: built "
                     + ("by cross-compiling (stack.toml [cross]); the PGO training and the checks run under emulation"
                        if self.method is build.Method.CROSS else "and checked under emulation"))
        self.note("time_images", round(time.monotonic() - started, 1))

    def cache_key(self) -> str:
        """Every input that can change the archive's bytes (harness/cache_policy.py)."""
        return cache_policy.archive_key(self.formula, self.compile_image, self.ctx.profile, self.arch,
                                        self.method, self.ctx.profile_data)

    def archive_path(self, key) -> Path:
        return (self.ctx.out_dir / "archives" / self.stack.name / self.arch
                / f"{self.formula.name}-{self.ctx.profile}-{key[:16]}.tar.zst")

    def plan(self) -> Plan:
        """What a run would do for this pair, without doing any of it (--plan): no image made or
        refreshed, no emulator installed, nothing written to the bucket. The decision about the
        bucket's key is the one already_published() carries out (publish.assess)."""
        first = [step.value for step in emulation.check(self.arch)]
        ready, setup = self._look_up_images(can_run=not first)
        first += setup
        prefix = f"would {' and '.join(first)} first; " if first else ""
        target = self.ctx.target
        url = target.url(self._keys().archive)
        if not ready:
            plan = self._plan_after_set_up(prefix, url)
        else:
            local = self._published_local()
            step = Planned.REUSE if local.sha256 else Planned.BUILD
            archive = self.archive_path(local.cache_key)
            made = f"would {step.value} {archive.name} (cache key {local.cache_key[:16]})"
            then = (f"{made}, verify it and publish it to {url}" + (" (dry run: embedded S3)" if target.dry_run else ""))
            if self.formula.candidate:
                plan = Plan(step, f"{prefix}{made} and verify it; not published ({self.formula.variant} is a "
                                  "candidate variant)", local.cache_key)
            elif self.ctx.overwrite:
                plan = Plan(step, f"{prefix}{then}, replacing what is there (--overwrite)", local.cache_key)
            else:
                try:
                    assessment = publish.assess(s3.client_for(target), target, local)
                except manifest.Invalid as exc:
                    plan = Plan(Planned.FAIL, f"{prefix}would fail: {exc}", local.cache_key)
                else:
                    if assessment.decision is publish.Decision.FREE:
                        plan = Plan(step, prefix + then, local.cache_key)
                    else:
                        planned = PLANNED[assessment.decision]
                        plan = Plan(planned, f"{prefix}would {planned.value}: {assessment.describe()}", local.cache_key,
                                    assessment.repairs)
        self.note("plan", plan.planned.value)
        self.note("cache_key", plan.cache_key or "(from the images a run makes)")
        self.note("plan_line", plan.line)
        if plan.repairs:
            self.note("repairs", ", ".join(plan.repairs))
        self.say(plan.line)
        return plan

    def _plan_after_set_up(self, prefix: str, url: str) -> Plan:
        """The plan when the cache key needs what a run makes first: what the bucket holds decides
        the rest, by the key those images give."""
        then = "then build (or reuse) the archive of the cache key they give and publish it"
        if self.formula.candidate:
            then = (f"then build (or reuse) the archive of the cache key they give and verify it; not published "
                    f"({self.formula.variant} is a candidate variant)")
        elif not self.ctx.overwrite:
            target = self.ctx.target
            try:
                remote = publish.remote_archive(s3.client_for(target), target, self._keys())
            except s3.ERRORS as exc:
                raise PairError(f"cannot tell whether {url} exists: {s3.describe(exc)}") from None
            if remote is not None:
                then = (f"{url} is published already (sha256 {remote.sha256}, cache key "
                        f"{remote.cache_key[:16] or 'not recorded'}): the run skips (or repairs) it if they give "
                        "that cache key and fails if not")
        return Plan(Planned.SET_UP, prefix + then)

    def _look_up_images(self, can_run: bool) -> tuple[bool, list]:
        """The images a run would use, found by their tags and never made (images.look_up_*):
        (whether all are there, so the cache key can be known; what a run would make or refresh first)."""
        machine = emulation.host_arch()
        self.method = build.method(self.stack, self.formula, self.arch, machine)
        name = self.stack.name if self.arch == machine else f"{self.stack.name} ({self.arch})"
        found = images.look_up_stack_images(self.ctx.docker, self.stack, self.ctx.cache_dir, self.ctx.freshness,
                                            self.arch, can_run=can_run)
        if found.missing:
            return False, [f"make the {name} images ({', '.join(found.missing)})"]
        if found.unread:
            return False, [f"read the packages of the {name} images under emulation"]
        first = [f"refresh the {name} images ({found.refresh}; the key below holds if no build package changes)"
                 ] if found.refresh else []
        self.build_image, self.run_image = found.build, found.run
        self.compile_image = self.build_image
        if self.method is build.Method.CROSS:
            machine_images = images.look_up_stack_images(self.ctx.docker, self.stack, self.ctx.cache_dir,
                                                         self.ctx.freshness, machine)
            if machine_images.missing:
                return False, first + [f"make the {self.stack.name} images ({', '.join(machine_images.missing)})"]
            if machine_images.refresh:  # the cross image is made from the machine's build image
                first.append(f"refresh the {self.stack.name} images ({machine_images.refresh}; the key below holds "
                             "if no build package changes)")
            cross = images.look_up_cross_image(self.ctx.docker, self.stack, machine_images.build, self.arch,
                                               self.ctx.cache_dir)
            if cross is None:
                return False, first + [f"make the {self.stack.name} cross-compiling image for {self.arch}"]
            self.compile_image = cross
        return True, first

    def build_and_package(self, source: Path) -> tuple[Path, str]:
        self.prepare_images()
        key = self.cache_key()
        archive = self.archive_path(key)
        archive.parent.mkdir(parents=True, exist_ok=True)
        # Two runs sharing an out folder: the first builds this key, the other waits and reuses it.
        with FileLock(str(archive) + ".lock"):
            return self._build_or_reuse(source, key, archive)

    def _build_or_reuse(self, source: Path, key: str, archive: Path) -> tuple[Path, str]:
        reused = self._reusable(archive)
        if reused:
            self.say(f"reusing {archive.name} (same inputs, sha256 verified)")
            self.note("reused", True)
            self.record = archive_mod.read_json(archive_mod.beside(archive, archive_mod.RECORD_SUFFIX))
            self._note_archive(archive, reused)
            return archive, reused
        self.note("reused", False)
        built = self._build(source, key, archive)
        self.record = record_mod.build_record(self, built)
        archive_mod.write_sidecars(archive, built.sha256, self.record)
        self._note_build(built.result)
        self._note_archive(archive, built.sha256)
        return archive, built.sha256

    def _build(self, source: Path, key: str, archive: Path) -> record_mod.Built:
        """Build into a fresh staging folder and pack it into archive; its errors as one line
        with the log's tail, and the staging and profile folders gone whatever happens."""
        staging = archive.parent / f".staging-{self.pair}-{key[:16]}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        # Release builds: the profiles the build used come out as a tar here; a given profile
        # (--profile-data) goes in from here.
        profiles = archive.parent / f".profiles-{self.pair}-{key[:16]}"
        shutil.rmtree(profiles, ignore_errors=True)
        inputs = self._build_inputs(source, staging, profiles)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._compile_and_pack(inputs, key, archive)
        except PairError as exc:
            raise PairError(f"{exc}\n{_tail(self.log_path)}") from None
        except (*engine.GONE, *engine.SLOW):
            raise  # requests' errors are OSErrors too; conftest reports the engine's going
        except OSError as exc:  # a full disk, mostly: one line, and the finally below cleans up
            raise PairError(f"building or packaging failed: {exc.strerror or exc} ({exc.filename or archive.parent})"
                            f"\n{_tail(self.log_path)}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(profiles, ignore_errors=True)

    def _build_inputs(self, source: Path, staging: Path, profiles: Path) -> build.BuildInputs:
        """The build's inputs; for a release build, the profile's way out and a given profile's
        way in (decompressed into profiles)."""
        profile_out = profile_in = None
        if self.ctx.profile == "release":
            profiles.mkdir(parents=True)
            profile_out = profiles / "profile.tar"
            if self.ctx.profile_data:
                profile_in = profiles / "given.tar"
                archive_mod.decompress_file(self.ctx.profile_data, profile_in)
        return build.BuildInputs(
            self.compile_image, self.formula, source, self.ctx.profile, staging, timeout=self.ctx.build_timeout,
            profile_out=profile_out, profile_in=profile_in,
            cross_arch=self.arch if self.method is build.Method.CROSS else "",
            source_date_epoch=sources.release_epoch(source))

    def _compile_and_pack(self, inputs: build.BuildInputs, key: str, archive: Path) -> record_mod.Built:
        parallel = "slots shared with the run's other builds" if self.ctx.jobserver else "make -j per core"
        self.say(f"building ({self.ctx.profile} profile, {parallel}); log: {self.log_path}")
        started, started_on = time.monotonic(), provenance.now()
        with open(self.log_path, "w") as log:
            result = build.run_build(self.container_run, inputs, log,
                                     on_phase=lambda phase: self.say(f"build: {phase}"))
        build_seconds = round(time.monotonic() - started, 1)
        self.say("packaging")
        started = time.monotonic()
        profile = self._pack_profile(inputs, archive)
        sha256 = archive_mod.pack(inputs.staging, archive, archive_mod.ZSTD_LEVELS[self.ctx.profile],
                                  mtime=inputs.source_date_epoch)
        return record_mod.Built(key, archive, sha256, result, build_seconds=build_seconds,
                                pack_seconds=round(time.monotonic() - started, 1), started_on=started_on,
                                finished_on=provenance.now(), profile_data=profile,
                                source_date_epoch=inputs.source_date_epoch)

    def _pack_profile(self, inputs: build.BuildInputs, archive: Path) -> dict | None:
        """A release build's profiles, compressed beside the archive: the record's profile_data."""
        if inputs.profile_out is None:
            return None
        if not inputs.profile_out.exists():
            raise PairError("the release build wrote no profile (PROFILE_OUT): a rebuild could not make its bytes")
        profile_path = archive_mod.beside(archive, archive_mod.PROFILE_SUFFIX)
        return {"sha256": archive_mod.compress_file(inputs.profile_out, profile_path),
                "size": profile_path.stat().st_size, "given": bool(inputs.profile_in)}

    def _note_build(self, result: build.BuildResult):
        """What the summary table shows of a build: its time, CPU, PGO training and phases."""
        self.note("time_build", self.record["build_seconds"])
        if self.record["build_cpu_seconds"]:
            self.note("cpu", f"build took {self.record['build_cpu_seconds']:.0f} CPU seconds")
        if result.pgo.get("profile_given"):
            self.note("pgo", f"no training: the given profile's {result.pgo['profile_files']} files "
                             f"(sha256 {file_sha256(self.ctx.profile_data)})")
        elif result.pgo:
            failed = result.pgo["failed"]
            self.note("pgo", f"training ran {result.pgo['test_files_run']} test files ({result.pgo['tests_run']} tests), "
                             f"{len(failed)} failed{' (' + ', '.join(failed) + ')' if failed else ''}; "
                             f"{result.pgo['profile_files']} profile files")
        self.note("phases", ", ".join(f"{name} {secs:.0f}s" for name, secs in self.record["phase_seconds"].items()))

    def _note_archive(self, archive: Path, sha256: str):
        self.note("archive", str(archive))
        self.note("size", archive.stat().st_size)
        self.note("sha256", sha256)
        self.note("log", str(self.log_path))

    def _reusable(self, archive: Path) -> str | None:
        return cache_policy.reusable(archive, self.ctx.rebuild, self.say)

    # -- 3. verify --------------------------------------------------------------------------------
    def verification_key(self) -> str:
        """Every input that can change a verification's outcome (harness/cache_policy.py)."""
        return cache_policy.verification_key(self.record["archive_sha256"], self.run_image, self.build_image,
                                             self.compile_image, self.stack.policy)

    def verify(self, archive: Path):
        key = self.verification_key()
        earlier = cache_policy.reusable_verification(self.record, key, self.ctx.reverify)
        if earlier:
            self.say(f"reusing the verification of this archive in the same images ({len(earlier)} checks passed)")
            self.note("verify_reused", True)
            self.note("time_verify", 0.0)
            self.note("checks", f"{len(earlier)}/{len(earlier)}")
            self._describe_verified(archive, record_changed=False)
            return [Check(name, True, f"reused: {result['detail']}") for name, result in earlier.items()]
        self.say("verifying in the run image")
        started = time.monotonic()
        subject = verify.Subject(archive, self.log_path, self.formula.version, self.arch, self.run_image,
                                 build_image=self.build_image, tools_image=self.compile_image,
                                 build_flags=self.record.get("build_flags"), abi_suffix=self.formula.abi_suffix,
                                 policy=self.stack.policy)
        # A folder of this run's own under work/: another run may be verifying the same pair right now.
        checks, run_image_facts = verify.verify(self.container_run, subject, self.ctx.cache_dir,
                                                self.ctx.out_dir / "work", log=self.say)
        self.record["verification"] = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
        self.record["verification_key"] = key
        self.record.update(run_image_facts)  # the system libraries, their packages, the distribution
        # ...of this run image, which may have been refreshed since the build.
        self.record["images"]["run"] = self.run_image.describe()
        self._describe_verified(archive, record_changed=True)
        self.note("time_verify", round(time.monotonic() - started, 1))
        failed = [c.name for c in checks if not c.ok]
        self.note("checks", f"{len(checks) - len(failed)}/{len(checks)}")
        return checks

    def _describe_verified(self, archive: Path, record_changed: bool):
        """Write what describes the verified archive: its record (with verification's results),
        and the SBOM and provenance statement made from it (the SBOM lists the system libraries
        verification resolved). A reused verification writes the latter two only when missing:
        they would come out the same. Under the archive's lock: another run verifying the same
        archive at the same time (in another run image, say) must not leave its record beside
        this run's SBOM."""
        sbom_path = archive_mod.beside(archive, archive_mod.SBOM_SUFFIX)
        provenance_path = archive_mod.beside(archive, archive_mod.PROVENANCE_SUFFIX)
        with FileLock(str(archive) + ".lock"):
            if record_changed:
                archive_mod.write_sidecars(archive, self.record["archive_sha256"], self.record)
            elif sbom_path.exists() and provenance_path.exists():
                return
            name = self._keys().filename
            archive_mod.write_json(sbom_path, sbom.document(self.record, archive, self.source, name))
            archive_mod.write_json(provenance_path, provenance.statement(self.record, name))

    # -- 4. publish -------------------------------------------------------------------------------
    def already_published(self) -> publish.Outcome | None:
        """Before any build: when the bucket already holds this pair (and --overwrite was not
        given) there is nothing to build. If the archive there is ours (same bytes, or built from
        the same inputs), whatever an interrupted publish left undone (sidecars, manifest entry)
        is completed; if it was built from other inputs, the pair fails and the bucket is untouched."""
        if self.ctx.overwrite or self.formula.candidate:  # a candidate has no key in any bucket
            return None
        self.prepare_images()
        outcome = publish.settle_existing(s3.client_for(self.ctx.target), self.ctx.target, self._published_local())
        if outcome is not None:
            self._report(outcome)
        return outcome

    def _published_local(self) -> publish.Local:
        """This pair's side of what the bucket holds at its key, as already_published() and plan()
        both see it: the cache key its images give, and the archive out/archives has for it."""
        key = self.cache_key()
        archive = self.archive_path(key)
        sha256 = self._reusable(archive)
        record = archive_mod.read_json(archive_mod.beside(archive, archive_mod.RECORD_SUFFIX)) if sha256 else None
        return self._local(key, archive if sha256 else None, sha256, record)

    def publish(self, archive: Path, sha256: str) -> publish.Outcome:
        target = self.ctx.target
        local = self._local(self.record["cache_key"], archive, sha256, self.record)
        self.say(f"publishing to {target.url(local.keys.archive)}" + (" (dry run: embedded S3)" if target.dry_run else ""))
        started = time.monotonic()
        outcome = publish.publish(s3.client_for(target), target, local, overwrite=self.ctx.overwrite)
        self.note("time_publish", round(time.monotonic() - started, 1))
        self._report(outcome)
        return outcome

    def keep_unpublished(self, archive: Path):
        """A candidate variant's build (builds/variants.toml): verified and kept in out/archives for
        the benchmarks, never written to a bucket, not even the dry run's, whose manifest and uv
        catalog say what a deploy would publish."""
        self.note("published", f"not published: {self.formula.variant} is a candidate variant (kept at {archive})")
        self.say(f"not published: {self.formula.variant} is a candidate variant, built to be measured")

    def _keys(self) -> s3.Keys:
        return s3.keys_for(self.ctx.target, self.stack.name, self.arch, self.formula.name)

    def _local(self, key, archive=None, sha256=None, record=None) -> publish.Local:
        """This pair's side of a publish; with a local archive, the SBOM and provenance statement
        beside it too (the files verification wrote), to restore the bucket's copies from."""
        documents = {}
        if archive is not None:
            documents = {"sbom": archive_mod.read_json(archive_mod.beside(archive, archive_mod.SBOM_SUFFIX)),
                         "provenance": archive_mod.read_json(archive_mod.beside(archive, archive_mod.PROVENANCE_SUFFIX)),
                         "profile": archive_mod.beside(archive, archive_mod.PROFILE_SUFFIX)}
        return publish.Local(
            keys=self._keys(), cache_key=key,
            entry=self._entry(record or self.record),
            record=record, archive=archive, sha256=sha256, **documents)

    def _entry(self, record: dict) -> dict:
        """This pair's manifest entry fields (publish.ENTRY_FIELDS), as far as this run knows them:
        the build's and verification's from the archive's record, when there is one."""
        checks = record.get("verification") or {}
        finished = record.get("build_finished")
        return {"version": self.formula.version, "arch": self.arch, "formula_sha256": self.formula.file_hash,
                "build_seconds": record.get("build_seconds"),
                "build_date": finished[:10] if isinstance(finished, str) else None,
                "checks_passed": sum(1 for check in checks.values() if check.get("ok")) if checks else None,
                "checks_total": len(checks) if checks else None,
                "end_of_life": self.formula.end_of_life.isoformat() if self.formula.end_of_life else None,
                "variant": self.formula.uv_variant}

    def _report(self, outcome: publish.Outcome):
        self.note("published", f"{outcome.describe()}: {outcome.url}")
        self.note("publish_status", outcome.status.name)
        self.note("repaired", ", ".join(outcome.repaired))
        self.note("listings", ", ".join(outcome.listings))
        self.say(outcome.describe())
        if outcome.listings:
            self.say(f"made again from the manifest: {', '.join(outcome.listings)}")
        if not outcome.ok:
            raise PairError(f"{outcome.url} is {outcome.describe()}")


def _tail(path: Path, lines=25) -> str:
    if not path.exists():
        return ""
    tail = path.read_text(errors="replace").splitlines()[-lines:]
    return f"last {len(tail)} lines of {path}:\n" + "\n".join("    " + line for line in tail)
