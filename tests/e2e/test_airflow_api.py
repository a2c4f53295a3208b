"""The UI path: real `airflow api-server`, `scheduler` and `dag-processor` processes (LocalExecutor,
metadata on our PostgreSQL server), a JWT from the configured login, and `ecommerce_data_pipeline`
unpaused, triggered and polled to success through the REST API v2. Every process is stopped after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psutil
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.orchestration import config
from ecomm.platform.supervisor import free_port
from ecomm.warehouse.run import load_path

DAG_ID = "ecommerce_data_pipeline"
SERVICES = ("api-server", "scheduler", "dag-processor")  # no deferrable tasks: no triggerer needed
TASKS = ["generate", "load", "quality_checks", "build_marts", "publish_warehouse"]
RUN_TIMEOUT_S = 360

# A scheduled run of the @daily pipeline (catchup off) is due for the last closed day: D = yesterday
# (UTC). The run triggered below has that logical date, so the scheduler adds no run of its own.
# The world's history ends the day before D. (A session crossing midnight UTC fails the check of
# the DAG's next logical date, with that date in the message.)
D = datetime.now(UTC).date() - timedelta(days=1)
WORLD = GeneratorConfig(seed=5, as_of=D - timedelta(days=1), days=60, customers=300, products=60)


class Services:
    """The Airflow processes, each in its own process group, logging to a file."""

    def __init__(self, settings, log_dir) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        env = config.airflow_env(self.settings)
        # the scheduler serves task logs on 8793 by default: a running platform may hold it
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        commands = config.service_commands()
        for name in SERVICES:
            with (self.log_dir / f"{name}.log").open("wb") as log:
                self.procs[name] = subprocess.Popen(
                    commands[name],
                    env=env,
                    cwd=self.log_dir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                pytest.fail(f"airflow {name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.tail(name)}" for name in self.procs)

    def stop(self) -> list[psutil.Process]:
        """SIGTERM every process group, SIGKILL what is left after 30 s; return what still runs."""
        tree = []
        for proc in self.procs.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(proc.pid)
                tree += [parent, *parent.children(recursive=True)]
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        _, alive = psutil.wait_procs(tree, timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def processes_of(airflow_home: str) -> list[psutil.Process]:
    """Every running process whose environment has this AIRFLOW_HOME (ours, whatever their parent)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.environ().get("AIRFLOW_HOME") == airflow_home and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


@pytest.fixture(scope="module")
def airflow_settings(template_warehouse, tmp_path_factory):
    """A warehouse with the world's history, a migrated Airflow metadata database, a free port."""
    home = tmp_path_factory.mktemp("airflow-e2e")
    generate_history(WORLD, home / "raw")
    suffix = uuid.uuid4().hex[:8]
    settings = template_warehouse.model_copy(
        update={
            "home": home,
            "database_url": db.server_url(template_warehouse).render_as_string(hide_password=False),
            "warehouse_db": f"wh_e2e_{suffix}",
            "airflow_db": f"af_e2e_{suffix}",
            "airflow_port": free_port(),
            "airflow_admin_user": "ops",
            "airflow_admin_password": f"pw-{suffix}",
        }
    )
    db.create_database(settings, settings.warehouse_db, template=template_warehouse.warehouse_db)
    try:
        assert load_path(settings, home / "raw").ok
        config.migrate_metadata(settings)
        yield settings
    finally:
        for name in (settings.warehouse_db, settings.airflow_db):
            db.drop_database(settings, name)


@pytest.fixture(scope="module")
def airflow(airflow_settings, tmp_path_factory):
    services = Services(airflow_settings, tmp_path_factory.mktemp("airflow-e2e-logs"))
    started = time.monotonic()
    services.start()
    try:
        yield services
    finally:
        leftovers = services.stop()
        print(f"airflow services ran {time.monotonic() - started:.0f} s")
        assert leftovers == [], f"processes still running after stop: {leftovers}"
        assert processes_of(str(config.airflow_home(airflow_settings))) == []


def wait_for(what: str, check, services: Services, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        services.check_alive()
        with contextlib.suppress(httpx.TransportError):
            if result := check():
                return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{services.logs()}")
        time.sleep(every)


def test_pipeline_triggered_through_the_rest_api_succeeds(airflow, airflow_settings):
    base = config.base_url(airflow_settings)
    client = httpx.Client(base_url=base, timeout=30)

    def healthy():
        r = client.get("/api/v2/monitor/health")
        body = r.json() if r.status_code == 200 else {}
        parts = ("metadatabase", "scheduler", "dag_processor")
        return all(body.get(p, {}).get("status") == "healthy" for p in parts) and body

    wait_for("a healthy api-server, scheduler and dag-processor", healthy, airflow, timeout=180)

    # the configured login works; a wrong password does not
    login = config.airflow_login(airflow_settings)
    wrong = client.post("/auth/token", json={"username": login.username, "password": "nope"})
    assert wrong.status_code == 401
    r = client.post("/auth/token", json={"username": login.username, "password": login.password})
    assert r.status_code == 201, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    dag = wait_for(
        f"{DAG_ID} parsed by the dag-processor",
        lambda: (r := client.get(f"/api/v2/dags/{DAG_ID}")).status_code == 200 and r.json(),
        airflow,
        timeout=120,
    )
    assert dag["is_paused"] is True
    assert dag["next_dagrun_logical_date"] == f"{D}T00:00:00Z"

    run_id = f"e2e_{D}"
    r = client.post(
        f"/api/v2/dags/{DAG_ID}/dagRuns", json={"dag_run_id": run_id, "logical_date": f"{D}T00:00:00Z"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "queued"
    r = client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
    assert r.status_code == 200, r.text
    assert r.json()["is_paused"] is False

    def finished():
        state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    started = time.monotonic()
    state = wait_for(f"run {run_id} to finish", finished, airflow, timeout=RUN_TIMEOUT_S, every=2)
    print(f"dag run took {time.monotonic() - started:.0f} s")
    tis = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    assert state == "success", f"{[(t['task_id'], t['state']) for t in tis]}\n{airflow.logs()}"
    assert {t["task_id"]: t["state"] for t in tis} == dict.fromkeys(TASKS, "success")

    # the run was the only one: the scheduler saw the due date taken and created none of its own
    runs = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns").json()
    assert [(x["dag_run_id"], x["state"]) for x in runs["dag_runs"]] == [(run_id, "success")]

    # what the UI shows for a task: its log, with our output in it
    r = client.get(
        f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/quality_checks/logs/1",
        params={"full_content": "true"},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert "PASS freshness" in r.text

    xcom = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/load/xcomEntries/return_value")
    assert xcom.status_code == 200, xcom.text
    assert xcom.json()["value"]["status"] == "loaded"

    with db.connection(airflow_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, count(*) FROM audit.load_runs WHERE batch_date = %s GROUP BY status", (D,)
        )
        assert cur.fetchall() == [("loaded", 1)]
        cur.execute("SELECT max(batch_date) FROM audit.load_runs WHERE status = 'loaded'")
        assert cur.fetchone()[0] == D


def test_a_run_for_a_loaded_date_triggers_no_training(airflow, airflow_settings):
    """After the run above loaded D: with ml_training_pipeline unpaused, a run for a date already
    loaded (the history's last day: its load is skipped) publishes no warehouse Asset event, queues
    nothing and starts no training; no weekly training is due either (the next is a Sunday ahead)."""
    client = httpx.Client(base_url=config.base_url(airflow_settings), timeout=30)
    login = config.airflow_login(airflow_settings)
    r = client.post("/auth/token", json={"username": login.username, "password": login.password})
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    training, loaded_day = "ml_training_pipeline", WORLD.as_of

    def asset_events() -> list[tuple[str, str, dict]]:
        events = client.get("/api/v2/assets/events", params={"order_by": "timestamp"}).json()["asset_events"]
        return [(e["uri"], e["source_run_id"], e["extra"]) for e in events]

    first_event = ("ecomm://warehouse/marts", f"e2e_{D}", {"business_date": D.isoformat()})
    assert asset_events() == [first_event]
    r = client.patch(f"/api/v2/dags/{training}", json={"is_paused": False})
    assert r.status_code == 200 and r.json()["is_paused"] is False, r.text

    run_id = f"e2e_loaded_{loaded_day}"
    r = client.post(
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": f"{loaded_day}T00:00:00Z"},
    )
    assert r.status_code == 200, r.text

    def finished():
        state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(f"run {run_id} to finish", finished, airflow, timeout=RUN_TIMEOUT_S, every=2)
    tis = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    tasks = {t["task_id"]: t["state"] for t in tis}
    assert state == "success", f"{tasks}\n{airflow.logs()}"
    assert tasks == dict.fromkeys(TASKS, "success") | {"publish_warehouse": "skipped"}
    xcom = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/load/xcomEntries/return_value")
    assert (xcom.json()["value"]["status"], xcom.json()["value"]["loaded_dates"]) == ("skipped", [])

    assert asset_events() == [first_event]  # none from this run
    queued = client.get(f"/api/v2/dags/{training}/assets/queuedEvents")
    assert queued.status_code == 200 and queued.json()["queued_events"] == [], queued.text
    dag = client.get(f"/api/v2/dags/{training}").json()
    next_run = datetime.fromisoformat(dag["next_dagrun_run_after"])
    assert next_run > datetime.now(UTC) and (next_run.weekday(), next_run.hour) == (6, 4), next_run
    assert client.get(f"/api/v2/dags/{training}/dagRuns").json()["dag_runs"] == []
