"""The harness's pytest layer: options, the runtime x stack matrix, shared fixtures, the summary.

The pipeline itself lives in harness/ (one module per concern); test_runtimes.py runs one pair.
"""

import os
import signal
import sys
import uuid
from pathlib import Path

import pytest
import zstandard

from harness import durations, emulation, engine, images, jobserver, layout, redact, selection
from harness.bucket import preflight, s3, s3server
from harness.bucket import target as bucket_target
from harness.build import DEFAULT_TIMEOUT as DEFAULT_BUILD_TIMEOUT, Method
from harness.build import method as build_method
from harness.case import Case, RunContext
from harness.containers import usable_cores
from harness.errors import PairError, UsageError
from harness.progress import Progress
from harness.report import Summary


def pytest_addoption(parser):
    group = parser.getgroup("pyruntimes", "building Python runtimes")
    group.addoption("--runtimes", action="append", metavar="NAMES",
                    help="runtimes to build, space- or comma-separated (default: every formula)")
    group.addoption("--stacks", action="append", metavar="NAMES",
                    help="stacks to build on, space- or comma-separated (default: every stack)")
    group.addoption("--arch", action="append", metavar="NAMES",
                    help="architectures, space- or comma-separated: amd64, arm64 (default: each that a stack "
                         "declares, those foreign to this machine skipped; named, they are built under emulation)")
    group.addoption("--variants", action="append", metavar="NAMES",
                    help="builds of each runtime, space- or comma-separated: default (the formula's own), "
                         "freethreaded (3.13+, no GIL); builds/variants.toml (default: default)")
    group.addoption("--profile", default="release", choices=selection.PROFILES,
                    help="release: PGO + LTO, what gets deployed (default); quick: neither, for validation")
    group.addoption("--rebuild", action="store_true", help="build even when an archive with the same inputs exists")
    group.addoption("--reverify", action="store_true",
                    help="run the checks even when this archive passed them before in the same images")
    group.addoption("--plan", action="store_true",
                    help="only say which pairs would be built and which reused (and their cache keys)")
    group.addoption("--deploy", action="store_true", help="upload to the real bucket (default: the embedded S3)")
    group.addoption("--overwrite", action="store_true", help="replace archives already published")
    bucket_target.add_options(group.addoption)  # --env-file, --s3-bucket, --s3-prefix, as the commands have them
    group.addoption("--source-mirror", action="append", default=[], metavar="URL",
                    help="mirror laid out like python.org/ftp/python (also $PYRUNTIMES_SOURCE_MIRRORS)")
    group.addoption("--changed-since", metavar="REF",
                    help="only the pairs whose inputs changed since the git ref (for pull-request checks)")
    build_timeout = durations.describe(DEFAULT_BUILD_TIMEOUT)
    group.addoption("--build-timeout", default=build_timeout, metavar="DURATION",
                    help=f"stop a build that runs longer, e.g. 90m or 4h (default: {build_timeout})")
    group.addoption("--refresh-images", action="store_true",
                    help="pull or bootstrap the stacks' base images again and rebuild their build and run images")
    max_age = durations.describe(images.DEFAULT_MAX_AGE)
    group.addoption("--image-max-age", default=max_age, metavar="DURATION",
                    help=f"refresh a stack's images when they are older than this (default: {max_age})")
    group.addoption("--out-dir", default=str(layout.CHECKOUT.out), metavar="DIR",
                    help="where archives, logs and work folders go (default: ./out)")
    group.addoption("--profile-data", metavar="PATH",
                    help="release builds: the published profile (.profile.tar.zst) of an earlier build of the same "
                         "pair, used instead of a training run; what `python -m harness rebuild` passes")


def pytest_configure(config):
    config.addinivalue_line("markers", "pair: one runtime x stack build (set by the harness)")
    # SIGTERM (a CI job cancelled, `kill`) stops the run like Ctrl-C does: cleanup code runs
    # (containers removed, partial files deleted) instead of Python dying on the spot.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _configure(config)
    except UsageError as exc:
        # One line, exit status 2, before any work.
        sys.stderr.write(f"error: {redact.redact(exc)}\n")  # harness/redact.py: no credential in it
        sys.stderr.flush()
        os._exit(2)


def _configure(config):
    opt = config.option
    # The same selection as `python -m harness matrix` (harness/selection.py): the CI matrix is this one.
    matrix = selection.select(layout.ROOT, opt.runtimes, opt.stacks, opt.changed_since, opt.arch, opt.variants)
    if opt.deploy:
        selection.refuse_candidates(matrix)
    if opt.deploy and opt.profile != "release":
        raise UsageError(f"--profile {opt.profile} builds are for validation and cannot be deployed; "
                         "use --profile release (the default) with --deploy")
    if opt.profile_data:
        if opt.profile != "release":
            raise UsageError(f"--profile-data is a release build's profile; --profile {opt.profile} builds train nothing")
        if len(matrix) != 1:
            raise UsageError(f"--profile-data belongs to one pair, and {len(matrix)} are selected: "
                             "name one runtime (--runtimes), one stack (--stacks) and one architecture (--arch)")
        if not Path(opt.profile_data).is_file():
            raise UsageError(f"--profile-data {opt.profile_data}: no such file (a .profile.tar.zst published beside an archive)")
        with open(opt.profile_data, "rb") as head:
            try:
                zstandard.get_frame_parameters(head.read(18))
            except zstandard.ZstdError:
                raise UsageError(f"--profile-data {opt.profile_data}: not zstd-compressed (a .profile.tar.zst published "
                                 "beside an archive)") from None
    config.stash[LIMITS] = (durations.parse(opt.build_timeout, "--build-timeout"),
                            durations.parse(opt.image_max_age, "--image-max-age"))
    _writable_folder(opt.out_dir, "--out-dir", "e.g. ./out")
    _writable_folder(os.environ.get("PYRUNTIMES_CACHE", str(layout.cache_dir())), "PYRUNTIMES_CACHE",
                     "or unset it for ~/.cache/pyruntimes")
    # The bucket (harness/bucket/target.py): --deploy's real one, credentials checked before any work.
    target = bucket_target.resolve(opt.s3_bucket, opt.s3_prefix, opt.env_file, real=opt.deploy,
                                   public_url_option=opt.public_url)
    config.stash[MATRIX] = matrix
    config.stash[TARGET] = target
    named = target.bucket != bucket_target.DRY_RUN_BUCKET
    config.pluginmanager.register(Summary(dry_run=target.dry_run, bucket_named=named), "pyruntimes-summary")
    if _is_worker(config) or not _matrix_requested(config):
        return
    if not config.option.collectonly:
        # A pair of another architecture than this machine's, named with --arch, runs under QEMU:
        # registered now, once, before any image of that architecture is made (harness/emulation.py).
        # --plan installs and registers nothing: it stops where a run would, and each pair's line
        # says what a run would set up first.
        if opt.arch:
            for arch in sorted({arch for _, _, arch in matrix}):
                if opt.plan:
                    emulation.check(arch)
                else:
                    emulation.ensure(arch, say=_say)
    if not config.option.collectonly:
        engine.connect()  # an engine that does not answer stops the run here, with one line
        if not target.dry_run:  # the bucket, the credentials and conditional writes, before any build
            preflight.check(target, overwrite=opt.overwrite, say=_say)
        if target.dry_run and not os.environ.get(s3server.ENDPOINT_ENV):
            # Set beforehand, the variable points dry runs at an S3 of your own (to inspect uploads).
            server, endpoint = s3server.start()
            config.stash[S3_SERVER] = server
            os.environ[s3server.ENDPOINT_ENV] = endpoint  # xdist workers inherit it
        # Labels this run's containers (xdist workers inherit it); preset, it lets a caller find them.
        os.environ.setdefault("PYRUNTIMES_RUN_ID", uuid.uuid4().hex[:12])
        config.stash[RUN_ID] = os.environ["PYRUNTIMES_RUN_ID"]
        # One pool of make job slots, as many as cores, for all of this run's builds.
        pool = jobserver.JobServer(usable_cores())
        config.stash[JOBSERVER] = pool
        os.environ[jobserver.ENV] = str(pool.path)  # xdist workers inherit it


def _writable_folder(value: str, name: str, example: str):
    """A folder the run creates files under: refused before any work when it, or the nearest part
    of its path that exists, is a file (else a build would fail late, on its first write)."""
    if not value:  # Path("") is the current folder: an empty value is a mistake, not a choice
        raise UsageError(f"{name} is empty: name a folder ({example})")
    path = Path(value)
    for part in (path, *path.parents):
        if os.path.isdir(part):
            return
        if os.path.lexists(part):
            where = f"{name} {value}" if part == path else f"{name} {value}: {part}"
            raise UsageError(f"{where} is a file, not a folder: name a folder, or one to be created ({example})")


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _is_worker(config):
    return hasattr(config, "workerinput")


def _matrix_requested(config):
    return any(Path(arg.split("::")[0]).name == "test_runtimes.py" or Path(arg).resolve() == layout.ROOT
               for arg in config.args)


def pytest_unconfigure(config):
    if RUN_ID in config.stash:
        # Whatever happened (an interrupt, a worker killed), no container of this run outlives it.
        try:
            engine.remove_run_containers(engine.connect(), config.stash[RUN_ID])
        except UsageError:
            pass
    server = config.stash.get(S3_SERVER, None)
    if server is not None:
        server.stop()
    pool = config.stash.get(JOBSERVER, None)
    if pool is not None:
        pool.close()


MATRIX = pytest.StashKey[list]()
TARGET = pytest.StashKey[object]()
S3_SERVER = pytest.StashKey[object]()
JOBSERVER = pytest.StashKey[object]()
RUN_ID = pytest.StashKey[str]()
LIMITS = pytest.StashKey[tuple]()  # (build timeout, image max age), in seconds


def pytest_generate_tests(metafunc):
    if "pair" not in metafunc.fixturenames:
        return
    params = []
    native = emulation.host_arch()
    for formula, stack, arch in metafunc.config.stash[MATRIX]:
        marks = [pytest.mark.pair]
        reason = selection.unsupported(formula, stack)
        if not reason and arch != native and not metafunc.config.option.arch:
            # Collected, so that the matrix shows every pair a stack declares, but not built unless
            # named. Measured (README, Architectures): a release build of 3.13.15 on debian-12
            # cross-compiled for arm64 took 42 minutes here, its PGO training under emulation;
            # built under emulation (stacks without [cross], 3.9 and 3.10) the compiler runs 13
            # times slower, hours for a release build. CI builds each on a native runner.
            if build_method(stack, formula, arch, native) is Method.CROSS:
                how = "cross-compiles it (a release build: about 40 min here)"
            else:
                how = "builds it under emulation (a release build: hours)"
            reason = f"{arch} is foreign to this {native} machine; --arch {arch} {how}"
        if reason:
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param((formula, stack, arch), id=selection.pair_id(formula, stack, arch), marks=marks))
    metafunc.parametrize("pair", params)


def pytest_collection_modifyitems(config, items):
    # With no pair selected (e.g. --changed-since after a docs-only change), parametrize leaves a
    # placeholder case that would only report "empty parameter set": drop it.
    empty = [item for item in items if item.originalname == "test_runtime" and "[NOTSET" in item.name]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


@pytest.fixture(scope="session")
def run_context(pytestconfig):
    opt = pytestconfig.option
    mirrors = tuple(opt.source_mirror) + tuple(
        m for m in os.environ.get("PYRUNTIMES_SOURCE_MIRRORS", "").split() if m)
    target = pytestconfig.stash[TARGET]
    build_timeout, image_max_age = pytestconfig.stash[LIMITS]
    if target.dry_run:
        target.endpoint = os.environ[s3server.ENDPOINT_ENV]
    return RunContext(
        root=layout.ROOT,
        out_dir=Path(opt.out_dir).resolve(),
        cache_dir=layout.cache_dir(),
        profile=opt.profile,
        rebuild=opt.rebuild,
        reverify=opt.reverify or opt.rebuild,
        plan_only=opt.plan,
        mirrors=mirrors,
        jobserver=os.environ.get(jobserver.ENV),
        run_id=os.environ.get("PYRUNTIMES_RUN_ID", "local"),
        docker=engine.connect(),
        target=target,
        overwrite=opt.overwrite,
        progress=Progress(pytestconfig),
        build_timeout=build_timeout,
        profile_data=Path(opt.profile_data).resolve() if opt.profile_data else None,
        freshness=images.Freshness(max_age=image_max_age, refresh=opt.refresh_images,
                                   run_id=os.environ.get("PYRUNTIMES_RUN_ID", "local")),
    )


@pytest.fixture
def case(pair, run_context, record_property):
    formula, stack, arch = pair
    record_property("pair", selection.pair_id(formula, stack, arch))
    case = Case(formula=formula, stack=stack, arch=arch, ctx=run_context, record_property=record_property)
    case.note_end_of_life()
    return case


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    # A PairError is a known, explained failure: one line (plus the log tail), no traceback.
    try:
        return (yield)
    except PairError as exc:
        message = str(exc)
    except (*engine.GONE, *engine.SLOW) as exc:
        if engine.timed_out(exc):
            message = "the Docker engine did not answer in time (read timeout): is it overloaded? Check 'docker info'"
        else:
            message = (f"the Docker engine stopped answering ({type(exc).__name__}): is it still running? "
                       "Check with 'docker version'")
    except s3.ERRORS as exc:  # botocore's text can hold a credential: one redacted line, no traceback
        message = f"S3 failed: {s3.describe(exc)}"
    pytest.fail(redact.redact(message), pytrace=False)  # outside the except: no "during handling of..." chain



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Whatever a failure's report holds (an unexpected exception's traceback with its locals, a
    # captured log), it goes through the redactor before pytest prints or saves it (JUnit XML).
    report = yield
    if report.longrepr is not None:
        text = str(report.longrepr)
        masked = redact.redact(text)
        if masked != text:
            report.longrepr = masked
    report.sections = [(title, redact.redact(content)) for title, content in report.sections]
    return report
