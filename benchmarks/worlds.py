"""Benchmark worlds that serve models: a loaded warehouse (built once, then reused) with champions
in its own MLflow database (trained when missing). Used by the dashboard and API benchmarks."""

from __future__ import annotations

import shutil
import time
from datetime import date

import psycopg2

from ecomm import db
from ecomm.settings import Settings

from benchmarks.common import WORK


def _loaded_batches(settings: Settings) -> int:
    """Business dates loaded in the warehouse (0 when the database or its schema is missing)."""
    try:
        with db.connection(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(DISTINCT batch_date) FROM audit.load_runs WHERE status = 'loaded'")
            return cur.fetchone()[0]
    except (db.DatabaseError, psycopg2.Error):
        return 0


LOAD_BENCHMARK_DB = "bench_ours"  # filled whole by the load benchmark


def _built_marker(settings: Settings):
    return WORK / f"world-{settings.warehouse_db}" / ".loaded"


def _reusable(settings: Settings) -> bool:
    """A warehouse the load benchmark filled, or one this benchmark built to the end (not a half load)."""
    complete = settings.warehouse_db == LOAD_BENCHMARK_DB or _built_marker(settings).exists()
    return complete and _loaded_batches(settings) > 0


def _build_world(settings: Settings, customers: int, products: int, days: int) -> dict:
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.run import load_path

    raw = WORK / f"world-{settings.warehouse_db}"
    for name in (settings.warehouse_db, settings.mlflow_db):  # what an interrupted build left goes
        db.drop_database(settings, name)
    start = time.perf_counter()
    shutil.rmtree(raw, ignore_errors=True)
    generate_history(
        GeneratorConfig(seed=7, as_of=date(2025, 6, 30), days=days, customers=customers, products=products),
        raw,
    )
    migrate(settings)
    report = load_path(settings, raw)
    assert report.ok, [b.message for b in report.rejected]
    _built_marker(settings).touch()
    return {"built_seconds": round(time.perf_counter() - start, 1)}


def _ensure_champions(settings: Settings, trials: int) -> dict:
    """Train churn and recommender champions into the benchmark's MLflow database when missing."""
    from ecomm.ml import registry, tracking
    from ecomm.ml.churn.train import ChurnConfig, train_churn
    from ecomm.ml.recommend.train import RecConfig, train_recommender

    client = tracking.configure(settings)
    trained = {}
    for name, train in (
        (
            registry.CHURN_MODEL,
            lambda: train_churn(settings, ChurnConfig.from_settings(settings, n_trials=trials)),
        ),
        (
            registry.RECOMMENDER_MODEL,
            lambda: train_recommender(settings, RecConfig.from_settings(settings, n_trials=trials)),
        ),
    ):
        if registry.alias_version(client, name, registry.CHAMPION) is None:
            start = time.perf_counter()
            train()
            trained[name] = round(time.perf_counter() - start, 1)
    return trained


def size(settings: Settings) -> dict:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT (SELECT count(DISTINCT order_id) FROM warehouse.fact_order_items),
                      (SELECT count(*) FROM warehouse.fact_order_items),
                      (SELECT count(*) FROM warehouse.dim_customer)"""
        )
        orders, lines, customers = cur.fetchone()
    return {"orders": orders, "order_lines": lines, "customers": customers}


def serving_settings(warehouse_db: str) -> Settings:
    return Settings(
        _env_file=None, home=WORK / "home", warehouse_db=warehouse_db, mlflow_db=f"{warehouse_db}_mlflow"
    )


def ensure_world(warehouse_db: str, customers: int, products: int, days: int) -> tuple[Settings, dict]:
    """Settings of the world `warehouse_db` (embedded server started), its warehouse built when not
    reusable; and what was done, for the report."""
    settings = serving_settings(warehouse_db)
    db.start_embedded(settings)
    setup: dict = {"warehouse_db": warehouse_db, "reused": _reusable(settings)}
    if setup["reused"]:
        from ecomm.warehouse.migrate import migrate

        migrate(settings)  # a world built before the latest migration gets its tables (idempotent)
    else:
        setup |= _build_world(settings, customers, products, days)
    return settings, setup


def ensure_serving_world(
    warehouse_db: str, customers: int, products: int, days: int, *, trials: int
) -> tuple[Settings, dict]:
    """ensure_world, with its missing champions trained."""
    settings, setup = ensure_world(warehouse_db, customers, products, days)
    setup["trained_seconds"] = _ensure_champions(settings, trials)
    return settings, setup | size(settings)
