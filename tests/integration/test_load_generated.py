"""Loading a simulated world: reconciliation, idempotency, appends, atomicity, declared keys."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import date

import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import ENTITIES
from ecomm.pipeline import run_for_date
from ecomm.warehouse.run import load_path

from support.query import Query

AS_OF = date(2025, 3, 31)
FACT_TABLES = {
    "customers": "dim_customer",
    "products": "dim_product",
    "campaigns": "dim_campaign",
    "campaign_exposure": "fact_campaign_exposure",
    "order_items": "fact_order_items",
    "web_events": "fact_web_events",
    "reviews": "fact_reviews",
}


@pytest.fixture(scope="session")
def world_template(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    generate_history(GeneratorConfig(seed=11, as_of=AS_OF, days=90, customers=600, products=80), out)
    return out


@pytest.fixture
def world(world_template, tmp_path):
    """A private copy (tests that continue the world must not change the shared one)."""
    return shutil.copytree(world_template, tmp_path / "world")


@pytest.fixture(scope="module")
def world_loaded_once(template_warehouse, world_template):
    """The world loaded once into a database of its own, with the load's report. A load of the 90
    dates (marts and all) is most of this module's time: the tests that start from a loaded world
    work on copies of this database (`loaded_warehouse`) instead of loading it again."""
    name = f"world_loaded_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(update={"warehouse_db": name})
    report = load_path(settings, world_template)
    yield settings, report
    db.drop_database(template_warehouse, name)


@pytest.fixture
def loaded_warehouse(world_loaded_once, template_warehouse):
    """Settings of a private copy of the loaded world's database (dropped after the test)."""
    source, _ = world_loaded_once
    name = f"wh_{uuid.uuid4().hex[:10]}"
    db.create_database(template_warehouse, name, template=source.warehouse_db)
    yield template_warehouse.model_copy(update={"warehouse_db": name})
    db.drop_database(template_warehouse, name)


@pytest.fixture
def loaded_sql(loaded_warehouse):
    """Queries on `loaded_warehouse`, like the `sql` fixture's on `warehouse`."""
    query = Query(loaded_warehouse)
    yield query
    query.close()


def raw_totals(world) -> dict[str, tuple[int, float]]:
    """Rows per entity over every batch, and the revenue of all order lines."""
    totals = {}
    for entity in ENTITIES:
        frames = [pd.read_csv(p) for p in sorted(world.glob(f"20*/{entity.file_name}"))]
        totals[entity.name] = pd.concat(frames)
    return totals


def table_counts(sql) -> dict[str, int]:
    counts = {t: sql.one(f"SELECT count(*) FROM warehouse.{t}") for t in FACT_TABLES.values()}
    counts["returned"] = sql.one("SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned'")
    counts["revenue"] = sql.one("SELECT sum(revenue) FROM warehouse.fact_order_items")
    return counts


def test_world_loads_and_reconciles_with_raw_files(world_loaded_once, loaded_sql, world_template):
    _, report = world_loaded_once
    sql = loaded_sql
    assert report.ok, [c.details for c in report.failed_checks]
    assert {b.status for b in report.batches} == {"loaded"} and len(report.batches) == 90
    raw = raw_totals(world_template)
    for entity, table in FACT_TABLES.items():
        assert sql.one(f"SELECT count(*) FROM warehouse.{table}") == len(raw[entity]), entity
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned'") == len(
        raw["returns"]
    )
    assert float(sql.one("SELECT sum(revenue) FROM warehouse.fact_order_items")) == pytest.approx(
        raw["order_items"]["revenue"].sum(), abs=0.01
    )
    assert sql.one("SELECT count(*) FROM quarantine.order_items") == 0
    assert report.truth_rows["customer_churn"] == sql.one("SELECT count(*) FROM truth.customer_churn") > 0
    # marts agree with the facts they summarise
    assert sql.one("SELECT sum(net_revenue) FROM marts.daily_sales") == sql.one(
        "SELECT sum(revenue) FROM warehouse.fact_order_items WHERE status = 'completed'"
    )
    assert sql.one("SELECT count(*) FROM marts.customer_360") == len(raw["customers"])


def test_rerunning_every_batch_changes_nothing(loaded_warehouse, loaded_sql, world_template):
    warehouse, sql = loaded_warehouse, loaded_sql  # the world loaded once
    before = table_counts(sql)
    skipped = load_path(warehouse, world_template)
    assert {b.status for b in skipped.batches} == {"skipped"}
    forced = load_path(warehouse, world_template, force=True)
    assert forced.ok and {b.status for b in forced.batches} == {"loaded"}
    assert sum(b.total("loaded") for b in forced.batches) == 0
    assert table_counts(sql) == before


def test_consecutive_dates_append_and_a_rerun_is_a_no_op(loaded_warehouse, loaded_sql, world):
    warehouse, sql = loaded_warehouse, loaded_sql  # the world loaded once
    before = table_counts(sql)
    day1, day2 = date(2025, 4, 1), date(2025, 4, 2)
    run_for_date(warehouse, day1, world)
    after1 = table_counts(sql)
    new_lines = len(pd.read_csv(world / day1.isoformat() / "order_items.csv"))
    assert new_lines > 0
    assert after1["fact_order_items"] == before["fact_order_items"] + new_lines
    run_for_date(warehouse, day2, world)
    after2 = table_counts(sql)
    assert after2["fact_order_items"] == after1["fact_order_items"] + len(
        pd.read_csv(world / day2.isoformat() / "order_items.csv")
    )
    report = run_for_date(warehouse, day1, world)
    assert report.batches[0].status == "skipped" and report.ok
    assert table_counts(sql) == after2


def _ecomm_load(warehouse, world) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ecomm.cli", "load", str(world)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for(sql, proc, query: str) -> None:
    deadline = time.time() + 120
    while not sql.one(query):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.01)


def _load_lock_held() -> str:
    from ecomm.warehouse.load import LOAD_LOCK_KEY

    return f"""SELECT count(*) FROM pg_locks l JOIN pg_locks s ON s.pid = l.pid
               WHERE l.locktype = 'advisory' AND l.objid = {LOAD_LOCK_KEY} AND l.granted
               AND s.relation = 'staging.web_events'::regclass AND s.mode = 'AccessExclusiveLock'"""


@pytest.mark.parametrize("point", ["staging", "audit"])
def test_a_range_killed_midway_leaves_no_date_visible(warehouse, sql, world_template, point):
    """`ecomm load` of 90 dates is one transaction: killed while staging (early) or while writing
    the audit rows (every date merged, indexes rebuilt), nothing of it is visible; a rerun loads all."""
    if point == "audit":  # the loader blocks on its last statement: kill it there
        holder = db.connect(warehouse)
        holder.cursor().execute("LOCK TABLE audit.load_runs IN SHARE MODE")
    proc = _ecomm_load(warehouse, world_template)
    if point == "staging":
        _wait_for(sql, proc, _load_lock_held())
    else:
        _wait_for(
            sql,
            proc,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO audit.load_runs%'",
        )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if point == "audit":
        holder.rollback()
        holder.close()
    deadline = time.time() + 30  # the server notices the dead client and rolls its transaction back
    while sql.one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"):
        assert time.time() < deadline
        time.sleep(0.05)
    assert sql.one("SELECT count(*) FROM audit.load_runs") == 0
    for table in [*FACT_TABLES.values(), "dim_customer"]:
        assert sql.one(f"SELECT count(*) FROM warehouse.{table}") == 0, table
    assert sql.one("SELECT count(*) FROM quarantine.order_items") == 0
    # the dropped secondary indexes are back (DDL is transactional too)
    assert sql.one("SELECT count(*) FROM pg_indexes WHERE indexname = 'fact_web_events_customer_idx'") == 1
    report = load_path(warehouse, world_template)
    assert report.ok and [b.status for b in report.batches] == ["loaded"] * 90


def test_keys_are_declared_like_dbt_tests(warehouse, sql):
    constraints = {
        (table, kind, cols)
        for table, kind, cols in sql("""
            SELECT conrelid::regclass::text, contype::text,
                   array_to_string(ARRAY(SELECT attname FROM pg_attribute
                       WHERE attrelid = conrelid AND attnum = ANY(conkey) ORDER BY attnum), ',')
            FROM pg_constraint WHERE connamespace = 'warehouse'::regnamespace AND contype IN ('p', 'f', 'u')""")
    }
    expected = {
        ("warehouse.fact_order_items", "p", "order_id,line_no"),
        ("warehouse.fact_order_items", "f", "customer_id"),
        ("warehouse.fact_order_items", "f", "product_id"),
        ("warehouse.fact_order_items", "f", "campaign_id"),
        ("warehouse.fact_order_items", "f", "order_date"),
        ("warehouse.fact_web_events", "f", "customer_id"),
        ("warehouse.fact_reviews", "f", "product_id"),
        ("warehouse.fact_campaign_exposure", "p", "customer_id,campaign_id"),
        ("warehouse.fact_campaign_exposure", "f", "campaign_id"),
        ("warehouse.dim_customer", "p", "customer_id"),
        ("warehouse.dim_product", "p", "product_id"),
        ("warehouse.dim_campaign", "u", "campaign_name"),
        ("warehouse.dim_date", "p", "date_day"),
    }
    assert expected <= constraints
    grains = sql("""SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('warehouse', 'marts') AND c.relkind IN ('r', 'm')
                    AND coalesce(obj_description(c.oid), '') NOT LIKE 'Grain: %'""")
    assert grains == []


def test_a_skipped_day_is_caught_up_by_the_next_run(loaded_warehouse, loaded_sql, world):
    warehouse, sql = loaded_warehouse, loaded_sql  # the world loaded once
    day1, day2 = date(2025, 4, 1), date(2025, 4, 2)
    report = run_for_date(warehouse, day2, world)  # the platform was down on day1
    assert report.ok
    loaded = {d for (d,) in sql("SELECT batch_date FROM audit.load_runs WHERE status = 'loaded'")}
    assert {day1, day2} <= loaded
    checked = {
        d
        for (d,) in sql(
            "SELECT DISTINCT batch_date FROM audit.quality_checks WHERE batch_date > %s", (AS_OF,)
        )
    }
    assert checked == {day1, day2}
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items WHERE batch_date = %s", (day1,)) == len(
        pd.read_csv(world / day1.isoformat() / "order_items.csv")
    )


def test_every_foreign_key_holds_after_a_load(loaded_sql):
    """The loader checks relationships set-based and may skip the FK triggers: prove none broke."""
    sql = loaded_sql  # the world loaded once
    fks = sql("""
        SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, af.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.connamespace = 'warehouse'::regnamespace""")
    assert len(fks) == 17
    orphans = {
        f"{table}.{column}": sql.one(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {ref} r WHERE r.{ref_column} = t.{column})"
        )
        for table, column, ref, ref_column in fks
    }
    assert orphans == dict.fromkeys(orphans, 0)
