"""Timestamps with a zone offset (issue 21, item 4). An ISO 8601 offset (Z, +HH:MM, +HHMM, +HH) is
converted to the shop's time zone (ECOMM_SHOP_TIMEZONE, UTC by default) and stored naive, as shop
time; a timestamp without one is shop time already. The batch-date rule applies after conversion.
Before: such a cell was quarantined as "not a timestamp" (an older loader rejected the batch)."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from ecomm import db
from ecomm.warehouse.load import load_directory

from support.batches import DAY, customer, order_line, product, write_batch
from support.cli import ecomm

GOOD_ORDERS = [order_line(100 + i, 1, 1, 1) for i in range(30)]


@pytest.fixture
def ecomm_load(warehouse, tmp_path):
    """`ecomm load --no-marts DIR` as a user runs it against the test warehouse, in the given shop zone
    (these tests look at the warehouse, not the marts: the dbt build would be most of their time); in
    this process (support/cli.py), no interpreter start per load."""

    def run(batch: Path, zone: str = "UTC") -> subprocess.CompletedProcess:
        env = {
            "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
            "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
            "ECOMM_HOME": str(tmp_path / "home"),
            "ECOMM_SHOP_TIMEZONE": zone,
        }
        return ecomm("load", "--no-marts", str(batch), env=env)

    return run


def _orders(tmp_path, *order_ts: str) -> Path:
    """Orders 1.. with the given order_ts, then 30 naive ones (one bad row stays under 5%)."""
    special = [order_line(i, 1, 1, 1, order_ts=ts) for i, ts in enumerate(order_ts, start=1)]
    return write_batch(
        tmp_path, customers=[customer(1)], products=[product(1)], order_items=[*special, *GOOD_ORDERS]
    )


def _order_ts(sql) -> list[tuple[int, datetime]]:
    return sql("SELECT order_id, order_ts FROM warehouse.fact_order_items WHERE order_id < 100 ORDER BY 1")


def test_order_ts_with_zone_offset_is_converted_not_rejected(ecomm_load, sql, tmp_path):
    batch = _orders(
        tmp_path,
        "2025-03-03 10:15:00+02:00",
        "2025-03-03T08:15:00Z",
        "2025-03-03 03:15:00-0500",
        "2025-03-03T15:15:00+07",
        "2025-03-03 08:15:00",  # naive: shop time as written
    )
    done = ecomm_load(batch)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert _order_ts(sql) == [(i, datetime(2025, 3, 3, 8, 15)) for i in range(1, 6)]
    assert sql("SELECT count(*) FROM quarantine.order_items") == [(0,)]
    assert sql("SELECT status, rows_loaded, rows_quarantined FROM audit.load_runs") == [("loaded", 37, 0)]


def test_order_ts_with_offset_on_the_next_shop_day_is_quarantined(ecomm_load, sql, tmp_path):
    # 23:30 in New York is 04:30 the next day in the shop's zone (UTC): not of this batch
    done = ecomm_load(_orders(tmp_path, "2025-03-03 23:30:00-05:00"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sql("SELECT row_no, reason FROM quarantine.order_items") == [
        (2, f"order_ts: order_ts must fall on the batch date {DAY} (got Timestamp('2025-03-04 04:30:00'))")
    ]
    assert _order_ts(sql) == []
    assert sql("SELECT status, rows_loaded, rows_quarantined FROM audit.load_runs") == [("loaded", 32, 1)]


def test_order_ts_with_offset_is_converted_to_the_shop_time_zone_setting(ecomm_load, sql, tmp_path):
    # the same cell in a shop in New York: 23:30 on the batch date, loaded
    done = ecomm_load(
        _orders(tmp_path, "2025-03-03 23:30:00-05:00", "2025-03-04T01:00:00Z"), zone="America/New_York"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert _order_ts(sql) == [(1, datetime(2025, 3, 3, 23, 30)), (2, datetime(2025, 3, 3, 20, 0))]
    assert sql("SELECT count(*) FROM quarantine.order_items") == [(0,)]


def test_an_unknown_shop_time_zone_is_one_line(ecomm_load, tmp_path):
    done = ecomm_load(_orders(tmp_path), zone="Mars/Olympus_Mons")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "error: setting shop_timezone: Value error, unknown time zone 'Mars/Olympus_Mons': use an IANA "
        "name such as Europe/Berlin or UTC"
    )


def test_event_ts_with_zone_offset_is_converted_in_worker_processes(warehouse, sql, tmp_path):
    """The zone is an argument of the worker's task, not a setting the worker would read itself."""
    events = [
        {
            "event_id": i,
            "session_id": 7,
            "customer_id": 1,
            "product_id": 1,
            "event_type": "view",
            "event_ts": ts,
        }
        for i, ts in enumerate(
            ["2025-03-03T01:00:00Z", "2025-03-03 12:00:00+02:00", "2025-03-03 10:00:00"], start=1
        )
    ]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], web_events=events)
    with db.connection(warehouse) as conn:
        [result] = load_directory(conn, batch, threshold=0.05, workers=2, zone="Asia/Tokyo")
    assert (result.status, result.counts["web_events"].loaded) == ("loaded", 3), result.message
    assert sql("SELECT event_id, event_ts, event_date FROM warehouse.fact_web_events ORDER BY 1") == [
        (1, datetime(2025, 3, 3, 10, 0), DAY),  # 01:00 UTC is 10:00 in Tokyo
        (2, datetime(2025, 3, 3, 19, 0), DAY),
        (3, datetime(2025, 3, 3, 10, 0), DAY),  # naive: as written
    ]


def test_load_directory_refuses_a_zone_pyarrow_does_not_know(warehouse, tmp_path):
    batch = _orders(tmp_path)
    with (
        db.connection(warehouse) as conn,
        pytest.raises(ValueError, match="unknown time zone 'Nowhere/Town'"),
    ):
        load_directory(conn, batch, threshold=0.05, zone="Nowhere/Town")
