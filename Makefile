# Proctor — developer and demo entry points. See README.md.
PYTHON ?= python3
VENV   ?= .venv
STAMP  := $(VENV)/.installed

.PHONY: install accel demo test test-quick lint typecheck check bench clean system-deps-demo system-deps-test accel-required

install: $(STAMP) accel

# Recreated only when the lock file or project metadata change, so a second `make install` is instant.
$(STAMP): requirements.lock pyproject.toml
	@scripts/ensure-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

# The hot-path modules compiled with mypyc (src/proctor/hotpath.py, scripts/build-accel.py):
# rebuilt when one of them changed, otherwise nothing to do. Without a C compiler this warns
# and Proctor runs them interpreted (slower, same results).
accel: $(STAMP)
	@$(VENV)/bin/python scripts/build-accel.py

# Tests and benchmarks must exercise the compiled loops: fail rather than quietly skip them.
accel-required: install
	@$(VENV)/bin/python scripts/build-accel.py --require

system-deps-demo:
	@scripts/system-deps.sh demo

system-deps-test:
	@scripts/system-deps.sh test

demo: system-deps-demo install
	$(VENV)/bin/proctor demo

# The whole suite runs on the compiled hot path; the unit tests run interpreted too (what a
# machine without a C compiler runs).
test: install system-deps-test accel-required lint typecheck
	PROCTOR_REQUIRE_ACCEL=1 $(VENV)/bin/pytest
	PROCTOR_PURE_PYTHON=1 $(VENV)/bin/pytest -q tests/unit

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
	rm -f src/proctor/compiled.json
