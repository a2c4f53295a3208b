"""docker/compose_smoke.py without Docker: what its scale variant sets, how it judges the workers'
spread, how it counts the API workers' answers, and docker/local-base's Redis stand-in."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.deploy import COMPOSE_FILE, REPO, compose_env, exec_form, final_stage, interpolate

SMOKE_PATH = REPO / "docker" / "compose_smoke.py"
REDIS_DOCKERFILE = REPO / "docker" / "local-base" / "redis.Dockerfile"


def load_smoke():
    spec = importlib.util.spec_from_file_location("compose_smoke", SMOKE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smoke = load_smoke()


def smoke_config(tmp_path: Path, scale: bool) -> dict:
    """docker-compose.yml as Compose reads it with the env file the smoke writes."""
    env = smoke.write_env(tmp_path / "smoke.env", dict(smoke.LOCAL_IMAGES), scale)
    written = dict(line.split("=", 1) for line in (tmp_path / "smoke.env").read_text().splitlines())
    assert written == env
    return yaml.safe_load(interpolate(COMPOSE_FILE.read_text(), {**compose_env(), **env}))


def test_scale_variant_sets_celery_and_two_api_workers(tmp_path):
    assert smoke.scale_settings(False) == {}
    assert smoke.scale_settings(True) == {
        "AIRFLOW_EXECUTOR": "CeleryExecutor",
        "ECOMM_API_WORKERS": "2",
        "ECOMM_LIVE_BUS_URL": "redis://redis:6379/1",
    }
    config = smoke_config(tmp_path, scale=True)["services"]
    executors = {
        name: s["environment"]["AIRFLOW__CORE__EXECUTOR"]
        for name, s in config.items()
        if name.startswith("airflow")
    }
    assert set(executors.values()) == {"CeleryExecutor"} and len(executors) == 6
    assert config["fastapi"]["environment"]["ECOMM_API_WORKERS"] == 2
    assert config["fastapi"]["environment"]["ECOMM_LIVE_BUS_URL"] == "redis://redis:6379/1"
    assert config["redis"]["image"] == "local/redis:7"


def test_default_smoke_keeps_the_local_executor_and_one_api_worker(tmp_path):
    config = smoke_config(tmp_path, scale=False)["services"]
    assert config["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert config["fastapi"]["environment"]["ECOMM_API_WORKERS"] == 1
    assert config["fastapi"]["environment"]["ECOMM_LIVE_BUS_URL"] is None  # in-process
    assert smoke.up_args(False) == ["up", "-d"]
    assert "--profile" not in smoke.compose_base(tmp_path / "smoke.env", False)


def test_scale_variant_starts_the_profile_with_two_workers(tmp_path):
    base = smoke.compose_base(tmp_path / "smoke.env", True)
    assert base[-2:] == ["--profile", "scale"]
    assert smoke.up_args(True) == ["up", "-d", "--scale", "airflow-worker=2"]


def test_replicas_get_one_name_each():
    assert [smoke.replica_name("airflow-worker", n) for n in (1, 2)] == ["airflow-worker", "airflow-worker#2"]


def test_make_passes_scale_through():
    assert "$(BIN)/python docker/compose_smoke.py $(if $(SCALE),--scale)" in (REPO / "Makefile").read_text()


HOSTS = {
    "generate": "a1",
    "load": "b2",
    "quality_checks": "a1",
    "build_marts": "b2.lan",
    "publish_warehouse": "a1",
}


def test_tasks_spread_over_both_workers_are_counted_per_worker():
    assert smoke.tasks_per_worker(HOSTS, ["a1", "b2"]) == {
        "a1": ["generate", "publish_warehouse", "quality_checks"],
        "b2": ["build_marts", "load"],
    }


@pytest.mark.parametrize(
    ("hosts", "workers", "message"),
    [
        ({**HOSTS, "load": "a1", "build_marts": "a1"}, ["a1", "b2"], "did not use every worker: {'a1': ["),
        ({**HOSTS, "load": "scheduler"}, ["a1", "b2"], "task load ran on 'scheduler', not on a worker"),
        ({**HOSTS, "load": "a1", "build_marts": "a1"}, ["a1"], "did not use every worker"),
        ({**HOSTS, "load": "b22"}, ["a1", "b2"], "task load ran on 'b22'"),
    ],
)
def test_a_worker_left_idle_or_a_foreign_host_fails(hosts, workers, message):
    with pytest.raises(smoke.SmokeError) as failure:
        smoke.tasks_per_worker(hosts, workers)
    assert message in str(failure.value)


def test_answers_are_counted_per_uvicorn_worker_from_the_metric_files(tmp_path):
    # two processes record requests as two API workers do (prometheus_client's multiprocess mode)
    record = (
        "import sys; from ecomm.api.observability import REQUESTS\n"
        "for route in sys.argv[1:]: REQUESTS.labels('GET', route, '200').inc()\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    routes = [
        ["/predict/churn", "/ready", "/recommendations/{customer_id}"],
        ["/predict/churn", "/health", "/events"],
    ]
    pids = []
    for argv in routes:
        done = subprocess.run([sys.executable, "-c", record + "import os; print(os.getpid())", *argv],
                              env=env, capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
        pids.append(done.stdout.strip())
    out = subprocess.run([sys.executable, "-c", smoke.COUNT_ANSWERS, str(tmp_path)],
                         capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert json.loads(out.stdout) == {pids[0]: 2, pids[1]: 1}
    assert smoke.API_METRICS_DIR == "/var/lib/ecomm/run/prometheus-8000"  # ECOMM_HOME of compose + port


def test_the_smoke_uses_the_redis_stand_in_where_docker_hub_is_unreachable():
    assert smoke.LOCAL_IMAGES["REDIS_IMAGE"] == "local/redis:7"
    assert smoke.OFFICIAL_IMAGES["REDIS_IMAGE"] == "redis:7-bookworm"
    build = (REPO / "docker" / "local-base" / "build.sh").read_text()
    assert 'docker build --quiet -t local/redis:7 -f "$context/redis.Dockerfile" "$context"' in build


def test_redis_stand_in_runs_debians_server_reachable_from_the_network():
    stage = final_stage(REDIS_DOCKERFILE)
    (install,) = [args for op, args in stage if op == "RUN"]
    # redis-server is the server, redis-tools the redis-cli of docker-compose.yml's healthcheck
    assert "apt-get install -y --no-install-recommends redis-server redis-tools" in install
    (cmd,) = [args for op, args in stage if op == "CMD"]
    assert exec_form(cmd) == [
        "/usr/bin/redis-server",
        "--bind",
        "0.0.0.0",
        "--protected-mode",
        "no",
        "--dir",
        "/data",
    ]
    assert [args for op, args in stage if op == "USER"] == ["999:999"]
    healthcheck = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["redis"]["healthcheck"]["test"]
    assert healthcheck == ["CMD", "redis-cli", "ping"]


def test_a_smaller_world_asked_for_reaches_the_containers(tmp_path, monkeypatch):
    for name in smoke.WORLD_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    default = smoke_config(tmp_path, scale=False)["services"]["bootstrap"]["environment"]
    assert (default["ECOMM_CUSTOMERS"], default["ECOMM_HISTORY_DAYS"]) == (5000, 365)
    monkeypatch.setenv("ECOMM_CUSTOMERS", "800")
    monkeypatch.setenv("ECOMM_HISTORY_DAYS", "200")
    smaller = smoke_config(tmp_path, scale=False)["services"]["bootstrap"]["environment"]
    assert (smaller["ECOMM_CUSTOMERS"], smaller["ECOMM_HISTORY_DAYS"]) == (800, 200)
