# Charla — everyday commands. `make run` and `make test` work on a fresh machine:
# both start with scripts/bootstrap.sh (venv, dependencies, PostgreSQL, Redis,
# database, migrations). See README.md and docs/operations.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: help setup run test migrate seed lint bench messages

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## Venv + deps (incl. dev), services, database, migrations, beat schedule
	@bash scripts/bootstrap.sh --dev

run: ## Set up, seed the demo tenant, start web + worker + beat (PORT=8000)
	@bash scripts/run.sh

test: ## Set up, then ruff, import layers, migrations check, the whole pytest suite (ARGS=...)
	@bash scripts/test.sh

migrate: ## Apply migrations
	@SKIP_MIGRATE=1 bash scripts/bootstrap.sh
	$(PY) manage.py migrate

seed: ## Create or refresh the demo tenant (idempotent)
	@bash scripts/bootstrap.sh
	$(PY) manage.py seed_demo

lint: ## ruff + import-linter
	@SKIP_MIGRATE=1 bash scripts/bootstrap.sh --dev
	ruff check .
	lint-imports

bench: ## Run the benchmarks in bench/ (bench/run.py)
	@bash scripts/bootstrap.sh --dev
	@if [ -f bench/run.py ]; then $(PY) bench/run.py $(ARGS); \
	else echo "No benchmarks yet: add bench/run.py"; fi

messages: ## Extract (es) and compile translations; needs gettext
	@command -v msgfmt >/dev/null || { echo "Install gettext: apt-get install gettext"; exit 1; }
	@SKIP_MIGRATE=1 bash scripts/bootstrap.sh
	mkdir -p locale
	$(PY) manage.py makemessages -l es --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=var
	$(PY) manage.py makemessages -d djangojs -l es --ignore=.venv --ignore=node_modules --ignore=staticfiles --ignore=var --ignore=static/vendor
	$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules
