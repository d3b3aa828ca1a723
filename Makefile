# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck cfn-lint unit demo bench package clean fuzz

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

test: lint typecheck cfn-lint
	$(BIN)/python -m pytest

# The property-based fuzz tests at full strength (`make test` runs them with fewer examples).
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	TRAILGUARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -n 0

demo: $(STAMP)
	$(BIN)/trailguard demo

bench: $(STAMP)
	$(BIN)/python bench/run.py

package: $(STAMP)
	$(BIN)/trailguard package --output-dir out

clean:
	rm -rf $(VENV) out build dist .mypy_cache .ruff_cache .pytest_cache
