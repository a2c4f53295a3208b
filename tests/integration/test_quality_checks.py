"""Quality checks fail when the data is wrong, and a failed check fails the load."""

from __future__ import annotations

from ecomm import db
from ecomm.warehouse import prepare as load_module
from ecomm.warehouse.quality import batches_to_check, run_checks
from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, small_batch, write_batch


def load_without_marts(settings, path, **options):
    """A load whose marts this test does not look at (the dbt build is most of a small load's time)."""
    return load_path(settings, path, marts=False, **options)


def _failed(report) -> dict[str, str]:
    return {c.name: c.details for c in report.failed_checks}


def test_clean_load_passes_every_check_and_records_them(warehouse, sql, tmp_path):
    report = load_without_marts(warehouse, small_batch(tmp_path))
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


def test_changed_files_rerun_is_corrected_and_reconciles(warehouse, tmp_path):
    """A changed file of a loaded date is a correction (SCD type 1, test_load_corrections.py): the
    warehouse takes its values, so its raw revenue reconciles (it used to keep the old ones)."""
    batch = small_batch(tmp_path)
    assert load_without_marts(warehouse, batch).ok
    path = batch / "order_items.csv"
    path.write_text(path.read_text().replace(",2,20.00,5.00,35.00,", ",3,20.00,5.00,55.00,", 1))
    report = load_without_marts(warehouse, batch, force=True)
    assert report.batches[0].counts["order_items"].corrected == 1
    assert _failed(report) == {}
    assert [c.details for c in report.checks if c.name == "reconcile_order_items_revenue"] == [
        "raw good revenue 720.00, warehouse revenue 720.00"
    ]


def test_day_without_orders_fails_freshness(warehouse, tmp_path):
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)])
    report = load_without_marts(warehouse, batch)
    assert _failed(report) == {"freshness": f"0 order lines dated on the latest batch {DAY}"}


def test_order_lines_of_two_customers_fail_consistency(warehouse, tmp_path):
    orders = [order_line(1, 1, 1, 1), order_line(1, 2, 2, 1)]
    batch = write_batch(
        tmp_path, customers=[customer(1), customer(2)], products=[product(1)], order_items=orders
    )
    assert _failed(load_without_marts(warehouse, batch)) == {
        "inconsistent_orders": f"1 offending rows in batch {DAY}"
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
    assert _failed(load_without_marts(warehouse, batch)) == {
        "orphan_purchase_events": f"1 offending rows in batch {DAY}"
    }


def test_duplicate_emails_fail(warehouse, tmp_path):
    batch = write_batch(
        tmp_path,
        customers=[customer(1), customer(2, email="C1@example.com")],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1)],
    )
    assert _failed(load_without_marts(warehouse, batch)) == {
        "duplicate_customer_emails": f"1 offending rows in batch {DAY}"
    }


def test_marts_are_refreshed_after_load(warehouse, sql, tmp_path):
    load_path(warehouse, small_batch(tmp_path))
    assert sql("SELECT order_date, country, category, orders, net_revenue FROM marts.daily_sales") == [
        (DAY, "United States", "Home & Kitchen", 20, 700)
    ]
    assert sql.one("SELECT count(*) FROM marts.customer_360") == 3
    assert sql.one("SELECT sum(units) FROM marts.product_performance") == 40


def _recheck(settings) -> list:
    """Check again every batch the audit says needs it."""
    with db.connection(settings) as conn:
        return run_checks(conn, batches_to_check(conn))


def test_a_row_lost_or_altered_between_file_and_warehouse_fails_reconciliation(
    warehouse, sql, tmp_path, monkeypatch
):
    """A fault in the loader's round trip (its parser loses the last order line and reads one
    price wrong) leaves the loader's own figures consistent with the warehouse, so a check that
    trusts them passes; the raw files, counted independently, do not agree."""
    real_read = load_module.read_raw_file

    def faulty_read(path, entity, **options):
        raw = real_read(path, entity, **options)
        if entity.name == "order_items":
            raw.frame = raw.frame.iloc[:-1].copy()  # the last line silently lost
            raw.frame.loc[raw.frame.index[0], ["unit_price", "revenue"]] = [25.0, 45.0]  # 35.00 read as 45.00
        return raw

    monkeypatch.setattr(load_module, "read_raw_file", faulty_read)
    report = load_without_marts(warehouse, small_batch(tmp_path))
    # what the old check compared: the loader's read - quarantined and staging revenue: they agree
    recorded = sql.one("SELECT rows_by_entity FROM audit.load_runs")
    lines, revenue = sql("SELECT count(*), sum(revenue) FROM warehouse.fact_order_items")[0]
    assert recorded["order_items"]["read"] - recorded["order_items"]["quarantined"] == lines == 19
    assert recorded["good_revenue"] == float(revenue) == 19 * 35 + 10
    assert _failed(report) == {
        "reconcile_order_items_rows": "raw file rows 20, warehouse rows 19 + quarantined 0",
        "reconcile_order_items_revenue": "raw good revenue 700.00, warehouse revenue 675.00",
    }
    assert sql("SELECT checks_passed FROM audit.load_runs") == [(False,)]


def test_quarantined_rows_returns_and_reruns_reconcile(warehouse, sql, tmp_path):
    """Quarantined rows count on the raw side and their revenue does not; a skipped and a forced
    re-run of the same files reconcile again (their unchanged rows are the batch's own rows)."""
    from datetime import timedelta

    later = DAY + timedelta(days=1)
    lines = [order_line(i, 1, 1, 1) for i in range(1, 40)]
    lines[4]["quantity"] = -1  # row 6: quarantined
    write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=lines)
    returned = {"order_id": 1, "line_no": 1, "return_date": str(later), "reason": "too small"}
    write_batch(tmp_path, later, returns=[returned], order_items=[order_line(100, 1, 1, 1, day=later)])
    first = load_without_marts(warehouse, tmp_path)
    assert first.ok, _failed(first)
    assert sql("SELECT row_no FROM quarantine.order_items") == [(6,)]
    details = {(c.batch_date, c.name): c.details for c in first.checks}
    assert (
        details[(DAY, "reconcile_order_items_rows")] == "raw file rows 39, warehouse rows 38 + quarantined 1"
    )
    assert details[(DAY, "reconcile_order_items_revenue")] == (
        "raw good revenue 1330.00, warehouse revenue 1330.00"
    )
    assert details[(later, "reconcile_returns_rows")] == "raw file rows 1, warehouse rows 1 + quarantined 0"

    skipped = load_without_marts(warehouse, tmp_path)  # nothing to load, nothing left to check
    assert skipped.ok and skipped.checks == [] and skipped.checked_dates == []
    forced = load_without_marts(warehouse, tmp_path, force=True)
    assert forced.ok, _failed(forced)
    assert forced.checked_dates == [DAY, later]
    assert {(c.batch_date, c.name): c.details for c in forced.checks} == details


def test_a_raw_file_gone_fails_reconciliation_and_says_so(warehouse, sql, tmp_path):
    batch = small_batch(tmp_path)
    assert load_without_marts(warehouse, batch).ok
    (batch / "order_items.csv").unlink()
    sql(
        "UPDATE audit.load_runs SET checks_passed = NULL RETURNING run_id"
    )  # as a run killed before its checks leaves it
    failed = {c.name: c.details for c in _recheck(warehouse) if not c.passed}
    gone = f"raw file {batch / 'order_items.csv'} is gone: cannot reconcile the batch with it"
    assert failed == {"reconcile_order_items_rows": gone, "reconcile_order_items_revenue": gone}


def test_malformed_and_undecodable_rows_reconcile_as_quarantined(warehouse, tmp_path):
    """The independent count numbers rows as the loader does: a truncated line and a line with a
    latin-1 byte are counted on the raw side and found in quarantine."""
    batch = small_batch(tmp_path, n_orders=60)
    path = batch / "order_items.csv"
    lines = path.read_text().splitlines()
    lines[5] = "1004,1,2025-03-03 10:15:00,2"  # truncated row (line 6 of the file)
    path.write_text("\n".join(lines) + "\n")
    customers = batch / "customers.csv"  # a customer without orders, with a latin-1 byte
    customers.write_bytes(
        customers.read_bytes() + b"99,Ada,L,c99@example.com,35,,Germany,M\xfcnchen,organic,2024-01-15\n"
    )
    report = load_without_marts(warehouse, batch)
    details = {c.name: c.details for c in report.checks}
    assert report.ok, _failed(report)
    assert details["reconcile_order_items_rows"] == "raw file rows 60, warehouse rows 59 + quarantined 1"
    assert details["reconcile_order_items_revenue"] == "raw good revenue 2065.00, warehouse revenue 2065.00"
    assert details["reconcile_customers_rows"] == "raw file rows 4, warehouse rows 3 + quarantined 1"


def test_a_failed_freshness_stands_when_a_later_day_loads(warehouse, tmp_path):
    from datetime import timedelta

    write_batch(tmp_path, customers=[customer(1)], products=[product(1)])  # a day without orders
    assert _failed(load_without_marts(warehouse, tmp_path)) == {
        "freshness": f"0 order lines dated on the latest batch {DAY}"
    }
    later = DAY + timedelta(days=1)
    write_batch(tmp_path, later, order_items=[order_line(1, 1, 1, 1, day=later)])
    report = load_without_marts(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["skipped", "loaded"]
    assert report.checked_dates == [DAY, later]
    assert [(c.batch_date, c.passed, c.details) for c in report.checks if c.name == "freshness"] == [
        (DAY, False, f"0 order lines dated on batch {DAY} (its freshness failed before)"),
        (later, True, f"1 order lines dated on the latest batch {later}"),
    ]


def test_no_marts_leaves_the_batch_pending_for_the_next_load(warehouse, tmp_path):
    from ecomm.warehouse.marts import pending_dates

    batch = small_batch(tmp_path)
    first = load_path(warehouse, batch, marts=False)
    assert first.ok and first.marts_pending == [DAY] and first.mart_seconds == {}
    with db.connection(warehouse) as conn:
        assert pending_dates(conn) == [DAY]
    again = load_path(warehouse, batch)  # skipped, but it builds what the first left pending
    assert [b.status for b in again.batches] == ["skipped"] and again.mart_seconds
    with db.connection(warehouse) as conn:
        assert pending_dates(conn) == []
