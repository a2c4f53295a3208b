"""Quality checks fail when the data is wrong, and a failed check fails the load."""

from __future__ import annotations

from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, small_batch, write_batch


def _failed(report) -> dict[str, str]:
    return {c.name: c.details for c in report.failed_checks}


def test_clean_load_passes_every_check_and_records_them(warehouse, sql, tmp_path):
    report = load_path(warehouse, small_batch(tmp_path))
    assert report.ok
    names = {c.name for c in report.checks}
    assert {
        "reconcile_order_items_rows",
        "reconcile_order_items_revenue",
        "freshness",
        "orphan_purchase_events",
        "inconsistent_orders",
        "duplicate_customer_emails",
    } <= names
    assert sql.one("SELECT count(*) FROM audit.quality_checks WHERE passed") == len(report.checks)


def test_changed_files_rerun_fails_reconciliation(warehouse, tmp_path):
    batch = small_batch(tmp_path)
    assert load_path(warehouse, batch).ok
    path = batch / "order_items.csv"
    path.write_text(path.read_text().replace(",2,20.00,5.00,35.00,", ",3,20.00,5.00,55.00,", 1))
    report = load_path(warehouse, batch, force=True)
    assert _failed(report) == {
        "reconcile_order_items_revenue": "raw good revenue 720.00, warehouse revenue 700.00"
    }


def test_day_without_orders_fails_freshness(warehouse, tmp_path):
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)])
    report = load_path(warehouse, batch)
    assert _failed(report) == {"freshness": f"0 order lines dated on the latest batch {DAY}"}


def test_order_lines_of_two_customers_fail_consistency(warehouse, tmp_path):
    orders = [order_line(1, 1, 1, 1), order_line(1, 2, 2, 1)]
    batch = write_batch(
        tmp_path, customers=[customer(1), customer(2)], products=[product(1)], order_items=orders
    )
    assert _failed(load_path(warehouse, batch)) == {
        "inconsistent_orders": "1 offending rows in the batches loaded"
    }


def test_purchase_event_without_order_fails(warehouse, tmp_path):
    events = [
        {
            "event_id": 1,
            "session_id": 1,
            "customer_id": 1,
            "product_id": 1,
            "event_type": "purchase",
            "event_ts": f"{DAY} 10:00:00",
        },
        {
            "event_id": 2,
            "session_id": 2,
            "customer_id": 2,
            "product_id": 1,
            "event_type": "purchase",
            "event_ts": f"{DAY} 11:00:00",
        },
    ]
    batch = write_batch(
        tmp_path,
        customers=[customer(1), customer(2)],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1)],
        web_events=events,
    )
    assert _failed(load_path(warehouse, batch)) == {
        "orphan_purchase_events": "1 offending rows in the batches loaded"
    }


def test_duplicate_emails_fail(warehouse, tmp_path):
    batch = write_batch(
        tmp_path,
        customers=[customer(1), customer(2, email="C1@example.com")],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1)],
    )
    assert _failed(load_path(warehouse, batch)) == {
        "duplicate_customer_emails": "1 offending rows in the batches loaded"
    }


def test_marts_are_refreshed_after_load(warehouse, sql, tmp_path):
    load_path(warehouse, small_batch(tmp_path))
    assert sql("SELECT order_date, country, category, orders, net_revenue FROM marts.daily_sales") == [
        (DAY, "United States", "Home & Kitchen", 20, 700)
    ]
    assert sql.one("SELECT count(*) FROM marts.customer_360") == 3
    assert sql.one("SELECT sum(units) FROM marts.product_performance") == 40
