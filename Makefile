# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck cfn-lint checkov unit demo bench package clean

# checkov has its own environment: its pinned dependencies clash with the test tools'.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint src/trailguard/data/trailguard.yaml

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

# Every check passes or is skipped in the template with its reason (Metadata: checkov: skip).
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		--file src/trailguard/data/trailguard.yaml

test: lint typecheck cfn-lint checkov
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/trailguard demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

package: $(STAMP)
	$(BIN)/trailguard package --output-dir out

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) out build dist .mypy_cache .ruff_cache .pytest_cache
