"""Orchestration benchmarks (issue 3).

`make up`: a fresh ECOMM_HOME (embedded PostgreSQL, free ports) to every service healthy and the
first pipeline run, bootstrap included (simulate + load a year of history + train both models);
its baseline in the same run is the same `make up` again after `make down`, when the bootstrap
finds everything done: the services' start alone. Target: <= 5 min on 2 cores at the default size.

Daily DAG run: `ecommerce_data_pipeline` (dag.test(), real Airflow, metadata on the benchmark's
PostgreSQL) for the business date after the load benchmark's world, on a clone of that loaded
warehouse; its baseline is the bare `ecomm pipeline run` of the same date on another clone (no
Airflow): the ratio is Airflow's overhead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from ecomm import db
from ecomm.orchestration import config
from ecomm.platform.supervisor import free_port
from ecomm.settings import Settings

from benchmarks.common import WORK, measure

PLATFORM = [sys.executable, "-m", "ecomm.platform"]
PHASES = re.compile(r"platform up in \d+s \(([^)]*)\)")


def _platform_env(home: Path, customers: int | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ECOMM_", "AIRFLOW")) and k != "DATABASE_URL"
    }
    env |= {"ECOMM_HOME": str(home)}
    if customers:
        env["ECOMM_CUSTOMERS"] = str(customers)
    for setting in ("AIRFLOW", "MLFLOW", "API", "STREAMLIT", "JUPYTER"):
        env[f"ECOMM_{setting}_PORT"] = str(free_port())
    for server in ("WORKER", "TRIGGER"):  # the scheduler's and triggerer's log servers
        env[f"AIRFLOW__LOGGING__{server}_LOG_SERVER_PORT"] = str(free_port())
    return env


def _up(env: dict[str, str]) -> dict:
    start = time.perf_counter()
    done = subprocess.run([*PLATFORM, "up"], env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"make up failed:\n{(done.stdout + done.stderr)[-3000:]}")
    found = PHASES.search(" ".join(done.stdout.split()))
    phases = {}
    for part in found.group(1).split(", ") if found else []:
        name, _, value = part.rpartition(" ")
        phases[name] = float(value.rstrip("s"))
    return {"seconds": round(seconds, 1), "phases": phases}


def run_make_up(customers: int | None) -> dict:
    """Fresh `make up` (bootstrap included), `make down`, then `make up` again (services only)."""
    home = WORK / "platform-home"
    shutil.rmtree(home, ignore_errors=True)
    env = _platform_env(home, customers)
    settings = Settings(_env_file=None, home=home, customers=customers or Settings().customers)
    try:
        fresh = _up(env)
        subprocess.run([*PLATFORM, "down"], env=env, capture_output=True, timeout=300, check=True)
        again = _up(env)
    finally:
        subprocess.run([*PLATFORM, "down"], env=env, capture_output=True, timeout=300)
        db.stop_embedded(settings)  # this home is the benchmark's own: whatever `down` left, stops
    return {
        "config": {
            "customers": settings.customers,
            "products": settings.products,
            "history_days": settings.history_days,
            "churn_trials": settings.churn_trials,
            "recommender_trials": settings.recommender_trials,
        },
        "fresh_make_up": fresh,
        "make_up_without_bootstrap": again,
        "bootstrap_seconds": fresh["phases"].get("bootstrap"),
        "ratio_fresh_vs_services_only": round(fresh["seconds"] / again["seconds"], 2),
        "target_seconds": 300,
        "target_met": fresh["seconds"] <= 300,
    }


# ------------------------------------------------------------------------------------- daily run
DAG_RUN = """
import time
from datetime import datetime, UTC
from airflow.dag_processing.dagbag import DagBag
from ecomm.orchestration.config import DAGS_FOLDER
bag = DagBag(dag_folder=str(DAGS_FOLDER))
assert not bag.import_errors, bag.import_errors
day = datetime.fromisoformat({day!r}).replace(tzinfo=UTC)
start = time.perf_counter()
run = bag.dags["ecommerce_data_pipeline"].test(logical_date=day)
seconds = time.perf_counter() - start
tis = {{ti.task_id: str(ti.state) for ti in run.get_task_instances()}}
assert str(run.state) == "success", tis
result = {{"seconds": seconds, "tasks": tis}}
"""

BARE_RUN = """
import time
from datetime import date
from pathlib import Path
from ecomm.pipeline import run_for_date
from ecomm.settings import Settings
settings = Settings()
start = time.perf_counter()
report = run_for_date(settings, date.fromisoformat({day!r}), Path({raw!r}))
seconds = time.perf_counter() - start
assert report.ok, [c.details for c in report.failed_checks]
batch = report.batches[-1]
result = {{"seconds": seconds, "rows_read": batch.total("read"), "rows_loaded": batch.total("loaded"),
          "status": batch.status}}
"""


def _world_copy(world: Path, target: Path) -> Path:
    """Batches hard-linked (never rewritten), the world's state and truth copied (rewritten by --next)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for entry in world.iterdir():
        if entry.is_dir() and entry.name[:2] == "20":
            shutil.copytree(entry, target / entry.name, copy_function=os.link)
        elif entry.is_dir():
            shutil.copytree(entry, target / entry.name)
        else:
            shutil.copy2(entry, target / entry.name)
    return target


def _clone(settings: Settings, name: str, template: str) -> None:
    db.drop_database(settings, name)
    db.create_database(settings, name, template=template)


def _orders_of(settings: Settings, day: date) -> int:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT order_id) FROM warehouse.fact_order_items WHERE order_date = %s", (day,)
        )
        return cur.fetchone()[0]


def run_daily(world: Path, loaded_db: str = "bench_ours") -> dict:
    """The day after the world's last batch, through the DAG and through the bare pipeline."""
    home = WORK / "home"
    base = Settings(_env_file=None, home=home, warehouse_db=loaded_db)
    db.start_embedded(base)
    last = max(date.fromisoformat(p.name) for p in world.iterdir() if p.name[:2] == "20")
    day = last + timedelta(days=1)
    server = db.server_url(base).render_as_string(hide_password=False)

    dag_settings = base.model_copy(
        update={
            "home": WORK / "daily-dag",
            "database_url": server,
            "warehouse_db": "bench_daily_dag",
            "airflow_db": "bench_daily_airflow",
        }
    )
    bare_settings = dag_settings.model_copy(
        update={"home": WORK / "daily-bare", "warehouse_db": "bench_daily_bare"}
    )
    for settings in (dag_settings, bare_settings):
        _clone(base, settings.warehouse_db, loaded_db)
        _world_copy(world, settings.raw_dir)
    db.drop_database(base, dag_settings.airflow_db)
    clock = time.perf_counter()
    config.migrate_metadata(dag_settings)
    airflow_migrate = time.perf_counter() - clock

    dag = measure(DAG_RUN.format(day=day.isoformat()), env=config.airflow_env(dag_settings))
    bare_env = {k: v for k, v in config.settings_env(bare_settings).items() if v is not None}
    bare = measure(BARE_RUN.format(day=day.isoformat(), raw=str(bare_settings.raw_dir)), env=bare_env)
    orders = _orders_of(dag_settings, day)
    assert orders == _orders_of(bare_settings, day), "the DAG and the bare run loaded different days"
    return {
        "business_date": day.isoformat(),
        "day_orders": orders,
        "day_rows_read": bare["rows_read"],
        "airflow_db_migrate_seconds": round(airflow_migrate, 1),
        "dag_run": {
            "seconds": round(dag["seconds"], 2),
            "wall_seconds_with_import": dag["wall_seconds"],
            "tasks": dag["tasks"],
            "peak_rss_mib": round(dag["peak_rss_mib"]),
        },
        "bare_pipeline_run": {
            "seconds": round(bare["seconds"], 2),
            "wall_seconds_with_import": bare["wall_seconds"],
            "peak_rss_mib": round(bare["peak_rss_mib"]),
        },
        "ratio_dag_vs_bare": round(dag["seconds"] / bare["seconds"], 2),
        "target_seconds": 180,
        "target_met": dag["seconds"] <= 180,
    }
