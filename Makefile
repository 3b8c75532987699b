# The template repository's entry points. The README's quick start is `make project`, then
# `make test`; both create the tool environment (.venv, with uv and Copier) on first use, so a
# fresh clone needs only Python 3.11+, git and make. `make help` lists the targets.

SHELL := /bin/bash
.DEFAULT_GOAL := help
# Interpreter that creates .venv when it is missing (3.11 or newer).
PYTHON ?= python3
# Where `make project` writes the generated project.
DEST ?= ../my-service
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# Generated projects' Makefiles call `uv`; the tool environment provides it.
export PATH := $(BIN):$(PATH)
# Python caches compiled modules even where the shell turns that off (many CI images set
# PYTHONDONTWRITEBYTECODE): the tests start Copier, uv and generated projects' tools hundreds of
# times, and each would otherwise compile every module it imports again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help venv project test test-fast test-slow lint bench

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv: $(VENV)/.synced ## Create or refresh the tool environment (.venv) from uv.lock

$(VENV)/.synced: pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit("prodready needs Python 3.11 or newer; run make with PYTHON=python3.11" if sys.version_info < (3, 11) else 0)'
	@test -x $(BIN)/uv || { echo "creating $(VENV) with $(PYTHON) and uv"; $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --disable-pip-version-check uv; }
	$(BIN)/uv sync --locked --quiet
	@touch $@

project: venv ## Generate a project from this checkout with the default answers into DEST (../my-service)
	$(BIN)/copier copy --trust --defaults --vcs-ref=HEAD $(CURDIR) $(DEST)

# Two workers, one test file each at a time (--dist loadfile keeps a file's module-scoped
# renders in one worker): the slow tier is mostly waiting on uv, Docker and servers.
test: venv ## Run the template's tests, both tiers (what .ci/run runs)
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -m "slow or not slow" --durations=25

# The render tier on two workers as well (it is mostly waiting on Copier, uv and the linters),
# offline: the hook then locks from uv's cache or not at all, and nothing here needs the index.
test-fast: venv ## Run the render tier only (about a minute and a half, no server, no network)
	UV_OFFLINE=1 $(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder

test-slow: venv ## Run the project tier only (minutes; PostgreSQL and Redis)
	$(BIN)/pytest -m slow

lint: venv ## Check the repository's own Python (tests, hooks, bench)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: venv ## Measure copy and generated-suite times into docs/benchmarks.md
	$(BIN)/python bench/run.py
