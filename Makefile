# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CONSTRAINTS := constraints/dev.txt

.PHONY: setup test lint typecheck cfn-lint unit demo bench package clean constraints lower-bounds

# The development tools at the versions in constraints/dev.txt (what CI runs); `make constraints`
# rewrites that file from the current .venv after a dependency change.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint src/trailguard/data/trailguard.yaml

test: lint typecheck cfn-lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/trailguard demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

package: $(STAMP)
	$(BIN)/trailguard package --output-dir out

constraints: $(STAMP)
	{ sed -n '1,2p' $(CONSTRAINTS); $(BIN)/pip freeze --exclude-editable | grep -iv '^trailguard'; $(BIN)/pip freeze --all | grep -i '^setuptools=='; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

# The lowest allowed versions of the runtime dependencies (constraints/lower-bounds.txt), in their own
# venv, against the deploy and CLI tests.
lower-bounds:
	$(PYTHON) -m venv .venv-lower
	.venv-lower/bin/pip install --quiet -c constraints/lower-bounds.txt -e '.[local]' pytest pytest-xdist cfn-lint awscli 'setuptools>=77'
	.venv-lower/bin/python -m pytest -n 0 -q tests/deploy tests/cli

clean:
	rm -rf $(VENV) .venv-lower out build dist .mypy_cache .ruff_cache .pytest_cache
