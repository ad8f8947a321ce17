# The maintainers' interface: thin calls of pytest (see README.md).
#
#   make build                      one runtime on debian-12, quick profile, dry run (all set-up included)
#   make test                       the project's own test suite (all set-up included)
#   make buildenv STACK=debian-12   a shell in the stack's build image, builds/ mounted
#   make deploy-runtimes RUNTIMES='python-3.13.15 ...' [VARIANTS='default freethreaded'] [STACKS='...']
#                        [ARCH='amd64 arm64'] [ENV_FILE=...]
#                                   (always on freshly refreshed stack images, as the original tooling
#                                   rebuilt its builders from the latest stack image before deploying)
#   make bench                      the benchmarks of bench/, results in bench/RESULTS.md
#   make prune                      remove the stack images a refresh or a changed stack superseded

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIMES ?= python-3.13.15
STACK ?= debian-12
STACKS ?=
VARIANTS ?=
# Architectures: `make build` builds this machine's own. Without ARCH, deploy-runtimes builds each
# architecture a stack declares that this machine runs natively and reports the others skipped;
# ARCH='arm64' on an amd64 machine cross-compiles them where the stack says how, the PGO training
# and the checks under emulation (a release build of 3.13.15 on debian-12: 42 min here).
NATIVE_ARCH := $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(shell uname -m)))
ARCH ?=
PROFILE ?= quick
ENV_FILE ?=
JOBS ?= 2
PYTEST_ARGS ?=

# A variable's value reaches pytest as one argument, exactly as given, whatever it holds (spaces,
# quotes, '$'): $(value V) is its text unexpanded by make, and `quoted` makes it one shell word
# ('...', each ' inside written '\''). Make's own word functions ($(strip), $(abspath)) would split
# a path with a space or squeeze its spaces, so they only ever test whether a value is empty.
# PYTEST_ARGS is the exception: it is several arguments, written as after pytest on a shell command
# line (PYTEST_ARGS="-k 'a or b' --out-dir 'my out'"), and goes to the shell as written.
quoted = '$(subst ','\'',$(value $(1)))'
given = $(strip $(value $(1)))
stacks_opt = $(if $(call given,STACKS),--stacks $(call quoted,STACKS))
variants_opt = $(if $(call given,VARIANTS),--variants $(call quoted,VARIANTS))
arch_opt = $(if $(call given,ARCH),--arch $(call quoted,ARCH))
native_arch_opt = --arch $(if $(call given,ARCH),$(call quoted,ARCH),$(NATIVE_ARCH))
# A relative ENV_FILE is taken from this folder, where the recipes run.
env_file_opt = $(if $(call given,ENV_FILE),--env-file=$(call quoted,ENV_FILE))
# Only values given on make's command line become options: S3_BUCKET/S3_PREFIX from the environment
# are read by the harness itself, after those from ENV_FILE (option > env file > environment).
bucket_opt = $(if $(filter command line,$(origin S3_BUCKET)),--s3-bucket $(call quoted,S3_BUCKET))
prefix_opt = $(if $(filter command line,$(origin S3_PREFIX)),--s3-prefix $(call quoted,S3_PREFIX))
pytest_args = $(value PYTEST_ARGS)

.PHONY: setup venv engine build test test-tools test-slow bench buildenv deploy-runtimes list prune clean

setup: venv engine

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "venv: '$(PYTHON) -m venv' failed; installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

engine:
	@bash scripts/ensure-docker.sh

build: setup
	$(PY) -m pytest test_runtimes.py --runtimes $(call quoted,RUNTIMES) --stacks $(call quoted,STACK) $(native_arch_opt) \
	  --profile $(call quoted,PROFILE) $(pytest_args)

test: setup test-tools
	$(PY) -m pytest tests -n $(JOBS) -m "not slow" $(pytest_args)

# What the tests need beyond the harness itself (a registry for tests/test_registry.py).
test-tools:
	@bash scripts/ensure-test-tools.sh

test-slow: setup test-tools
	$(PY) -m pytest tests -n $(JOBS) -m slow $(pytest_args)

# The benchmarks of bench/ (about an hour on 2 cores when the release archives speed compares are
# already there: 3.11.2 on debian-12, 3.13.5 on debian-13, 3.13.15 on debian-12 as the default,
# x86-64-v3 and a8de7ce's builds, and Heroku's recipe; each missing one is a release build of 15 to
# 35 min first); results in bench/RESULTS.md.
BENCHES ?= overhead matrix noop size speed freethreaded emulation
bench: setup
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

list: venv
	$(PY) -m pytest test_runtimes.py --collect-only -q $(stacks_opt) $(arch_opt)

# A shell in the stack's build image, as the harness runs builds there (no network), with builds/
# mounted read-write (edits show at once) and the verified source tarballs read-only. By hand:
#   SOURCE_TARBALL=/opt/pyruntimes/sources/<sha256>/Python-X.Y.Z.tar.xz PYTHON_VERSION=X.Y.Z \
#   SOURCE_DATE_EPOCH=$(tar -tvf "$SOURCE_TARBALL" --full-time | awk '{print $4"T"$5}' | sort | tail -1 | date -f- +%s) \
#   PREFIX=/tmp/python bash build-python.sh
# (SOURCE_DATE_EPOCH: the source's release date, the newest entry of its tarball, as the harness passes it)
# BUILDENV_ARGS="-c 'command'" runs a command instead of an interactive shell.
buildenv: setup
	@image=$$($(PY) -m harness build-image $(call quoted,STACK) $(native_arch_opt)) && \
	cache=$${PYRUNTIMES_CACHE:-$$HOME/.cache/pyruntimes} && mkdir -p "$$cache/sources" && \
	docker run --rm $$([ -t 0 ] && echo -it || echo -i) --network none \
	  -v "$(CURDIR)/builds:/opt/pyruntimes/builds" -v "$$cache/sources:/opt/pyruntimes/sources:ro" \
	  -w /opt/pyruntimes/builds -e BUILD_PROFILE=quick -e MAKE_JOBS=$$(nproc) \
	  "$$image" bash $(BUILDENV_ARGS)

deploy-runtimes: setup
	$(PY) -m pytest test_runtimes.py --runtimes $(call quoted,RUNTIMES) $(variants_opt) $(stacks_opt) $(arch_opt) --deploy --refresh-images \
	  $(env_file_opt) $(bucket_opt) $(prefix_opt) $(pytest_args)

# The pyruntimes/ images that a refresh or a changed stack file superseded, for every stack (a run
# removes those of the stacks it uses): never another's image, one a container uses, or one a run
# took within the last day (harness/commands/prune.py).
prune: setup
	$(PY) -m harness prune

clean:
	rm -rf out
