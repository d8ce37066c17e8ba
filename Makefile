# One task runner, the same verbs everywhere: run | test | lint | typecheck | eval | bench.
# Every target installs what it needs first, so each one works on a fresh machine and is safe to re-run.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.siyu-installed

# No model hub is reachable: nothing may try one.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-unit test-integration lint format typecheck layers deps wheel-smoke lock eval eval-ci bench local-llm clean

install: $(STAMP)

# requirements-dev.lock is requirements.lock plus the dev tools that test, lint, typecheck and deps need.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "需要 Python 3.11 ($(PYTHON) not found)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, in its own step: a plain `torch` pulls a multi-GB CUDA build.
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	@touch $@

run: $(STAMP)
	$(BIN)/siyu run

# In parallel, one worker per core; --dist loadscope keeps a module's tests (and its module-scoped
# fixtures: the demo shop's knowledge base, a Celery worker) on one worker, so they are built once.
PYTEST_PARALLEL := -n auto --dist loadscope --durations=20

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Integration + e2e only: CI runs these a second time against Postgres and Redis.
test-integration: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) tests/integration tests/e2e

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

# The import contracts in pyproject.toml ([tool.importlinter]): no layer imports upward.
layers: $(STAMP)
	$(BIN)/lint-imports

# Every third-party import is declared in pyproject, and every declared dependency is imported (deptry).
deps: $(STAMP)
	$(BIN)/deptry .

# Build the wheel, install it with requirements.lock into a fresh venv and run it outside the checkout.
wheel-smoke: $(STAMP)
	bash scripts/wheel_smoke.sh

# Re-resolve both lock files from pyproject (keeps existing pins; `bash scripts/lock.sh --upgrade` moves them).
lock:
	bash scripts/lock.sh

# Every suite with its thresholds; exits non-zero on a regression.
eval: $(STAMP)
	$(BIN)/siyu eval all

# The quick subset CI runs, with the same thresholds.
eval-ci: $(STAMP)
	$(BIN)/siyu eval all --quick

bench: $(STAMP)
	$(BIN)/siyu bench all

local-llm: $(STAMP)
	bash scripts/local_llm.sh

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
