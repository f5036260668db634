# Proctor — developer and demo entry points. See README.md.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-quick lint typecheck check bench clean system-deps-demo system-deps-test

install: $(STAMP)

# Recreated only when the lock file or project metadata change, so a second `make install` is instant.
$(STAMP): requirements.lock pyproject.toml
	@scripts/ensure-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

system-deps-demo:
	@scripts/system-deps.sh demo

system-deps-test:
	@scripts/system-deps.sh test

demo: install system-deps-demo
	$(VENV)/bin/proctor demo

test: install system-deps-test lint typecheck
	$(VENV)/bin/pytest

test-quick: install
	$(VENV)/bin/pytest -m "not integration and not compat"

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test-quick

bench: install system-deps-test
	$(VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
