# No Contact: `make run` sets up and runs the service; `make test` sets up and runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOME_DIR ?= ./var

.PHONY: run test lint typecheck pytest deps venv bench clean bytecode

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(MAKE) -s bytecode
	touch $@

# Byte-compile our own package: the editable install is not compiled, and with
# PYTHONDONTWRITEBYTECODE set every `nocontact` command would recompile it (~0.1 s each).
bytecode:
	$(BIN)/python -m compileall -q service/nocontact

# Debian packages the tests drive for real (Dovecot, Chromium, …); installs only what is missing.
deps:
	bash deploy/install-deps.sh

run: venv
	$(BIN)/nocontact --home $(HOME_DIR) init
	$(BIN)/nocontact --home $(HOME_DIR) run

lint: venv
	$(BIN)/ruff check service tests bench fuzz
	$(BIN)/ruff format --check service tests bench fuzz

typecheck: venv
	$(BIN)/mypy

pytest: venv bytecode
	$(BIN)/pytest -q --hypothesis-profile=ci

test: venv deps lint typecheck pytest

bench: venv deps bytecode
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
