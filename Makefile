# The two commands: `make serve` and `make test` (and `make check`, the fast loop). Each creates
# .venv when it is missing and installs what it needs; a second run only checks stamps.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATA_DIR ?= ./var
HOST ?= 127.0.0.1

VENDOR := static/vendor

.PHONY: serve test check lint typecheck clean chromium postgresql pdf-libs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-run
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Front-end libraries from npm (Leaflet, Chart.js; axe-core for the accessibility tests),
# served by the hub from node_modules.
$(VENDOR)/node_modules/.stamp: $(VENDOR)/package.json $(VENDOR)/package-lock.json
	cd $(VENDOR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser tests drive Debian's chromium; install it when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; \
	  fi; }

# Letters and reports are rendered to PDF by WeasyPrint, which needs Pango and a font from Debian;
# installed when missing and we are root.
pdf-libs:
	@{ ldconfig -p | grep -q 'libpangoft2-1.0.so.0' && fc-list 2>/dev/null | grep -qi dejavu; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig fonts-dejavu-core >/dev/null; \
	  else \
	    echo "letters need Pango for PDFs: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core" >&2; exit 1; \
	  fi; }

# DEMO=1 make serve adds a demo shift: simulated officers and calls arriving.
serve: $(VENV)/.stamp-run $(VENDOR)/node_modules/.stamp pdf-libs
	exec $(BIN)/dispatch serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

lint: $(VENV)/.stamp-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.stamp-dev
	$(BIN)/mypy

# Everything: the tiers on three workers (each with its own Valkey), then the load scenarios,
# which measure, one at a time on a quiet machine. JOBS=1 runs it all in one process.
JOBS ?= 3
# The records-store tests run on SQLite and on a private PostgreSQL server each test session
# starts (server/records/private_postgres.py) from Debian's postgresql: installed when missing
# and we are root. Nothing is started as a system service.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "the records-store tests need Debian's postgresql: sudo apt-get install postgresql" >&2; exit 1; \
	  fi; }

test: $(VENV)/.stamp-dev $(VENDOR)/node_modules/.stamp chromium postgresql pdf-libs lint typecheck
	$(BIN)/pytest -m "not alone" $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile)
	$(BIN)/pytest -m alone

# The developer's loop, in under two minutes: lint, types, import rules, the pure and hub tiers.
check: postgresql pdf-libs lint typecheck
	$(BIN)/pytest -m "not slow" -q -n 3 --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
