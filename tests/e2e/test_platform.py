"""`make up` / `make status` / `make down` on a temp data dir, with the real services."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
import pytest

from ecomm.ml import registry
from ecomm.platform.services import MONITORING, PROMETHEUS_MISSING

from support.servers import free_port

PLATFORM = [sys.executable, "-m", "ecomm.platform"]
# Debian's prometheus package: `make test` installs it (make promtool), so make up starts Prometheus
HAS_PROMETHEUS = shutil.which("prometheus") is not None
TRAIN_TASKS = ("train_churn", "train_recommender", "train_segments", "train_purchase", "train_clv")


@pytest.fixture(scope="module")
def platform_env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("platform-home")
    return {
        # not MLflow's URIs: an in-process test's mlflow.set_tracking_uri() exports one to os.environ
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("MLFLOW_")},
        "ECOMM_HOME": str(home),
        "ECOMM_CUSTOMERS": "300",
        "ECOMM_PRODUCTS": "60",
        # long enough for a first training (a 60-day churn label after a training cutoff), tiny tuning
        # and sizes
        "ECOMM_HISTORY_DAYS": "210",
        "ECOMM_CHURN_HORIZON_DAYS": "60",
        "ECOMM_CHURN_TRIALS": "2",
        "ECOMM_RECOMMENDER_TRIALS": "1",
        "ECOMM_SEGMENT_MAX_K": "5",
        "ECOMM_SEGMENT_REFITS": "2",
        "ECOMM_PURCHASE_TREES": "50",
        "ECOMM_PURCHASE_EPOCHS": "30",
        # demand forecasts: seasonal naive only (AutoETS doubles the training), one backtest origin, 20
        # products in the backtest (every one is forecast)
        "ECOMM_FORECAST_MODELS": "seasonal_naive",
        "ECOMM_FORECAST_BACKTEST_WINDOWS": "1",
        "ECOMM_FORECAST_PRODUCTS": "20",
        "ECOMM_MLFLOW_PORT": str(free_port()),
        "ECOMM_JUPYTER_PORT": str(free_port()),
        "ECOMM_AIRFLOW_PORT": str(free_port()),
        "ECOMM_API_PORT": str(free_port()),
        "ECOMM_STREAMLIT_PORT": str(free_port()),
        "ECOMM_DBT_DOCS_PORT": str(free_port()),
        "ECOMM_PROMETHEUS_PORT": str(free_port()),
        # the scheduler's and triggerer's log servers, off their fixed defaults
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }


def run(args, env, timeout=900):
    return subprocess.run([*PLATFORM, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_port_in_use_is_named_with_its_setting(platform_env):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {**platform_env, "ECOMM_MLFLOW_PORT": str(port)}
        result = run(["up"], env)
    assert result.returncode == 1
    assert (
        f"error: port {port} for mlflow is already in use; stop what uses it or move mlflow with "
        f"ECOMM_MLFLOW_PORT=<port> in .env"
    ) in " ".join(result.stderr.split())
    assert not Path(platform_env["ECOMM_HOME"], "raw").exists()  # said before any bootstrap work


def airflow_api(env) -> httpx.Client:
    client = httpx.Client(base_url=f"http://127.0.0.1:{env['ECOMM_AIRFLOW_PORT']}", timeout=30)
    token = client.post("/auth/token", json={"username": "admin", "password": "admin"}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def nothing_retrained_after_start(env) -> None:
    """The first pipeline run found its date loaded by the bootstrap: no warehouse Asset event, so no
    asset-triggered training; no weekly run caught up at start either. A drift-triggered training
    (model_monitoring's first run) may start; it must find nothing new to learn from. Each model
    keeps exactly the version the bootstrap trained."""
    from mlflow import MlflowClient

    airflow = airflow_api(env)
    assert airflow.get("/api/v2/assets/events").json()["asset_events"] == []
    for dag_id in ("ml_training_pipeline", "causal_report"):
        dag = airflow.get(f"/api/v2/dags/{dag_id}").json()
        assert dag["is_paused"] is False, dag_id
        next_run = datetime.fromisoformat(dag["next_dagrun_run_after"])
        assert next_run > datetime.now(UTC) and next_run.weekday() == 6, (dag_id, next_run)  # a Sunday ahead
    assert airflow.get("/api/v2/dags/causal_report/dagRuns").json()["dag_runs"] == []

    def training_runs() -> list[dict]:
        return airflow.get("/api/v2/dags/ml_training_pipeline/dagRuns").json()["dag_runs"]

    deadline = time.monotonic() + 300
    while any(r["state"] not in ("success", "failed") for r in training_runs()):
        assert time.monotonic() < deadline, training_runs()
        time.sleep(3)
    runs = training_runs()
    assert [r["run_id"] for r in runs if r["run_type"] in ("scheduled", "asset_triggered")] == []
    for run in runs:  # drift only: trained nothing
        tis = airflow.get(f"/api/v2/dags/ml_training_pipeline/dagRuns/{run['dag_run_id']}/taskInstances")
        states = {t["task_id"]: t["state"] for t in tis.json()["task_instances"]}
        trainings = {task: state for task, state in states.items() if task.startswith("train_")}
        assert trainings == dict.fromkeys(TRAIN_TASKS, "skipped"), run
    uri = f"http://127.0.0.1:{env['ECOMM_MLFLOW_PORT']}"  # and its registry: not a global set in-process
    mlflow = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for model in registry.MODEL_NAMES:
        assert [str(v.version) for v in mlflow.search_model_versions(f"name = '{model}'")] == ["1"], model


def prometheus_scrapes_the_api(env) -> None:
    """make up's Prometheus scrapes the API (up = 1, the served churn_model version, the pipeline's
    lag) and evaluates every alert rule of monitoring/alerts.yml."""
    import yaml

    prometheus = httpx.Client(base_url=f"http://127.0.0.1:{env['ECOMM_PROMETHEUS_PORT']}/api/v1", timeout=30)

    def query(expr: str) -> list[dict]:
        return prometheus.get("/query", params={"query": expr}).json()["data"]["result"]

    deadline = time.monotonic() + 60  # the first scrape comes within one 15 s interval
    while not query('up{job="ecomm-api"} == 1'):
        assert time.monotonic() < deadline, query('up{job="ecomm-api"}')
        time.sleep(2)
    [served] = query('ecomm_model_served_version{model="churn_model"}')
    assert (served["metric"]["version"], served["value"][1]) == ("1", "1")
    assert len(query("ecomm_pipeline_lag_days")) == 1
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    expected = {rule["alert"] for group in groups for rule in group["rules"]}
    loaded = prometheus.get("/rules").json()["data"]["groups"]
    assert {rule["name"] for group in loaded for rule in group["rules"]} == expected


@pytest.fixture
def always_down(platform_env):
    yield
    run(["down"], platform_env)  # whatever happened, leave no process behind


def test_up_status_down(platform_env, always_down):
    first = run(["up"], platform_env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "platform up in" in first.stdout
    for model in registry.MODEL_NAMES:  # the bootstrap trained the first champions
        assert f"{model}: trained v1 in " in first.stdout
    state_file = Path(platform_env["ECOMM_HOME"], "run", "state.json")
    state = json.loads(state_file.read_text())
    pids = [entry["pid"] for entry in state.values()]
    assert set(state) == {
        "mlflow",
        "jupyterlab",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "api",
        "stream",  # `ecomm stream --follow` at the default speed
        "streamlit",
        "dbt-docs",
    } | ({"prometheus"} if HAS_PROMETHEUS else set())
    assert "ecommerce_data_pipeline: run " in first.stderr and " succeeded" in first.stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{platform_env['ECOMM_MLFLOW_PORT']}/health") as resp:
        assert resp.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{platform_env['ECOMM_API_PORT']}/ready") as resp:
        checks = json.loads(resp.read())["checks"]  # the API serves the champions the bootstrap trained
        assert (checks["churn_model"], checks["recommender_model"], checks["warehouse"]) == ("v1", "v1", "ok")
    with urllib.request.urlopen(  # the bootstrap stored the forecasts (Fashion: a fifth of the catalog)
        f"http://127.0.0.1:{platform_env['ECOMM_API_PORT']}/forecast/categories/Fashion?horizon=3"
    ) as resp:
        forecast = json.loads(resp.read())
        assert (forecast["model"]["version"], len(forecast["forecasts"])) == ("1", 3)
    with urllib.request.urlopen(
        f"http://127.0.0.1:{platform_env['ECOMM_DBT_DOCS_PORT']}/catalog.json"
    ) as resp:
        catalog = json.loads(resp.read())  # dbt docs of the marts the bootstrap built
        assert {"model.ecomm.daily_sales", "model.ecomm.customer_360"} <= set(catalog["nodes"])
    assert "causal estimates: " in first.stdout and " computed into marts.causal_estimates" in first.stdout
    nothing_retrained_after_start(platform_env)
    if HAS_PROMETHEUS:
        prometheus_scrapes_the_api(platform_env)
    else:
        assert PROMETHEUS_MISSING in " ".join(first.stdout.split())

    second = run(["up"], platform_env)  # harmless: same processes, nothing reloaded
    assert second.returncode == 0, second.stderr[-3000:]
    assert "batch(es):" not in second.stdout  # no load ran: the warehouse was not empty
    assert "bootstrap: nothing to do" in second.stdout  # and no training: both champions exist
    again = json.loads(state_file.read_text())
    assert [entry["pid"] for entry in again.values()] == pids

    status = run(["status"], platform_env)
    assert status.returncode == 0
    assert status.stdout.count("healthy") == len(state) and "fact_order_items" in status.stdout
    stream = [line for line in status.stdout.splitlines() if re.search(r"\bstream\b.*\(background\)", line)]
    assert len(stream) == 1 and "healthy" in stream[0], status.stdout  # its pid is stopped by down below

    down = run(["down"], platform_env)
    assert down.returncode == 0, down.stderr
    assert "services stopped" in down.stdout
    ours = [
        p
        for p in psutil.process_iter(["cmdline"])
        if platform_env["ECOMM_HOME"] in " ".join(p.info["cmdline"] or [])
    ]
    assert ours == []
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE for pid in pids
    )
    assert "platform stopped" in run(["status"], platform_env).stdout
    assert [
        p
        for p in psutil.process_iter(["cmdline"])  # status started nothing
        if platform_env["ECOMM_HOME"] in " ".join(p.info["cmdline"] or [])
    ] == []
