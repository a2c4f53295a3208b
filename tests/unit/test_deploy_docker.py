"""The Dockerfiles: hadolint-clean, non-root, base images as build arguments, locks consistent."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecomm.settings import Settings

from support.deploy import REPO, dockerfile_instructions, final_stage

SERVICE_DOCKERFILES = ["airflow/Dockerfile", "ml/Dockerfile", "fastapi/Dockerfile", "streamlit/Dockerfile", "jupyter/Dockerfile"]  # fmt: skip
PROMETHEUS_DOCKERFILE = "monitoring/Dockerfile"  # Debian's package on the Python base, not FROM ecomm
LOCAL_BASES = ["docker/local-base/python.Dockerfile", "docker/local-base/postgres.Dockerfile", "docker/local-base/redis.Dockerfile"]  # fmt: skip
DOCKERFILES = ["Dockerfile", *SERVICE_DOCKERFILES, PROMETHEUS_DOCKERFILE, *LOCAL_BASES]
HADOLINT = Path(sys.executable).with_name("hadolint")


def test_the_dockerfiles_are_all_listed():
    found = {str(p.relative_to(REPO)) for p in REPO.rglob("*Dockerfile") if ".venv" not in p.parts}
    found -= {str(p.relative_to(REPO)) for p in (REPO / ".tools").rglob("*Dockerfile")}
    assert found == set(DOCKERFILES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_finds_nothing(dockerfile):
    done = subprocess.run(
        [str(HADOLINT), "--no-color", dockerfile], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.parametrize("dockerfile", ["Dockerfile", *SERVICE_DOCKERFILES, PROMETHEUS_DOCKERFILE])
def test_services_run_as_the_non_root_ecomm_user(dockerfile):
    users = [args for op, args in final_stage(REPO / dockerfile) if op == "USER"]
    assert users[-1] == "10001:10001"


def test_local_bases_run_as_their_official_counterparts_do():
    # python.Dockerfile stands in for python:3.11-slim, which runs as root so that the build stage
    # of every image can apt-get; the ecomm images then switch to 10001. postgres and redis run as 999.
    assert [op for op, _ in final_stage(REPO / LOCAL_BASES[0])].count("USER") == 0
    assert [a for op, a in final_stage(REPO / LOCAL_BASES[1]) if op == "USER"] == ["999:999"]
    assert [a for op, a in final_stage(REPO / LOCAL_BASES[2]) if op == "USER"] == ["999:999"]


def test_base_images_are_build_arguments():
    base = dockerfile_instructions(REPO / "Dockerfile")
    assert base[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim")
    assert [args for op, args in base if op == "FROM"] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    for dockerfile in SERVICE_DOCKERFILES:
        instructions = dockerfile_instructions(REPO / dockerfile)
        assert instructions[:2] == [("ARG", "ECOMM_IMAGE=ecomm:local"), ("FROM", "${ECOMM_IMAGE}")], (
            dockerfile
        )
    prometheus = dockerfile_instructions(REPO / PROMETHEUS_DOCKERFILE)
    assert prometheus[:2] == [("ARG", "PYTHON_IMAGE=python:3.11-slim"), ("FROM", "${PYTHON_IMAGE}")]
    assert "apt-get install -y --no-install-recommends prometheus" in prometheus[2][1]


def test_the_base_image_installs_the_locks_and_the_package():
    text = (REPO / "Dockerfile").read_text()
    assert "COPY requirements.lock docker/requirements-images.lock /tmp/locks/" in text
    assert "uv pip sync --python /opt/venv/bin/python" in text
    assert "--no-deps -e /opt/ecomm" in text


def test_images_lock_keeps_the_main_locks_pins():
    def pins(path: Path) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", path.read_text(), re.M)
        return {name.lower(): version for name, version in found}

    main, images = pins(REPO / "requirements.lock"), pins(REPO / "docker" / "requirements-images.lock")
    shared = set(main) & set(images)
    assert {name: images[name] for name in shared} == {name: main[name] for name in shared}
    assert {"apache-airflow-providers-celery", "boto3"} <= set(images) - set(main)
    assert "redis" in shared  # Celery's broker client and the API's live bus: one version


def test_service_folders_hold_no_package():
    for folder in ("airflow", "ml", "fastapi", "streamlit", "jupyter", "postgres-init", "docker"):
        assert not (REPO / folder / "__init__.py").exists(), folder


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".ecomm", ".tools", ".env", "tests", "**/__pycache__"} <= ignored


def test_postgres_init_creates_the_three_databases_of_settings():
    script = (REPO / "postgres-init" / "01-databases.sh").read_text()
    settings = Settings()
    for variable, database in (
        ("warehouse_db", settings.warehouse_db),
        ("airflow_db", settings.airflow_db),
        ("mlflow_db", settings.mlflow_db),
    ):
        env = "ECOMM_" + variable.upper()
        assert f'-v {variable}="${{{env}:-{database}}}"' in script
        assert f'CREATE DATABASE :"{variable}" OWNER' in script
    assert "SUPERUSER" not in script


def test_the_base_image_holds_dbt_and_the_project_the_loads_build_the_marts_with():
    text = (REPO / "Dockerfile").read_text()
    assert "COPY requirements-dbt.lock /tmp/locks/" in text
    assert "uv pip sync --python /opt/dbt-venv/bin/python /tmp/locks/requirements-dbt.lock" in text
    assert "COPY dbt /opt/ecomm/dbt" in text
    assert "COPY --from=build /opt/dbt-venv /opt/dbt-venv" in text
    assert "ECOMM_DBT_EXECUTABLE=/opt/dbt-venv/bin/dbt" in text
    lock = (REPO / "requirements-dbt.lock").read_text()
    assert re.search(r"^dbt-core==1\.11\.", lock, re.M) and re.search(r"^dbt-postgres==1\.10\.", lock, re.M)
    assert re.search(r"^protobuf==6\.", lock, re.M)  # what dbt-common allows; requirements.lock has 7.x
