# The `ecomm` base image: the package and every locked dependency in /opt/venv, run as a non-root
# user. Every service image (airflow/, ml/, fastapi/, streamlit/, jupyter/) starts FROM it, and the
# one-shot jobs of docker-compose.yml (db-migrate, bootstrap) and dbt-docs run it as it is; it holds dbt
# (/opt/dbt-venv, requirements-dbt.lock) and the dbt project (/opt/ecomm/dbt) the loads build the marts with.
#   docker build -t ecomm:local .            (PYTHON_IMAGE: a mirror or a locally built base)
# The repository's layout is kept under /opt/ecomm (src/ installed in editable mode, as `make setup`
# does), so paths the package derives from its own location (airflow/dags, notebooks/) hold here too.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
# A C++ compiler: `implicit` has no wheel for CPython 3.11 and is built from its sdist.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ \
    && rm -rf /var/lib/apt/lists/*
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install "uv==${UV_VERSION}" \
    && python3 -m venv /opt/venv
# Dependencies first (a cached layer while the lock is unchanged), then the package.
COPY requirements.lock docker/requirements-images.lock /tmp/locks/
RUN /opt/uv/bin/uv pip sync --python /opt/venv/bin/python \
        /tmp/locks/requirements.lock /tmp/locks/requirements-images.lock
# dbt (the marts) in its own venv: dbt-common pins protobuf<7, requirements.lock has 7.x.
COPY requirements-dbt.lock /tmp/locks/
RUN python3 -m venv /opt/dbt-venv \
    && /opt/uv/bin/uv pip sync --python /opt/dbt-venv/bin/python /tmp/locks/requirements-dbt.lock
COPY pyproject.toml README.md /opt/ecomm/
COPY src /opt/ecomm/src
COPY dbt /opt/ecomm/dbt
RUN /opt/uv/bin/uv pip install --python /opt/venv/bin/python --no-deps -e /opt/ecomm

# -------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}
# libgomp1: OpenMP runtime of xgboost and implicit.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
# The user every service runs as (uid/gid 10001; named volumes take this ownership on first use).
RUN groupadd --system --gid 10001 ecomm \
    && useradd --system --uid 10001 --gid ecomm --create-home --home-dir /home/ecomm \
        --shell /usr/sbin/nologin ecomm \
    && mkdir -p /var/lib/ecomm /var/lib/mlflow /var/lib/ecomm-reports \
    && chown ecomm:ecomm /var/lib/ecomm /var/lib/mlflow /var/lib/ecomm-reports
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/dbt-venv /opt/dbt-venv
COPY --from=build /opt/ecomm /opt/ecomm
COPY docker/healthcheck.py /usr/local/bin/ecomm-healthcheck
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ECOMM_HOME=/var/lib/ecomm \
    ECOMM_DBT_EXECUTABLE=/opt/dbt-venv/bin/dbt
WORKDIR /opt/ecomm
USER 10001:10001
CMD ["ecomm", "--help"]
