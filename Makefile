# groklab: two commands on a fresh machine.
#   make demo   create .venv, install, train a model that visibly groks, print its summary and report
#   make test   install the dev and optional extras, run the whole suite (what CI runs)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= groklab-runs
# test files run in 2 processes (pytest-xdist), one file per process at a time: the suite is mostly
# single-threaded compilation, so 2 cores finish it ~1.45x sooner (measured: 479 s vs 700 s serial)
TEST_WORKERS ?= 2

.PHONY: demo test install install-dev lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e ".[dev,tl,ray,trackers]"
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null; \
	  else echo "note: install Debian's chromium for the browser tests"; fi; fi

demo: install
	$(BIN)/groklab demo --store $(STORE)

test: install-dev
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

lint: install-dev
	$(BIN)/ruff check groklab tests benchmarks

bench: install-dev
	$(BIN)/groklab bench

clean:
	rm -rf $(VENV) $(STORE) .pytest_cache
