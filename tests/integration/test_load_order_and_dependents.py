"""Dates loaded out of order, quarantined rows a later batch resolves, and the rows that depend on a
quarantined order line (issue 21, items 9 and 13), through `ecomm load` as a user runs it."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest

from ecomm import db
from ecomm.warehouse.load import first_gap, load_directory

from support.batches import DAY, customer, order_line, product, write_batch
from support.cli import ecomm

D1, D2, D3, D4 = (DAY + timedelta(days=n) for n in range(4))


@pytest.fixture
def env(warehouse, tmp_path) -> dict:
    return {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_HOME": str(tmp_path),
    }


def ecomm_load(path, env) -> subprocess.CompletedProcess:
    """`ecomm load PATH` in this process (support/cli.py)."""
    return ecomm("load", str(path), env=env)


def one_line(text: str) -> str:
    return " ".join(text.split())


def event(eid: int, cid: int, pid: int | str, day=DAY, event_type: str = "purchase") -> dict:
    return {
        "event_id": eid,
        "session_id": eid,
        "customer_id": cid,
        "product_id": pid,
        "event_type": event_type,
        "event_ts": f"{day} 10:10:00",
    }


def day_batch(root, day, base: int, views: int = 0, **extra: list[dict]):
    """A clean batch of its own customers (base+1..base+3), products, 20 one-line orders of product
    base+1 and `views` view events; `extra` rows are appended to the entity's file."""
    rows = {
        "customers": [customer(base + i, signup_date=str(day)) for i in (1, 2, 3)],
        "products": [product(base + i) for i in (1, 2, 3)],
        "order_items": [order_line(base * 10 + i, 1, base + 1 + i % 3, base + 1, day) for i in range(20)],
        "web_events": [event(base * 10 + i, base + 1, base + 1, day, "view") for i in range(views)],
    }
    for name, more in extra.items():
        rows[name] = rows.get(name, []) + more
    return write_batch(root, day, **rows)


def load_quietly(warehouse, path):
    """A load without checks and marts (a setup step: the test's own `ecomm load` does those)."""
    with db.connection(warehouse) as conn:
        return {r.batch_date: r.status for r in load_directory(conn, path, threshold=0.05)}


def test_first_gap_names_the_days_missing_since_the_latest_date_held():
    assert first_gap([D3], {D1}) == (D3, [D2])
    assert first_gap([D1, D2, D4], set()) == (D4, [D3])
    assert first_gap([D4], set()) is None  # the first load may start at any date
    assert first_gap([D1], {D3}) is None  # below everything held
    assert first_gap([D2], {D1, D3}) is None  # the backfill of a hole
    assert first_gap([D1, D4], {D1, D2}) == (D4, [D3])  # a re-run of D1 is not new
    assert first_gap([D4], {D1, D3}) is None  # an old hole does not block every later day


def test_out_of_order_date_is_refused_naming_the_gap(warehouse, sql, env, tmp_path):
    assert load_quietly(warehouse, day_batch(tmp_path / "a", D1, 100)) == {D1: "loaded"}
    before = sql.one("SELECT count(*) FROM warehouse.fact_order_items")
    later = day_batch(tmp_path / "b", D4, 400)

    run = ecomm_load(later, env)

    message = (
        "2 earlier date(s) never loaded (2025-03-04, 2025-03-05): load them first (a day without data is a "
        "batch of header-only files); nothing of this batch was loaded"
    )
    assert run.returncode == 1, run.stderr
    assert f"rejected batch {D4}: {message}" in one_line(run.stderr)
    assert "1 batch(es): 0 loaded, 0 skipped, 1 rejected" in run.stdout
    assert sql(
        "SELECT batch_date, status, rows_read, rows_loaded, message FROM audit.load_runs ORDER BY run_id"
    ) == [
        (D1, "loaded", 26, 26, None),
        (D4, "rejected", 0, 0, message),
    ]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == before == 20
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer WHERE batch_date = %s", (D4,)) == 0

    # a gap inside the directory: the dates before it load, the one after it is refused
    root = tmp_path / "c"
    for day, base in ((D2, 200), (D4, 400)):
        day_batch(root, day, base)
    with db.connection(warehouse) as conn:
        results = load_directory(conn, root, threshold=0.05)
    assert [(r.batch_date, r.status) for r in results] == [(D2, "loaded"), (D4, "rejected")]
    assert results[1].message == message.replace("2 earlier date(s)", "1 earlier date(s)").replace(
        "2025-03-04, 2025-03-05", "2025-03-05"
    )


def test_backfilling_a_hole_still_loads(warehouse, sql, env, tmp_path):
    root = tmp_path / "raw"
    # D3 first (an empty warehouse may start anywhere), then D1 (before everything held): a hole at D2
    assert load_quietly(warehouse, day_batch(root, D3, 300)) == {D3: "loaded"}
    assert load_quietly(warehouse, day_batch(root, D1, 100)) == {D1: "loaded"}

    run = ecomm_load(day_batch(root, D2, 200), env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 batch(es): 1 loaded, 0 skipped, 0 rejected" in run.stdout
    assert sql("SELECT batch_date, count(*) FROM warehouse.fact_order_items GROUP BY 1 ORDER BY 1") == [
        (D1, 20),
        (D2, 20),
        (D3, 20),
    ]
    # and the day after the latest one loads as usual, the whole directory a re-run of the others
    day_batch(root, D4, 400)
    assert load_quietly(warehouse, root) == {D1: "skipped", D2: "skipped", D3: "skipped", D4: "loaded"}
    assert sql("SELECT status, count(*) FROM audit.load_runs GROUP BY 1") == [("loaded", 4)]


def test_quarantined_event_is_loaded_when_its_customer_arrives(warehouse, sql, env, tmp_path):
    root = tmp_path / "raw"
    # D2 first: customer 254 signs up on D1, which is loaded later (a backfill); on D2 the customer
    # orders (line 254001/1) and the purchase is a web event
    late = [order_line(254001, 1, 254, 201, D2)]
    day_batch(root, D2, 200, views=20, order_items=late, web_events=[event(9, 254, 201, D2)])
    first = ecomm_load(root, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert sql(
        "SELECT 'order_items', row_no, reason, retry FROM quarantine.order_items UNION ALL "
        "SELECT 'web_events', row_no, reason, retry FROM quarantine.web_events ORDER BY 1"
    ) == [
        ("order_items", 22, "customer_id: unknown customer 254", True),
        (
            "web_events",
            22,
            "customer_id: unknown customer 254; purchase event of quarantined order line 254001/1",
            True,
        ),
    ]
    day_batch(root, D1, 100, customers=[customer(254, signup_date=str(D1))])

    run = ecomm_load(root, env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 batch(es): 1 loaded, 1 skipped, 0 rejected" in run.stdout
    assert f"2 row(s) quarantined earlier now loaded ({D2} order_items 1, web_events 1)" in run.stdout
    assert f"checked again (unchecked or failed before): {D2}" in run.stdout
    d1_run, d2_run = (
        sql.one("SELECT run_id FROM audit.load_runs WHERE batch_date = %s", (d,)) for d in (D1, D2)
    )
    assert sql("SELECT batch_date, revenue FROM warehouse.fact_order_items WHERE order_id = 254001") == [
        (D2, 35)
    ]
    assert sql("SELECT batch_date FROM warehouse.fact_web_events WHERE customer_id = 254") == [(D2,)]
    assert sql(
        "SELECT resolved_by_run, resolved_at IS NOT NULL FROM quarantine.order_items UNION ALL "
        "SELECT resolved_by_run, resolved_at IS NOT NULL FROM quarantine.web_events"
    ) == [(d1_run, True), (d1_run, True)]
    assert sql.one("SELECT rows_by_entity->'resolved' FROM audit.load_runs WHERE run_id = %s", (d1_run,)) == {
        str(D2): {"order_items": 1, "web_events": 1}
    }
    # D2 was checked again (its rows changed) and passes: raw rows = warehouse + unresolved quarantine
    assert sql(
        "SELECT check_name, passed, details FROM audit.quality_checks WHERE load_run_id = %s "
        "AND check_name IN ('reconcile_order_items_rows', 'reconcile_web_events_rows', "
        "'reconcile_order_items_revenue', 'orphan_purchase_events') ORDER BY check_id",
        (d2_run,),
    ) == [
        ("reconcile_order_items_rows", True, "raw file rows 21, warehouse rows 20 + quarantined 1"),
        ("reconcile_order_items_revenue", True, "raw good revenue 700.00, warehouse revenue 700.00"),
        ("reconcile_web_events_rows", True, "raw file rows 21, warehouse rows 20 + quarantined 1"),
        ("orphan_purchase_events", True, f"0 offending rows in batch {D2}"),
        ("reconcile_order_items_rows", True, "raw file rows 21, warehouse rows 21 + quarantined 0"),
        ("reconcile_order_items_revenue", True, "raw good revenue 735.00, warehouse revenue 735.00"),
        ("reconcile_web_events_rows", True, "raw file rows 21, warehouse rows 21 + quarantined 0"),
        ("orphan_purchase_events", True, f"0 offending rows in batch {D2}"),
    ]
    assert sql("SELECT batch_date, checks_passed FROM audit.load_runs ORDER BY 1") == [(D1, True), (D2, True)]
    # the marts were rebuilt for D2: they hold its late line
    assert sql("SELECT batch_date FROM audit.mart_builds ORDER BY 1") == [(D1,), (D2,)]
    assert sql.one("SELECT sum(gross_revenue) FROM marts.daily_sales WHERE order_date = %s", (D2,)) == 735


def test_quarantined_order_line_quarantines_its_purchase_event(warehouse, sql, env, tmp_path):
    root = tmp_path / "raw"
    # customer 104 buys with a bad quantity (validation), customer 105 with an unknown campaign (a rule);
    # each purchase is a web event (105's without a product); on D2, line 2/1 is returned and reviewed
    buyers = [customer(104, signup_date=str(D1)), customer(105, signup_date=str(D1))]
    bad_lines = [
        order_line(2, 1, 104, 101, D1, quantity="two"),
        order_line(3, 1, 105, 101, D1, campaign_id=9),
    ]
    events = [event(1, 104, 101, D1), event(2, 105, "", D1), event(3, 101, 101, D1)]
    day_batch(root, D1, 100, views=60, customers=buyers, order_items=bad_lines, web_events=events)
    returns = [{"order_id": 2, "line_no": 1, "return_date": str(D2), "reason": "damaged"}]
    reviews = [
        {
            "review_id": 1,
            "customer_id": 104,
            "product_id": 101,
            "order_id": 2,
            "rating": 1,
            "review_date": str(D2),
        }
    ]
    day_batch(root, D2, 200, views=20, returns=returns, reviews=reviews)

    run = ecomm_load(root, env)

    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 batch(es): 2 loaded, 0 skipped, 0 rejected" in run.stdout
    assert "quality checks: 25/25 passed over 2 batch(es)" in run.stdout
    quarantined = " UNION ALL ".join(
        f"SELECT '{e}', batch_date, row_no, reason FROM quarantine.{e}"
        for e in ("order_items", "web_events", "returns", "reviews")
    )
    assert sql(quarantined + " ORDER BY 1, 2, 3") == [
        ("order_items", D1, 22, "quantity: 'two' is not an integer"),
        ("order_items", D1, 23, "campaign_id: unknown campaign 9"),
        ("returns", D2, 2, "order_id, line_no: return of quarantined order line 2/1"),
        ("reviews", D2, 2, "review of quarantined order line 2/1"),
        ("web_events", D1, 62, "purchase event of quarantined order line 2/1"),
        ("web_events", D1, 63, "purchase event of quarantined order line 3/1"),
    ]
    assert sql("SELECT event_id FROM warehouse.fact_web_events WHERE event_type = 'purchase'") == [(3,)]
    assert sql(
        "SELECT batch_date, rows_read, rows_loaded, rows_quarantined FROM audit.load_runs ORDER BY 1"
    ) == [
        (D1, 93, 89, 4),
        (D2, 48, 46, 2),
    ]


def test_real_orphan_purchase_event_still_fails_the_check(warehouse, sql, env, tmp_path):
    # customer 101 bought product 101 on D1, never product 102: that purchase event has no line anywhere
    batch = day_batch(tmp_path / "raw", D1, 100, web_events=[event(1, 101, 102, D1), event(2, 101, 101, D1)])

    run = ecomm_load(batch, env)

    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 batch(es): 1 loaded, 0 skipped, 0 rejected" in run.stdout
    assert f"failed check orphan_purchase_events ({D1}): 1 offending rows in batch {D1}" in one_line(
        run.stderr
    )
    assert sql("SELECT event_id FROM warehouse.fact_web_events ORDER BY 1") == [(1,), (2,)]
    assert sql.one("SELECT count(*) FROM quarantine.web_events") == 0
    assert sql("SELECT status, checks_passed FROM audit.load_runs") == [("loaded", False)]
