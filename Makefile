# SNP Dispatch: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help install run test test-fast test-sqlite lint format bench lock clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed  ## install the service and its test tools into .venv

$(VENV)/.installed: setup.cfg pyproject.toml scripts/venv.sh
	bash scripts/venv.sh $(PYTHON) $(VENV)
	touch $@

run: install  ## migrate, load the demo community and serve on http://127.0.0.1:5000
	DISPATCH_ENV=development $(BIN)/dispatch db upgrade
	DISPATCH_ENV=development $(BIN)/dispatch demo
	DISPATCH_ENV=development DISPATCH_DEV_INBOX=1 $(BIN)/dispatch serve --host 127.0.0.1 --port 5000

test: install  ## install PostgreSQL and Chromium if missing, run the suite on SQLite and PostgreSQL
	bash scripts/test.sh

test-fast: install  ## the inner loop: the suite on SQLite, without the browser, fuzzing or real processes
	$(BIN)/python -m pytest -q -m "not browser and not slow and not fuzz"

test-sqlite: install  ## run the whole suite on SQLite only
	$(BIN)/python -m pytest

lint: install  ## ruff (lint and format check), mypy over dispatch, mobile_api and config
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install  ## format the code (ruff format) and sort imports
	$(BIN)/ruff check --fix --select I .
	$(BIN)/ruff format .

bench: install  ## run the benchmarks (figures printed, see bench/README.md)
	bash scripts/bench.sh

lock:  ## regenerate deploy/requirements.lock (pinned, hashed) from setup.cfg, for the image
	bash scripts/lock.sh

clean:  ## remove the virtualenv and the local database
	rm -rf $(VENV) instance
