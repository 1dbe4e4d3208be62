# Two commands a newcomer needs:
#   make run    set up, then run the demo: portal emulator + sample sources + Airflow standalone
#   make test   set up (with test tools), then run the whole test suite
# Everything installs into .venv from the pinned requirements; nothing global is touched.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: setup setup-dev run test lint check-pins clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# uv installs the pinned set in seconds (pip takes about a minute here). Bytecode is compiled
# at install time because PYTHONDONTWRITEBYTECODE may be set, which would make every
# Airflow process start slowly.
$(VENV)/.runtime: $(BIN)/uv requirements.txt pyproject.toml
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	UV_COMPILE_BYTECODE=1 $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt -e .
	touch $@

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

run: setup
	$(BIN)/opendata demo

test: setup-dev
	scripts/test.sh

# The dataset files, then ruff, then mypy (pyproject.toml [tool.mypy]; its cache is .mypy_cache).
# scripts/test.sh runs the same three before the tests, so CI fails on any of them.
lint: setup-dev
	$(BIN)/opendata lint
	$(BIN)/ruff check plugins dags tests bench
	$(BIN)/mypy

check-pins: setup-dev
	$(BIN)/uv pip check --python $(BIN)/python

clean:
	rm -rf $(VENV) .local
