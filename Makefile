# spfguard — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
PROVIDERS := $(wildcard providers/*/pyproject.toml)
VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
# the tag deploy/kubernetes/ pulls (tests/test_deploy.py holds them equal)
IMAGE     ?= registry.example.com/spfguard:$(VERSION)
CONTAINER ?= $(shell command -v docker || command -v podman)

.PHONY: install demo test lint bench conformance clean man image

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What the demo needs: the core alone (editable), no test tools, no provider SDKs.
$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

# The tests: the core with its test extras, and every provider plugin (all editable).
$(VENV)/.installed-test: pyproject.toml $(PROVIDERS) | $(BIN)/python
	$(PIP) -e '.[test]' $(foreach p,$(PROVIDERS),-e ./$(dir $(p)))
	touch $@ $(VENV)/.installed-core

install: $(VENV)/.installed-test

# The main job on the embedded fixture zones: no network.
demo: $(VENV)/.installed-core
	$(BIN)/spfguard check aacn.org --zone fixtures/zones

# independent tests run on every core (pytest-xdist); the 1,000-domain report page is a benchmark (make bench)
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n auto

conformance: $(VENV)/.installed-core
	$(BIN)/python -m spfguard.conformance fixtures/conformance/rfc7208-tests.yml fixtures/conformance/rfc4408-tests.yml

PLUGINS := $(filter-out %.egg-info,$(wildcard providers/*/spfguard_*))

lint: $(VENV)/.installed-test
	$(BIN)/ruff check spfguard tests bench $(wildcard providers)
	$(BIN)/mypy spfguard $(PLUGINS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/senders.py
	$(BIN)/python bench/fleet.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info build dist

# the man page, generated from the CLI (tests/test_manpage.py holds man/spfguard.1 equal to it)
man: $(VENV)/.installed-core
	$(BIN)/python -m spfguard.cli.manpage > man/spfguard.1

# the fleet job's image (Dockerfile); needs docker or podman
image:
	@test -n "$(CONTAINER)" || { echo "make image: needs docker or podman" >&2; exit 2; }
	$(CONTAINER) build -t $(IMAGE) .
