"""A corrected re-delivery of a loaded date: its rows are overwritten in place (SCD type 1), reported
per entity, checked and built into the marts again; a key another date loaded stays a conflict."""

from __future__ import annotations

from datetime import timedelta

from ecomm.cli import _report_load
from ecomm.console import out
from ecomm.warehouse.marts import pending_dates
from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, small_batch, write_batch

LATER = DAY + timedelta(days=1)  # the next day: a date after a gap is refused


def load_without_marts(settings, path, **options):
    """A load whose marts this test does not look at (the dbt build is most of a small load's time)."""
    return load_path(settings, path, marts=False, **options)


def _orders(n: int = 20, changed: dict[int, dict] | None = None) -> list[dict]:
    """small_batch's order lines (order 1000 + i of customer and product 1 + i % 3), some `changed`."""
    changed = changed or {}
    return [order_line(1000 + i, 1, 1 + i % 3, 1 + i % 3, **changed.get(1000 + i, {})) for i in range(n)]


def _redeliver(root, customers=None, orders=None, **files):
    return write_batch(
        root,
        DAY,
        customers=customers or [customer(i) for i in range(1, 4)],
        products=[product(i) for i in range(1, 4)],
        order_items=orders or _orders(),
        **files,
    )


def _run(sql, batch_date=DAY):
    return sql(
        "SELECT rows_loaded, rows_corrected, rows_unchanged, rows_quarantined, rows_by_entity, message "
        "FROM audit.load_runs WHERE batch_date = %s ORDER BY run_id DESC LIMIT 1",
        (batch_date,),
    )[0]


def test_corrected_redelivery_updates_the_customer(warehouse, sql, tmp_path):
    assert load_path(warehouse, small_batch(tmp_path)).ok
    fixed = [customer(1), customer(2, age=41, country="Canada"), customer(3)]
    report = load_path(warehouse, _redeliver(tmp_path, customers=fixed))
    [batch] = report.batches
    assert batch.status == "loaded"
    counts = batch.counts["customers"]
    assert (counts.loaded, counts.corrected, counts.unchanged, counts.kept) == (0, 1, 2, 0)
    assert batch.message == "1 row corrected (SCD type 1, overwritten in place): customers 1"
    loaded, corrected, unchanged, quarantined, by_entity, message = _run(sql)
    assert (loaded, corrected, unchanged, quarantined) == (0, 1, 25, 0)
    assert by_entity["customers"]["corrected"] == 1 and message == batch.message
    assert sql("SELECT age, country FROM warehouse.dim_customer WHERE customer_id = 2") == [(41, "Canada")]
    assert report.ok and report.checked_dates == [DAY]  # reconciliation ran again, and passes
    assert sql("SELECT age, country FROM marts.customer_360 WHERE customer_id = 2") == [(41, "Canada")]
    # customer 2's 7 order lines (2 units, 35.00 each) are Canadian sales now
    assert sql("SELECT order_lines, net_revenue FROM marts.daily_sales WHERE country = 'Canada'") == [
        (7, 245)
    ]
    assert pending_dates(sql.conn) == []
    with out.capture() as printed:  # what `ecomm load` prints
        _report_load(report)
    assert f"batch {DAY}: 1 row corrected (SCD type 1, overwritten in place): customers 1\n" in printed.get()


def test_corrected_order_line_updates_the_fact_and_daily_sales(warehouse, sql, tmp_path):
    assert load_path(warehouse, small_batch(tmp_path)).ok
    orders = _orders(changed={1005: {"quantity": 3, "revenue": "55.00", "unit_cost": "9.00"}})
    report = load_path(warehouse, _redeliver(tmp_path, orders=orders))
    [batch] = report.batches
    assert (batch.counts["order_items"].corrected, batch.counts["order_items"].unchanged) == (1, 19)
    assert sql(
        "SELECT quantity, revenue, cost, status FROM warehouse.fact_order_items WHERE order_id = 1005"
    ) == [(3, 55, 27, "completed")]
    assert report.ok  # the raw revenue (720.00) reconciles with the corrected fact
    assert sql.one("SELECT sum(net_revenue) FROM marts.daily_sales") == 720
    assert sql.one("SELECT sum(units) FROM marts.daily_sales") == 41


def test_a_correction_keeps_a_later_return(warehouse, sql, tmp_path):
    small_batch(tmp_path)
    returned = {"order_id": 1005, "line_no": 1, "return_date": str(LATER), "reason": "too small"}
    write_batch(tmp_path, LATER, returns=[returned], order_items=[order_line(2000, 1, 1, 1, day=LATER)])
    assert load_path(warehouse, tmp_path).ok
    _redeliver(tmp_path, orders=_orders(changed={1005: {"quantity": 3, "revenue": "55.00"}}))
    report = load_path(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["loaded", "skipped"]
    assert report.batches[0].counts["order_items"].corrected == 1
    assert sql(
        "SELECT quantity, revenue, cost, status, return_date, return_reason FROM warehouse.fact_order_items "
        "WHERE order_id = 1005"
    ) == [(3, 55, 24, "returned", LATER, "too small")]
    assert report.ok
    assert sql(
        "SELECT sum(returned_revenue), sum(net_revenue) FROM marts.daily_sales WHERE order_date = %s", (DAY,)
    ) == [(55, 665)]
    # the return's own date re-delivered with a corrected reason: the return is corrected
    write_batch(
        tmp_path,
        LATER,
        returns=[returned | {"reason": "too large"}],
        order_items=[order_line(2000, 1, 1, 1, day=LATER)],
    )
    report = load_path(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["skipped", "loaded"]
    assert report.batches[1].counts["returns"].corrected == 1 and report.ok
    assert (
        sql.one("SELECT return_reason FROM warehouse.fact_order_items WHERE order_id = 1005") == "too large"
    )


def test_a_correction_cannot_cancel_a_returned_line(warehouse, sql, tmp_path):
    small_batch(tmp_path)
    returned = {"order_id": 1005, "line_no": 1, "return_date": str(LATER), "reason": "too small"}
    write_batch(tmp_path, LATER, returns=[returned], order_items=[order_line(2000, 1, 1, 1, day=LATER)])
    assert load_without_marts(warehouse, tmp_path).ok
    _redeliver(tmp_path, orders=_orders(changed={1005: {"status": "cancelled", "delivery_days": ""}}))
    report = load_without_marts(warehouse, tmp_path)
    assert report.batches[0].status == "loaded"
    assert sql("SELECT row_no, reason FROM quarantine.order_items") == [
        (7, f"status: cancelled, but the order line was returned on {LATER}")
    ]
    assert sql.one("SELECT status FROM warehouse.fact_order_items WHERE order_id = 1005") == "returned"
    assert report.batches[0].message == (
        "1 row kept from the earlier delivery, absent from this one or quarantined: order_items 1"
    )
    # the warehouse holds a version of the line the latest file replaced: the reconciliation says so
    assert [(c.name, c.details) for c in report.failed_checks] == [
        ("reconcile_order_items_rows", "raw file rows 20, warehouse rows 20 + quarantined 1"),
        ("reconcile_order_items_revenue", "raw good revenue 665.00, warehouse revenue 700.00"),
    ]


def test_a_redelivery_replaces_the_dates_quarantine(warehouse, sql, tmp_path):
    first = _orders(changed={1000: {"customer_id": 99}}) + [order_line(1100 + i, 1, 1, 1) for i in range(20)]
    load_without_marts(warehouse, _redeliver(tmp_path, orders=first))
    assert sql("SELECT row_no, reason FROM quarantine.order_items") == [
        (2, "customer_id: unknown customer 99")
    ]
    fixed = (
        _orders()
        + [order_line(1100 + i, 1, 1, 1) for i in range(20)]
        + [order_line(1200, 1, 1, 1, quantity="two")]
    )
    report = load_without_marts(warehouse, _redeliver(tmp_path, orders=fixed))
    [batch] = report.batches
    assert (batch.counts["order_items"].loaded, batch.counts["order_items"].quarantined) == (1, 1)
    assert sql("SELECT row_no, reason FROM quarantine.order_items") == [
        (42, "quantity: 'two' is not an integer")
    ]
    assert sql.one("SELECT customer_id FROM warehouse.fact_order_items WHERE order_id = 1000") == 1
    assert report.ok  # raw 41 rows = 40 in the warehouse + 1 quarantined, the stale row is gone


def test_a_rejected_redelivery_changes_nothing(warehouse, sql, tmp_path):
    first = _orders(changed={1000: {"customer_id": 99}}) + [order_line(1100 + i, 1, 1, 1) for i in range(20)]
    load_without_marts(warehouse, _redeliver(tmp_path, orders=first))
    bad = [order_line(1100 + i, 1, 1, 1, status="shipped") for i in range(5)]
    report = load_without_marts(
        warehouse, _redeliver(tmp_path, [customer(1), customer(2, age=50), customer(3)], _orders() + bad)
    )
    assert report.batches[0].status == "rejected"
    assert sql.one("SELECT age FROM warehouse.dim_customer WHERE customer_id = 2") == 35
    assert sql("SELECT row_no, reason FROM quarantine.order_items") == [
        (2, "customer_id: unknown customer 99")
    ]


def test_rows_absent_from_a_redelivery_are_kept_and_reported(warehouse, sql, tmp_path):
    assert load_without_marts(warehouse, small_batch(tmp_path)).ok
    report = load_without_marts(warehouse, _redeliver(tmp_path, orders=_orders(19)))
    [batch] = report.batches
    assert batch.counts["order_items"].kept == 1
    assert (
        batch.message
        == "1 row kept from the earlier delivery, absent from this one or quarantined: order_items 1"
    )
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 20
    assert [(c.name, c.details) for c in report.failed_checks] == [
        ("reconcile_order_items_rows", "raw file rows 19, warehouse rows 20 + quarantined 0"),
        ("reconcile_order_items_revenue", "raw good revenue 665.00, warehouse revenue 700.00"),
    ]


def test_a_key_loaded_by_another_date_is_still_quarantined(warehouse, sql, tmp_path):
    nxt = DAY + timedelta(days=1)
    write_batch(
        tmp_path, customers=[customer(1)], products=[product(1)], order_items=[order_line(1, 1, 1, 1)]
    )
    others = [order_line(10 + i, 1, 1, 1, day=nxt) for i in range(30)]
    write_batch(
        tmp_path, nxt, order_items=[order_line(1, 1, 1, 1, day=nxt, quantity=3, revenue="55.00")] + others
    )
    assert load_without_marts(warehouse, tmp_path).ok
    write_batch(
        tmp_path, nxt, order_items=[order_line(1, 1, 1, 1, day=nxt, quantity=4, revenue="75.00")] + others
    )
    report = load_without_marts(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["skipped", "loaded"]
    assert report.batches[1].counts["order_items"].corrected == 0
    assert sql("SELECT batch_date, quantity FROM warehouse.fact_order_items WHERE order_id = 1") == [(DAY, 2)]
    assert sql("SELECT batch_date, row_no, reason FROM quarantine.order_items") == [
        (nxt, 2, f"duplicate key (order_id, line_no): already loaded by batch {DAY}")
    ]
    assert report.ok


def test_a_corrected_campaign_keeps_names_unique(warehouse, sql, tmp_path):
    def campaign(cid, **over):
        row = {
            "campaign_id": cid,
            "campaign_name": f"spring {cid}",
            "channel": "email",
            "campaign_type": "targeted",
            "offer": "10% off",
            "discount_pct": "10.00",
            "target_countries": "United States;Canada",
            "start_date": str(DAY),
            "end_date": str(DAY + timedelta(days=7)),
        }
        return row | over

    nxt = DAY + timedelta(days=1)
    _redeliver(tmp_path, campaigns=[campaign(1), campaign(2)])
    write_batch(
        tmp_path,
        nxt,
        campaigns=[campaign(3, start_date=str(nxt))],
        order_items=[order_line(9, 1, 1, 1, day=nxt)],
    )
    assert load_without_marts(warehouse, tmp_path).ok
    fixed = [campaign(1, target_countries="United States;Mexico"), campaign(2, campaign_name="spring 3")]
    _redeliver(tmp_path, campaigns=fixed)
    report = load_without_marts(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["loaded", "skipped"]
    counts = report.batches[0].counts["campaigns"]
    assert (counts.corrected, counts.quarantined) == (1, 1)
    assert sql(
        "SELECT campaign_id, campaign_name, target_countries FROM warehouse.dim_campaign ORDER BY 1"
    ) == [
        (1, "spring 1", ["United States", "Mexico"]),
        (2, "spring 2", ["United States", "Canada"]),
        (3, "spring 3", ["United States", "Canada"]),
    ]
    assert sql("SELECT row_no, reason FROM quarantine.campaigns") == [
        (3, "campaign_name: spring 3 is the name of another campaign")
    ]


def test_the_same_files_again_correct_nothing(warehouse, sql, tmp_path):
    first = _orders(changed={1000: {"customer_id": 99}}) + [order_line(1100 + i, 1, 1, 1) for i in range(20)]
    batch_dir = _redeliver(tmp_path, orders=first)
    assert load_path(warehouse, batch_dir).ok
    before = sql("SELECT * FROM warehouse.dim_customer ORDER BY 1")
    assert load_path(warehouse, batch_dir).batches[0].status == "skipped"
    report = load_path(warehouse, batch_dir, force=True)
    [batch] = report.batches
    assert (batch.total("corrected"), batch.total("kept"), batch.total("loaded"), batch.message) == (
        0,
        0,
        0,
        "",
    )
    assert report.ok and _run(sql)[1] == 0
    assert sql("SELECT * FROM warehouse.dim_customer ORDER BY 1") == before
    assert sql("SELECT row_no FROM quarantine.order_items") == [(2,)]
    assert report.marts_pending == []  # nothing changed: no rebuild


def test_a_corrected_email_another_customer_has_fails_the_duplicate_email_check(warehouse, sql, tmp_path):
    # dim_customer has no unique key on e-mails (the index on lower(email) serves the check): the
    # correction loads, as a first delivery with that e-mail would, and the check names the batch
    assert load_without_marts(warehouse, small_batch(tmp_path)).ok
    fixed = [customer(1), customer(2, email="C1@example.com"), customer(3)]
    report = load_without_marts(warehouse, _redeliver(tmp_path, customers=fixed))
    assert report.batches[0].counts["customers"].corrected == 1
    assert [(c.name, c.details) for c in report.failed_checks] == [
        ("duplicate_customer_emails", f"1 offending rows in batch {DAY}")
    ]
