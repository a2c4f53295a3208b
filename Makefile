# The two commands a user needs are `make up` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup up down status test test-unit test-integration bench lint lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

setup: $(STAMP)  ## create .venv and install the locked dependencies

up: setup  ## start the platform (embedded PostgreSQL, schema, a year of history on first run)
	$(BIN)/python -m ecomm.platform up

down: setup  ## stop what `make up` started (data is kept)
	$(BIN)/python -m ecomm.platform down

status: setup  ## show what is running and what the warehouse holds
	$(BIN)/python -m ecomm.platform status

test: setup  ## unit, integration and end-to-end tests against real components
	$(BIN)/python -m pytest

test-unit: setup
	$(BIN)/python -m pytest tests/unit

test-integration: setup
	$(BIN)/python -m pytest tests/integration

bench: setup  ## speed and memory benchmarks; results in benchmarks/results/
	$(BIN)/python -m benchmarks.run

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		-o requirements.lock --no-header --annotation-style line --quiet

clean:  ## remove the virtualenv (not the data in .ecomm/)
	rm -rf $(VENV)
