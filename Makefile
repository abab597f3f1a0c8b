# The two commands: `make serve` and `make test`. Both create .venv when it is
# missing and install what they need; a second run only checks stamps.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATA_DIR ?= ./var
HOST ?= 127.0.0.1

.PHONY: serve test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-run
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# DEMO=1 make serve adds a demo shift: simulated officers and calls arriving.
serve: $(VENV)/.stamp-run
	exec $(BIN)/dispatch serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

test: $(VENV)/.stamp-dev lint typecheck
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
