# No Contact: `make run` sets up and runs the service; `make test` sets up and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= ./var

.PHONY: run test lint typecheck pytest deps venv bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Debian packages the tests drive for real (Dovecot, Chromium, …); installs only what is missing.
deps:
	bash deploy/install-deps.sh

run: venv
	$(BIN)/nocontact --home $(HOME_DIR) init
	$(BIN)/nocontact --home $(HOME_DIR) run

lint: venv
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest -q

test: venv deps lint typecheck pytest

bench: venv deps
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
