# The two set-up commands (README): `make serve` and `make test`. Both work on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 4599
STORE  ?= sqlite:///./.kmsd/kmsd.db
# The PostgreSQL server `make bench-scaling` creates (and drops) its database on; `none` leaves those rows out.
BENCH_POSTGRES ?= postgresql://postgres@127.0.0.1:5432
# More `kmsd serve` flags, passed through as given: make serve ARGS="--dev --explain-denials"
ARGS   ?=

.PHONY: serve test lint typecheck unit soak bench bench-scaling system-test-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[postgres]'
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

serve: $(VENV)/.installed
	$(BIN)/kmsd serve --host $(HOST) --port $(PORT) --store $(STORE) $(ARGS)

# System packages the tests and benchmarks need, installed only when missing.
system-test-deps:
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	@# SoftHSM2 is the PKCS#11 token the custom key store tests initialise and drive (tests/integration).
	@command -v softhsm2-util >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq softhsm2 >/dev/null; }
	@# The openssl command decrypts CiphertextForRecipient in the Recipient tests, independently of kmsd.
	@command -v openssl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
	@# Debian's Chromium is the browser the web console's end-to-end tests drive through Playwright (tests/console).
	@test -x /usr/bin/chromium || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed
	$(BIN)/pytest -q -m "not soak"

test: $(VENV)/.test-installed system-test-deps lint typecheck unit

$(VENV)/.soak-installed: pyproject.toml $(VENV)/.test-installed
	$(BIN)/python -m pip install -q -e '.[test,soak]'
	touch $@

soak: $(VENV)/.soak-installed
	$(BIN)/pytest -q -m soak

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.test-installed
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed system-test-deps
	$(BIN)/python bench/run.py

$(VENV)/.bench-scaling-installed: pyproject.toml $(VENV)/.bench-installed
	$(BIN)/python -m pip install -q -e '.[test,bench,postgres]'
	touch $@

# Encrypt on 1, 2, 3 processes: kmsd --workers on SQLite, kmsd nodes on one PostgreSQL, the ceiling (bench/README.md).
bench-scaling: $(VENV)/.bench-scaling-installed system-test-deps
	$(BIN)/python bench/scaling.py --postgres $(BENCH_POSTGRES)

clean:
	rm -rf $(VENV) .kmsd .pytest_cache .mypy_cache .ruff_cache .hypothesis
