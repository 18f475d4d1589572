# Veritas: `make run` serves, `make test` tests. Both set everything up first:
# a .venv with a Python >= 3.12 found by scripts/find-python, the pinned dependencies,
# the database (embedded PostgreSQL + pgvector unless DATABASE_URL is set), migrations,
# and demo data. Running either again keeps all data.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export OMP_NUM_THREADS ?= 1
export PYTHONDONTWRITEBYTECODE = 1

.PHONY: help setup run test bench worker lint fmt shell psql db-stop clean-venv

help:
	@echo "make run     set up, then serve on http://$(HOST):$(PORT) (admin at /admin/, API docs at /api/v1/docs/)"
	@echo "make test    set up, then lint and run the whole test suite"
	@echo "make bench   run the benchmarks (ratios against baselines measured in the same run)"
	@echo "make worker  run a background-task worker (django-tasks-db)"
	@echo "make lint | fmt | shell | psql | db-stop"

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || { python=$$(PYTHON="$(PYTHON)" scripts/find-python) && echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV); }
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 2> >(grep -v "^WARNING: Location" >&2)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
	@touch $@

# Development settings, written once and never committed: Veritas is safe by default
# (DEBUG off, no SECRET_KEY), so a development checkout says what it needs here.
.env:
	@printf '%s\n' "# Development settings written by make (never commit; delete to regenerate)." \
		"DEBUG=true" "SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')" > $@
	@echo "Wrote .env for development (DEBUG=true, a random SECRET_KEY); see .env.example for the rest."

# The embedded database (if DATABASE_URL is unset) is started explicitly, which also lifts a
# `make db-stop`; verify_database connects and explains what to do if that fails.
setup: $(STAMP) .env
	@$(MANAGE) embedded_db start --if-embedded
	@$(MANAGE) verify_database --allow-pending-migrations
	@$(MANAGE) migrate --noinput
	@$(MANAGE) seed_demo

run: setup
	$(MANAGE) runserver $(HOST):$(PORT)

test: setup lint
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks

worker: setup
	$(MANAGE) evaluate_health --schedule
	$(MANAGE) prune_research --schedule
	$(MANAGE) db_worker --queue-name '*'

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

shell: setup
	$(MANAGE) shell

# psql from the pgserver wheel (matches the embedded server) unless one is on PATH.
psql: setup
	PATH="$$PATH:$$($(PY) -c 'from pgserver._commands import POSTGRES_BIN_PATH; print(POSTGRES_BIN_PATH)')" $(MANAGE) dbshell

# It stays stopped (requests get 503, nothing restarts it) until `make run` or `make test`.
db-stop: $(STAMP)
	$(MANAGE) embedded_db stop

clean-venv:
	rm -rf $(VENV)
