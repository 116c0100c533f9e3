# erpsync: `make run` for the embedded demo, `make test` for the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# pyenv reads .python-version (3.13); elsewhere any python3.12+ on the PATH will do.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do $$p -c 'import sys' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The test suite runs on real PostgreSQL and Redis (the machines' local servers by default).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/erpsync
TEST_BROKER_URL ?= redis://127.0.0.1:6379/14

.PHONY: help python-check install run migrate demo test lint fmt check-deploy clean tryton

help:
	@echo "make run    - install, migrate, load demo data and serve http://127.0.0.1:8000"
	@echo "make test   - install and run the whole test suite (needs PostgreSQL and Redis)"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make fmt    - ruff format and fix"
	@echo "make tryton - install Tryton 8.2 in var/tryton, set up its books, start it on"
	@echo "              http://127.0.0.1:$(TRYTON_PORT)/ and point the demo company at it"

python-check:
	@test -n "$(PYTHON)" || { echo "No Python interpreter found: install Python >= 3.12." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; v = sys.version_info; ok = v >= (3, 12); print(f"Using Python {v.major}.{v.minor}.{v.micro} ($(PYTHON))"); sys.exit(0 if ok else 1)' \
		|| { echo "erpsync needs Python >= 3.12 (Django 6). Install it, or with pyenv keep .python-version (3.13)." >&2; exit 1; }

$(STAMP): pyproject.toml | python-check
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: python-check $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: install
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)}" \
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check-deploy: install
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	ALLOWED_HOSTS=erpsync.example.com DATABASE_URL="$(TEST_DATABASE_URL)" \
	CELERY_BROKER_URL="$(TEST_BROKER_URL)" EMAIL_URL=smtp://127.0.0.1:25 \
	$(PY) manage.py check --deploy --fail-level WARNING

# Tryton 8.2 as a real ERP: its own venv, config and SQLite database under var/tryton/ (built
# once, reused after), the server started in the background (pid in var/tryton/trytond.pid).
TRYTON_DIR := var/tryton
TRYTON_DB := erpsync
TRYTON_PORT ?= 8100

tryton: demo
	@start=$$(date +%s); \
	tryton/build.sh $(TRYTON_DIR) $(TRYTON_DB) $(TRYTON_PORT) && \
	tryton/start.sh $(TRYTON_DIR) $(TRYTON_DB) && \
	$(PY) manage.py erp_configure --company demo-builders --adapter tryton \
		--set url=http://127.0.0.1:$(TRYTON_PORT)/ --set database=$(TRYTON_DB) \
		--set username=admin --set password=admin && \
	echo "[tryton] ready in $$(( $$(date +%s) - start )) s; stop it with: kill \$$(cat $(TRYTON_DIR)/trytond.pid)"

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
