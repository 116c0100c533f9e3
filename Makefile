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

# Where `make run` serves the demo: make run PORT=8001 (HOST=0.0.0.0 to listen on every
# interface). Links in the demo's emails point at that server unless ERPSYNC_BASE_URL is set,
# and a HOST of its own is added to the default ALLOWED_HOSTS.
HOST ?= 127.0.0.1
PORT ?= 8000
LINK_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))
EXTRA_HOST := $(filter-out 127.0.0.1 localhost 0.0.0.0 ::,$(HOST))
HOSTS_ENV := ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost,$(EXTRA_HOST)}"
DEMO_ENV := ERPSYNC_BASE_URL="$${ERPSYNC_BASE_URL:-http://$(LINK_HOST):$(PORT)}" \
	$(if $(EXTRA_HOST),$(HOSTS_ENV))

.PHONY: help python-check install run migrate demo demo-reset test contract lint fmt check-deploy clean tryton connector

help:
	@echo "make run    - install, migrate, load demo data and serve http://127.0.0.1:8000"
	@echo "              (make run PORT=8001 HOST=0.0.0.0 to serve elsewhere)"
	@echo "make demo-reset - rebuild the demo data and mail files from scratch (SQLite only,"
	@echo "              unless FORCE=1)"
	@echo "make test   - install and run the whole test suite on PostgreSQL and Redis (started"
	@echo "              for the run when nothing answers; see scripts/test_services.py)"
	@echo "make contract - the API's contract alone: the schema validates without warnings and"
	@echo "              schemathesis checks every operation against it (EXAMPLES=200 for more)"
	@echo "make lint   - ruff check and ruff format --check"
	@echo "make fmt    - ruff format and fix"
	@echo "make tryton - install Tryton 8.0 and its web client in var/tryton, set up its books,"
	@echo "              start it on http://127.0.0.1:$(TRYTON_PORT)/ (log in as admin/admin) and"
	@echo "              point the demo company at it"
	@echo "make connector - switch the demo company to the pull connector and run"
	@echo "              examples/connector.py against make run (its ERP: var/erp.json)"

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
	$(DEMO_ENV) $(PY) manage.py seed_demo

# Deletes the embedded SQLite database and the mail files, migrates and loads the demo again.
# A PostgreSQL DATABASE_URL is refused unless FORCE=1 (then every row in it is deleted).
demo-reset: install
	@case "$${DATABASE_URL:-}" in postgres*|pgsql*) test "$(FORCE)" = 1 || { \
		echo "make demo-reset: refusing to reset: DATABASE_URL points at PostgreSQL, and a reset" \
		     "deletes every row in it. If that database holds only the demo: make demo-reset FORCE=1" >&2; \
		exit 1; };; esac
	$(DEMO_ENV) $(PY) manage.py seed_demo --reset $(if $(filter 1,$(FORCE)),--force)
	@echo "Serve it with: make run$(if $(filter-out 8000,$(PORT)), PORT=$(PORT))"

run: demo
	$(DEMO_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

# When nothing answers at those addresses, scripts/test_services.py starts a throwaway
# PostgreSQL (initdb under var/test-services/) and Redis on spare ports for the run and stops them
# afterwards; without their binaries it prints the apt-get command and fails.
test: install
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)}" \
	$(PY) scripts/test_services.py $(PY) -m pytest $(PYTEST_ARGS)

# The API's contract (tests/test_api_contract.py): `manage.py spectacular --validate
# --fail-on-warn`, then schemathesis against the live /api/v1/schema/ with a seeded user's token:
# no 5xx, and every status, content type, header and body as documented. EXAMPLES cases per
# operation (25 by default; RANDOM=1 draws new ones instead of the reproducible set).
EXAMPLES ?= 25
contract: install
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)}" \
	ERPSYNC_CONTRACT_EXAMPLES=$(EXAMPLES) ERPSYNC_CONTRACT_RANDOM=$(RANDOM) \
	$(PY) scripts/test_services.py $(PY) -m pytest tests/test_api_contract.py $(PYTEST_ARGS)

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

# Tryton 8.0 as a real ERP: its own venv, web client (sao, from npm), config and SQLite database
# under var/tryton/ (built once, reused after), the server started in the background (pid in
# var/tryton/trytond.pid), serving sao at http://127.0.0.1:$(TRYTON_PORT)/.
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

# The demo company's ERP becomes examples/connector.py's JSON file: switch the company to the
# pull connector adapter, make a one-day API token for `controller` (an Admin of its ERP
# Integrations tool) and run the connector every 5 s against `make run` (started separately,
# same PORT). `make demo-reset` puts the demo back on the sandbox adapter.
connector: demo
	$(PY) manage.py erp_configure --company demo-builders --adapter connector
	@token=$$($(PY) manage.py api_token --company demo-builders --user controller \
		--name "Demo pull connector" --days 1) && \
	echo "[connector] syncing demo-builders into var/erp.json every 5 s (Ctrl-C stops)" && \
	$(PY) examples/connector.py --base-url http://$(LINK_HOST):$(PORT) --company demo-builders \
		--token "$$token" --erp-file var/erp.json --interval 5

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
