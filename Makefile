# kaohe — make run · make test (see README.md)
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && echo $$p && break; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# Extra pytest arguments: make test ARGS="-k ranking -x"
ARGS ?=

.PHONY: install run test test-domain test-db test-http lint faults migrate demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "kaohe needs Python 3.11 or newer"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# The three services; with no DATABASE_URL, on an embedded PostgreSQL under .data/pg.
run: install
	$(PY) -m tools.runner

# DATABASE_URL, else 127.0.0.1:5432, else an embedded PostgreSQL in a temporary directory.
test: install
	$(PY) -m tools.testrun -- -q $(ARGS)

# The tests by kind, each on its own: the pure rulebook (no database, seconds); the database
# alone; the services through HTTP (make test runs all three).
test-domain: install
	$(PY) -m pytest -q tests/domain $(ARGS)

test-db: install
	$(PY) -m tools.testrun -- -q tests/db $(ARGS)

test-http: install
	$(PY) -m tools.testrun -- -q tests/http $(ARGS)

# Lint, format and types (pyproject.toml configures ruff and mypy); CI runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The fault suite alone (also part of `make test`): database restart and SIGSTOP, leader SIGSTOP,
# kill -9 of the projector, slow and keyless clients, rebuilds under audits (docs/security.md).
faults: install
	$(PY) -m tools.testrun -- -q -m faults $(ARGS)

# Migrate DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/kaohe).
migrate: install
	$(PY) -m shared.migrate

demo: install
	$(PY) -m tools.cli demo

# Benchmarks on a fresh database on DATABASE_URL's server (else 127.0.0.1:5432), written to
# docs/benchmarks.md; HTTP load by wrk when installed (apt-get install wrk). make bench ARGS=--quick
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench.run $(ARGS)

# Stops the embedded server (if any) before deleting its data.
clean:
	-test -x $(PY) && $(PY) -m tools.devdb destroy
	rm -rf $(VENV) .data
