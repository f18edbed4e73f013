# One command each: `make demo` installs and runs H→γγ and H→ZZ on generated data (offline);
# `make test` installs and runs the checks and the test-suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2

.PHONY: install demo test docs faults lint lock lock-check reana-validate root-env rucio-env deploy-env datalake datalake-stop image system-deps notebooks clean

LOCK := envs/requirements.lock
UV_COMPILE = $(BIN)/uv pip compile --quiet --python-version 3.11 --generate-hashes envs/requirements.in

# The pinned environment: exact versions and hashes from the lock, then the package itself.
$(BIN)/atlasod: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/atlasod

# reana-client 0.9.6 in its own environment: it pins Snakemake 7.32.4, the version REANA's
# engine runs; the tests run the workflow with it and compare the histograms.
REANA_VENV := .venv-reana
SMK7 := $(REANA_VENV)/bin/snakemake
$(SMK7):
	$(PYTHON) -m venv $(REANA_VENV)
	$(REANA_VENV)/bin/pip install --quiet 'reana-client==0.9.6'

# ROOT 6.40 from PyPI (the `root` wheel) in its own environment: tools/real_layout.py rewrites
# demo files in the real files' layout with it (tests), and the benchmarks run RDataFrame.
ROOT_VENV := .venv-root
ROOT_PY := $(ROOT_VENV)/bin/python
ROOT_STAMP := $(ROOT_VENV)/.installed
$(ROOT_STAMP):
	$(PYTHON) -m venv $(ROOT_VENV)
	$(ROOT_VENV)/bin/pip install --quiet 'root==0.1a12' 'numpy==2.4.6' 'pyyaml==6.0.4'
	$(ROOT_PY) -W ignore -c 'import ROOT; assert ROOT.gROOT.GetVersion() == "6.40.00"'
	touch $@
root-env: $(ROOT_STAMP)

# The local Datalake (tools/datalake.py): the Rucio server 41 and gunicorn in their own
# environment, from a hashed lock; `make datalake` starts it with two XRootD RSEs.
RUCIO_VENV := .venv-rucio
RUCIO_PY := $(RUCIO_VENV)/bin/python
RUCIO_STAMP := $(RUCIO_VENV)/.installed
RUCIO_LOCK := envs/datalake-server.lock
$(RUCIO_STAMP): $(RUCIO_LOCK)
	$(PYTHON) -m venv $(RUCIO_VENV)
	$(RUCIO_VENV)/bin/pip install --quiet --require-hashes -r $(RUCIO_LOCK)
	touch $@
rucio-env: $(RUCIO_STAMP)

# Ansible, ansible-lint and Playwright (envs/deploy.lock): the class hub's playbook
# (deploy/ansible) is linted, and applied to a Debian 12 container by tests/test_classhub.py.
DEPLOY_VENV := .venv-deploy
DEPLOY_PY := $(DEPLOY_VENV)/bin/python
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
$(DEPLOY_STAMP): envs/deploy.lock
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --require-hashes -r envs/deploy.lock
	touch $@
deploy-env: $(DEPLOY_STAMP)

# The documentation site: mkdocs-material from envs/docs.lock; `make docs` builds docs/ into
# site/ (readable offline: open site/index.html).  --strict: a broken link, a missing page or
# an anchor that is not there fails the build (CI runs it as part of `make test`).
DOCS_VENV := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
$(DOCS_STAMP): envs/docs.lock
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install --quiet --require-hashes -r envs/docs.lock
	touch $@
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict  # (--quiet would hide the warnings --strict fails on)
	@echo "The documentation: site/index.html"

DATALAKE_DIR ?= .datalake
datalake: install $(RUCIO_STAMP)
	$(RUCIO_PY) tools/datalake.py start --dir $(DATALAKE_DIR)
datalake-stop:
	$(RUCIO_PY) tools/datalake.py stop --dir $(DATALAKE_DIR)

# Every REANA specification is valid for reana-client (and up to date, see the tests).
reana-validate: $(SMK7)
	@for spec in reana.yaml reana/*.yaml; do case $$spec in *.config.yaml) continue;; esac; \
		$(REANA_VENV)/bin/reana-client validate -f $$spec >/tmp/reana-validate.log 2>&1 \
		&& echo "$$spec: valid" \
		|| { cat /tmp/reana-validate.log; echo "$$spec: INVALID"; exit 1; }; done

demo: install
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) hyy hzz --config source=demo
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores $(CORES) hyy hzz --config source=demo --report results/2020-demo/report.html
	@echo "Plots, fit and yields: results/2020-demo/hyy, results/2020-demo/hzz; report: results/2020-demo/report.html"

# The image every rule runs in, tagged with the package version (envs/Dockerfile).  Built
# with podman from a local Debian 12 base (envs/build-image.sh); the tests run a workflow
# step in it.  Publishing it is a separate workflow: .github/workflows/image.yml.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE := ghcr.io/atlas-opendata-workflows/atlasod:$(VERSION)
image:
	envs/build-image.sh $(IMAGE) $(VERSION)

# Debian packages some tests need (local XRootD servers; xrdcp and xrdfs, with which Rucio
# reads and writes its RSEs; PostgreSQL for the Datalake's Rucio; chromium for the class
# hub's browser test; cloud-init to check its user-data) and the chroot of the test HTCondor pool
# (tests/htcondor/pool.sh); installed only when running as root.
CONDOR_ROOT ?= /var/tmp/atlasod-htcondor
system-deps:
	@need=""; command -v xrootd >/dev/null 2>&1 || need="$$need xrootd-server"; \
	command -v xrdcp >/dev/null 2>&1 || need="$$need xrootd-client"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	command -v cloud-init >/dev/null 2>&1 || need="$$need cloud-init"; \
	if [ -n "$$need" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		bash tests/htcondor/pool.sh build $(CONDOR_ROOT); fi

# Regenerate the locks after editing an envs/*.in (keeps the current pins where it can;
# `make lock UPGRADE=1` takes the newest releases).
lock: install
	UV=$(BIN)/uv tools/locks.sh compile $(if $(UPGRADE),--upgrade)

# Every lock must satisfy its .in file: recompiling it changes nothing (tools/locks.sh).
lock-check: install
	UV=$(BIN)/uv tools/locks.sh check

# The notebooks students open (.ipynb), from the jupytext sources `atlasod notebook` writes.
notebooks: install
	$(BIN)/python tools/sync_notebooks.py

lint: install $(DEPLOY_STAMP)
	$(BIN)/ruff check src analyses tests tools benchmarks notebooks
	$(BIN)/ruff format --check src analyses tests tools benchmarks notebooks
	$(BIN)/snakefmt --check Snakefile workflows/rules
	$(BIN)/hadolint envs/Dockerfile
	$(BIN)/hadolint tests/classhub/Containerfile tests/classhub/cloud-init/Containerfile
	cd deploy/ansible && PATH=$(abspath $(DEPLOY_VENV))/bin:$$PATH ansible-lint --offline site.yml
	@if command -v cloud-init >/dev/null; then cloud-init schema --config-file deploy/cloud-init/user-data.yaml; \
	elif [ -n "$$CI" ]; then echo "cloud-init is needed to check deploy/cloud-init/user-data.yaml (make system-deps)"; exit 1; \
	else echo "cloud-init not installed: user-data not checked"; fi
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint --config source=demo

test: install $(SMK7) $(ROOT_STAMP) $(RUCIO_STAMP) $(DEPLOY_STAMP) system-deps lock-check lint docs reana-validate image
	PATH=$(abspath $(BIN)):$$PATH ATLASOD_SNAKEMAKE7=$(abspath $(SMK7)) ATLASOD_IMAGE_UNDER_TEST=$(IMAGE) \
		ATLASOD_CONDOR_ROOT=$(CONDOR_ROOT) ATLASOD_ROOT_PYTHON=$(abspath $(ROOT_PY)) \
		ATLASOD_RUCIO_PYTHON=$(abspath $(RUCIO_PY)) ATLASOD_DEPLOY_PYTHON=$(abspath $(DEPLOY_PY)) \
		$(BIN)/pytest

# The fault-injection tests alone (killed runs, cut downloads, corrupt cache, full disk,
# concurrent runs, a dying Dask worker); as root for the small file system.  Part of `test`.
faults: install system-deps
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pytest -m faults

clean:
	rm -rf results logs .snakemake site
