# spfguard — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROVIDERS := $(wildcard providers/*/pyproject.toml)

.PHONY: install demo test lint bench conformance clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The core, every provider plugin and the test tools, all editable.
$(STAMP): pyproject.toml $(PROVIDERS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]' \
		$(foreach p,$(PROVIDERS),-e ./$(dir $(p)))
	touch $@

install: $(STAMP)

# The main job on the embedded fixture zones: no network.
demo: install
	$(BIN)/spfguard check aacn.org --zone fixtures/zones

test: install
	$(BIN)/python -m pytest

conformance: install
	$(BIN)/python -m spfguard.conformance fixtures/conformance/rfc7208-tests.yml fixtures/conformance/rfc4408-tests.yml

lint: install
	$(BIN)/ruff check spfguard tests bench $(wildcard providers)

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
