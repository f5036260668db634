# Proctor — developer and demo entry points. See README.md.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed

ACCEL  := $(VENV)/.accel

.PHONY: install demo test test-quick lint typecheck check bench clean system-deps-demo system-deps-test accel-required

install: $(STAMP) $(ACCEL)

# Recreated only when the lock file or project metadata change, so a second `make install` is instant.
$(STAMP): requirements.lock pyproject.toml
	@scripts/ensure-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# The hot-path loops compiled with mypyc (scripts/build-accel.py); rebuilt when they change.
# Without a C compiler this warns and Proctor runs them interpreted (slower, same results).
$(ACCEL): $(STAMP) scripts/build-accel.py src/proctor/codecs/pgwire/walk.py
	@$(VENV)/bin/python scripts/build-accel.py --stamp $@

# Tests and benchmarks must exercise the compiled loops: fail rather than quietly skip them.
accel-required: install
	@$(VENV)/bin/python scripts/build-accel.py --require

system-deps-demo:
	@scripts/system-deps.sh demo

system-deps-test:
	@scripts/system-deps.sh test

demo: system-deps-demo install
	$(VENV)/bin/proctor demo

test: install system-deps-test accel-required lint typecheck
	PROCTOR_REQUIRE_ACCEL=1 $(VENV)/bin/pytest

test-quick: install
	$(VENV)/bin/pytest -m "not integration and not compat"

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test-quick

bench: install system-deps-test accel-required
	$(VENV)/bin/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
	find src -name "*.so" -delete
