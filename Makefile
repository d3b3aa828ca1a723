# Every target sets up what it needs: a fresh machine with Python 3.11+ is enough.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CONSTRAINTS := constraints/dev.txt

# checkov has its own environment: its pinned dependencies clash with the test tools'.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

# Cloud Custodian, measured beside trailguard by `make bench`, in its own environment (its pinned boto3
# differs from the test tools'), with the moto the bench's in-process worlds use.
CUSTODIAN_VERSION := 0.9.53
CUSTODIAN_VENV := .venv-bench-custodian
CUSTODIAN_STAMP := $(CUSTODIAN_VENV)/.installed-$(CUSTODIAN_VERSION)

.PHONY: setup test lint typecheck cfn-lint checkov unit demo bench package clean constraints lower-bounds fuzz

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
	$(BIN)/cfn-lint src/trailguard/data/trailguard.yaml src/trailguard/data/central.yaml

$(CHECKOV_STAMP):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $(CHECKOV_STAMP)

# Every check passes or is skipped in the template with its reason (Metadata: checkov: skip).
checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		--file src/trailguard/data/trailguard.yaml --file src/trailguard/data/central.yaml

test: lint typecheck cfn-lint checkov
	$(BIN)/python -m pytest

# The property-based fuzz tests at full strength (`make test` runs them with fewer examples).
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	TRAILGUARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/fuzz -n 0 -p no:cacheprovider \
		--hypothesis-show-statistics --durations=0

demo: $(STAMP)
	$(BIN)/trailguard demo

$(CUSTODIAN_STAMP): $(CONSTRAINTS)
	rm -rf $(CUSTODIAN_VENV)
	$(PYTHON) -m venv $(CUSTODIAN_VENV)
	$(CUSTODIAN_VENV)/bin/pip install --quiet --upgrade pip
	$(CUSTODIAN_VENV)/bin/pip install --quiet 'c7n==$(CUSTODIAN_VERSION)' "$$(grep -i '^moto==' $(CONSTRAINTS))"
	touch $(CUSTODIAN_STAMP)

# trailguard beside the floor, Cloud Custodian and (with TRAILGUARD_BENCH_SAMPLE=its checkout) the
# aws-sample, then the package's cold start and the local cloud's latencies (bench/run.py). BENCH_ARGS go
# to the comparison (e.g. BENCH_ARGS="--rounds 3 --storm 200").
BENCH_ARGS ?=
bench: $(STAMP) $(CUSTODIAN_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

package: $(STAMP)
	$(BIN)/trailguard package --output-dir out

constraints: $(STAMP)
	{ sed -n '1,2p' $(CONSTRAINTS); $(BIN)/pip freeze --exclude-editable | grep -iv '^trailguard'; $(BIN)/pip freeze --all | grep -i '^setuptools=='; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

# The lowest allowed versions of the runtime dependencies (constraints/lower-bounds.txt), in their own
# venv, against the deploy and CLI tests.
lower-bounds:
	$(PYTHON) -m venv .venv-lower
	.venv-lower/bin/pip install --quiet -c constraints/lower-bounds.txt -e '.[local,fast]' pytest pytest-xdist cfn-lint awscli 'setuptools>=77'
	.venv-lower/bin/python -m pytest -n 0 -q tests/deploy tests/cli

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(CUSTODIAN_VENV) .venv-lower out build dist .mypy_cache .ruff_cache .pytest_cache
