"""Bulk mode: many business dates load as one atomic range with per-date audit rows, and give the
same outcome as loading the dates one by one (references, duplicate keys, returns, rejections)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecomm import db
from ecomm.warehouse.load import load_directory
from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, write_batch

DAY2, DAY3 = DAY + timedelta(days=1), DAY + timedelta(days=2)


def _load(settings, path, **kw):
    with db.connection(settings) as conn:
        return load_directory(conn, path, threshold=settings.bad_row_threshold, **kw)


def test_a_range_is_one_transaction_with_one_audit_row_per_date(warehouse, sql, tmp_path):
    for day in (DAY, DAY2, DAY3):
        write_batch(
            tmp_path,
            day,
            customers=[customer(day.day)],
            products=[product(day.day)],
            order_items=[order_line(day.day * 100 + i, 1, day.day, day.day, day=day) for i in range(5)],
        )
    report = load_path(warehouse, tmp_path)
    assert report.ok and [b.status for b in report.batches] == ["loaded"] * 3
    assert sql(
        "SELECT batch_date, status, rows_read, rows_loaded FROM audit.load_runs ORDER BY batch_date"
    ) == [(DAY, "loaded", 7, 7), (DAY2, "loaded", 7, 7), (DAY3, "loaded", 7, 7)]
    # written by one transaction: the same transaction id on every date's audit row
    assert sql.one("SELECT count(DISTINCT xmin::text) FROM audit.load_runs") == 1
    assert sql.one("SELECT count(DISTINCT started_at) FROM audit.load_runs") == 1
    assert dict(sql("SELECT batch_date, count(*) FROM warehouse.fact_order_items GROUP BY 1")) == {
        DAY: 5,
        DAY2: 5,
        DAY3: 5,
    }


def _three_days(tmp_path, day2_orders):
    write_batch(
        tmp_path,
        DAY,
        customers=[customer(1)],
        products=[product(1)],
        order_items=[order_line(i, 1, 1, 1) for i in range(1, 40)],
    )
    write_batch(tmp_path, DAY2, order_items=day2_orders)
    write_batch(tmp_path, DAY3, order_items=[order_line(300 + i, 1, 1, 1, day=DAY3) for i in range(40)])


@pytest.mark.parametrize("bad", ["rule", "validation"])
def test_the_first_date_over_the_threshold_stops_the_range(warehouse, sql, tmp_path, bad):
    """Day 2 has 3 bad rows of 12 (found by a set-based rule, or by validation): day 1 loads,
    day 2 is rejected whole, day 3 is not loaded (nor even reported)."""
    if bad == "rule":  # unknown customer 99
        orders = [order_line(200 + i, 1, 99, 1, day=DAY2) for i in range(3)]
    else:
        orders = [order_line(200 + i, 1, 1, 1, day=DAY2, status="shipped") for i in range(3)]
    orders += [order_line(210 + i, 1, 1, 1, day=DAY2) for i in range(9)]
    _three_days(tmp_path, orders)
    results = _load(warehouse, tmp_path)
    assert [(r.batch_date, r.status) for r in results] == [(DAY, "loaded"), (DAY2, "rejected")]
    assert results[1].message == (
        "3 of 12 rows are bad (25.0% > threshold 5.0%; most in order_items.csv); "
        "nothing of this batch was loaded"
    )
    assert sql("SELECT batch_date, status, rows_quarantined FROM audit.load_runs ORDER BY run_id") == [
        (DAY, "loaded", 0),
        (DAY2, "rejected", 3),
    ]
    assert dict(sql("SELECT batch_date, count(*) FROM warehouse.fact_order_items GROUP BY 1")) == {DAY: 39}
    assert sql.one("SELECT count(*) FROM quarantine.order_items") == 0
    # fixed, the rest of the range loads
    _three_days(tmp_path, [order_line(210 + i, 1, 1, 1, day=DAY2) for i in range(9)])
    again = _load(warehouse, tmp_path)
    assert [(r.batch_date, r.status) for r in again] == [(DAY, "skipped"), (DAY2, "loaded"), (DAY3, "loaded")]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 39 + 9 + 40


def test_references_inside_a_range_follow_the_dates(warehouse, sql, tmp_path):
    """A row may reference what an earlier (or its own) date of the range staged, not a later date;
    a key staged by two dates belongs to the earlier; a return may follow its order in the range."""
    write_batch(
        tmp_path,
        DAY,
        customers=[customer(1)],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1), order_line(2, 1, 2, 1)]  # customer 2 signs up on day 2
        + [order_line(10 + i, 1, 1, 1) for i in range(40)],
    )
    write_batch(
        tmp_path,
        DAY2,
        customers=[customer(2)],
        order_items=[order_line(1, 1, 1, 1, day=DAY2), order_line(3, 1, 2, 1, day=DAY2)]
        + [order_line(100 + i, 1, 1, 1, day=DAY2) for i in range(40)],
        returns=[{"order_id": 10, "line_no": 1, "return_date": str(DAY2), "reason": "too small"}],
    )
    results = _load(warehouse, tmp_path, workers=2)  # worker processes, as a bulk load has
    assert [r.status for r in results] == ["loaded", "loaded"]
    assert sql("SELECT batch_date, row_no, reason FROM quarantine.order_items ORDER BY batch_date") == [
        (DAY, 3, "customer_id: unknown customer 2"),
        (DAY2, 2, f"duplicate key (order_id, line_no): already loaded by batch {DAY}"),
    ]
    assert sql(
        "SELECT order_id, customer_id, batch_date FROM warehouse.fact_order_items WHERE order_id < 4"
    ) == [
        (1, 1, DAY),
        (3, 2, DAY2),
    ]
    assert sql("SELECT status, return_date FROM warehouse.fact_order_items WHERE order_id = 10") == [
        ("returned", DAY2)
    ]
    assert [(r.counts["order_items"].loaded, r.counts["order_items"].quarantined) for r in results] == [
        (41, 1),
        (41, 1),
    ]
    assert results[1].counts["returns"].loaded == 1


KILLED_LOADER = """
import sys
from pathlib import Path
from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import load_directory
settings = Settings(_env_file=None, database_url=sys.argv[1], warehouse_db=sys.argv[2])
with db.connection(settings) as conn:
    load_directory(conn, Path(sys.argv[3]), threshold=0.05, workers=2)
"""


def test_worker_processes_die_with_a_killed_loader(warehouse, sql, tmp_path):
    """kill -9 of a loader reading with worker processes: its workers end too, nothing is visible."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from ecomm.datagen import GeneratorConfig, generate_history

    world = tmp_path / "world"
    generate_history(GeneratorConfig(seed=5, as_of=DAY, days=60, customers=300, products=40), world)
    url = db.server_url(warehouse).render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_LOADER, url, warehouse.warehouse_db, str(world)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while len(workers := psutil.Process(proc.pid).children()) < 2 or not sql.one(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    ):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []
    while sql.one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"):
        assert time.time() < deadline
        time.sleep(0.05)
    assert sql.one("SELECT count(*) FROM audit.load_runs") == 0
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == 0
    results = _load(warehouse, world, workers=2)
    assert [r.status for r in results] == ["loaded"] * 60


def test_a_large_file_read_in_parts_gives_the_same_rows_and_reasons(warehouse, sql, tmp_path, monkeypatch):
    """A file over PART_BYTES is validated in parts in parallel: row numbers, reasons and keys
    duplicated across parts come out as for the whole file."""
    from ecomm.warehouse import prepare

    orders = [order_line(i, 1, 1, 1) for i in range(1, 101)]  # file lines 2..101
    orders[53] = order_line(1, 1, 1, 1)  # line 55 repeats the key of line 2 (another part)
    orders[48] = order_line(49, 1, 1, 1, quantity="two")  # line 50
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    path = batch / "order_items.csv"
    lines = path.read_text().splitlines()
    lines[39] = "1039,1,2025-03-03 10:15:00,2"  # line 40: truncated
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(prepare, "PART_BYTES", 1000)
    assert len(prepare._parts(path, 10)) > 5
    [result] = _load(warehouse, batch)
    assert result.status == "loaded"
    assert sql("SELECT row_no, reason FROM quarantine.order_items ORDER BY row_no") == [
        (2, "duplicate key (order_id, line_no) within the file"),
        (40, "malformed CSV row: 4 fields, expected 13"),
        (50, "quantity: 'two' is not an integer"),
        (55, "duplicate key (order_id, line_no) within the file"),
    ]
    assert result.counts["order_items"].read == 100 and result.counts["order_items"].quarantined == 4
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 96
    assert sql.one("SELECT min(order_id) FROM warehouse.fact_order_items") == 2
    # a quoted line break would shift the row numbers of the later parts: such a file is read whole
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('a,b\n1,"x\ny"\n' + "2,z\n" * 500)
    assert prepare._parts(quoted, 4) is None
    quoted.write_text('a,b\n1,"x ""y"""\n' + "2,z\n" * 500)
    assert len(prepare._parts(quoted, 4)) == 4
