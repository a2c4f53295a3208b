"""Bad raw input, each with its expected outcome: quarantine with a reason, or the batch rejected."""

from __future__ import annotations

from ecomm.warehouse.run import load_path

from support.batches import DAY, customer, order_line, product, small_batch, write_batch


def _load(settings, path, **kw):
    """A load (these tests look at the warehouse and quarantine, not the marts: no dbt build)."""
    return load_path(settings, path, marts=False, **kw)


def _quarantine(sql, entity="order_items"):
    return sql(f"SELECT row_no, reason FROM quarantine.{entity} ORDER BY row_no")


def test_clean_batch_loads_every_row(warehouse, sql, tmp_path):
    report = _load(warehouse, small_batch(tmp_path))
    [batch] = report.batches
    assert batch.status == "loaded"
    assert batch.counts["order_items"].loaded == 20
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 20
    assert sql.one("SELECT sum(revenue) FROM warehouse.fact_order_items") == 700
    assert report.ok and all(c.passed for c in report.checks)


def test_malformed_csv_line_is_quarantined(warehouse, sql, tmp_path):
    batch = small_batch(tmp_path)
    path = batch / "order_items.csv"
    lines = path.read_text().splitlines()
    lines[5] = "1004,1,2025-03-03 10:15:00,2"  # truncated row (line 6 of the file)
    path.write_text("\n".join(lines) + "\n")
    report = _load(
        warehouse,
        batch,
    )
    assert report.batches[0].status == "loaded"
    assert _quarantine(sql) == [(6, "malformed CSV row: 4 fields, expected 13")]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 19


def test_missing_column_rejects_the_batch(warehouse, sql, tmp_path):
    batch = small_batch(tmp_path)
    path = batch / "order_items.csv"
    rows = [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]  # drop delivery_days
    path.write_text("\n".join(rows) + "\n")
    report = _load(warehouse, batch)
    [result] = report.batches
    assert result.status == "rejected"
    assert result.message.endswith("order_items.csv: missing column(s) delivery_days")
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == 0
    assert sql("SELECT status FROM audit.load_runs") == [("rejected",)]


def test_wrong_type_names_field_and_value(warehouse, sql, tmp_path):
    orders = [order_line(1, 1, 1, 1), order_line(2, 1, 1, 1, quantity="two")]
    orders += [order_line(10 + i, 1, 1, 1) for i in range(30)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    _load(warehouse, batch)
    assert _quarantine(sql) == [(3, "quantity: 'two' is not an integer")]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 31


def test_negative_quantity_is_quarantined(warehouse, sql, tmp_path):
    orders = [order_line(1, 1, 1, 1, quantity=-1, revenue="-25.00", discount="5.00")]
    orders += [order_line(10 + i, 1, 1, 1) for i in range(30)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    _load(warehouse, batch)
    [(row_no, reason)] = _quarantine(sql)
    assert row_no == 2
    assert "quantity: quantity must be > 0 (got -1)" in reason


def test_unknown_customer_and_product_are_quarantined(warehouse, sql, tmp_path):
    orders = [order_line(1, 1, 99, 1), order_line(2, 1, 1, 77)]
    orders += [order_line(10 + i, 1, 1, 1) for i in range(40)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    report = _load(warehouse, batch)
    assert report.batches[0].status == "loaded"
    assert _quarantine(sql) == [
        (2, "customer_id: unknown customer 99"),
        (3, "product_id: unknown product 77"),
    ]
    record = sql.one("SELECT record FROM quarantine.order_items WHERE row_no = 2")
    assert record["customer_id"] == 99 and record["order_id"] == 1


def test_duplicate_ids_are_quarantined_all_copies(warehouse, sql, tmp_path):
    orders = [order_line(1, 1, 1, 1), order_line(1, 1, 1, 1, quantity=3, revenue="55.00")]
    orders += [order_line(10 + i, 1, 1, 1) for i in range(40)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    _load(warehouse, batch)
    assert _quarantine(sql) == [
        (2, "duplicate key (order_id, line_no) within the file"),
        (3, "duplicate key (order_id, line_no) within the file"),
    ]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items WHERE order_id = 1") == 0


def test_invalid_utf8_row_is_quarantined(warehouse, sql, tmp_path):
    batch = write_batch(
        tmp_path,
        customers=[customer(i) for i in range(1, 30)] + [customer(30, city="M\u00fcnchen")],
        products=[product(1)],
    )
    path = batch / "customers.csv"
    path.write_bytes(path.read_bytes().replace("M\u00fcnchen".encode(), b"M\xfcnchen"))  # latin-1 byte
    _load(warehouse, batch)
    assert _quarantine(sql, "customers") == [(31, "invalid UTF-8 at byte 52 of the row")]
    assert sql.one("SELECT count(*) FROM warehouse.dim_customer") == 29


def test_empty_file_rejects_the_batch(warehouse, sql, tmp_path):
    batch = small_batch(tmp_path)
    (batch / "reviews.csv").write_bytes(b"")
    [result] = _load(warehouse, batch).batches
    assert result.status == "rejected"
    assert "reviews.csv: file is empty (expected at least the header row)" in result.message
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 0


def test_batch_over_bad_row_threshold_loads_nothing(warehouse, sql, tmp_path):
    orders = [order_line(i, 1, 1, 1, status="shipped") for i in range(1, 4)]  # 3 bad of 12 rows = 25%
    orders += [order_line(10 + i, 1, 1, 1) for i in range(7)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    [result] = _load(warehouse, batch).batches
    assert result.status == "rejected"
    assert result.message == (
        "3 of 12 rows are bad (25.0% > threshold 5.0%; most in order_items.csv); "
        "nothing of this batch was loaded"
    )
    for table in ("dim_customer", "dim_product", "fact_order_items"):
        assert sql.one(f"SELECT count(*) FROM warehouse.{table}") == 0
    assert sql.one("SELECT count(*) FROM quarantine.order_items") == 0
    assert sql("SELECT status, rows_read, rows_quarantined FROM audit.load_runs") == [("rejected", 12, 3)]


def test_rerun_after_fixing_a_rejected_batch_loads_it(warehouse, sql, tmp_path):
    orders = [order_line(i, 1, 1, 1, status="shipped") for i in range(1, 4)]
    batch = write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    assert _load(warehouse, batch).batches[0].status == "rejected"
    write_batch(
        tmp_path,
        customers=[customer(1)],
        products=[product(1)],
        order_items=[order_line(i, 1, 1, 1) for i in range(1, 4)],
    )
    assert _load(warehouse, batch).batches[0].status == "loaded"
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 3


def test_return_of_unknown_or_cancelled_line_is_quarantined(warehouse, sql, tmp_path):
    from datetime import timedelta

    orders = [order_line(1, 1, 1, 1), order_line(2, 1, 1, 1, status="cancelled", delivery_days="")]
    write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    later = DAY + timedelta(days=1)
    returns = [
        {"order_id": 1, "line_no": 1, "return_date": str(later), "reason": "too small"},
        {"order_id": 2, "line_no": 1, "return_date": str(later), "reason": "changed mind"},
        {"order_id": 9, "line_no": 1, "return_date": str(later), "reason": "broken"},
    ]
    write_batch(tmp_path, later, returns=returns)
    report = _load(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["loaded", "rejected"]  # 2 bad of 3 rows > 5%
    assert sql.one("SELECT status FROM warehouse.fact_order_items WHERE order_id = 1") == "completed"


def test_return_updates_the_order_line_once(warehouse, sql, tmp_path):
    from datetime import timedelta

    orders = [order_line(i, 1, 1, 1) for i in range(1, 40)]
    write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders)
    later = DAY + timedelta(days=1)
    write_batch(
        tmp_path,
        later,
        returns=[{"order_id": 1, "line_no": 1, "return_date": str(later), "reason": "too small"}],
        order_items=[order_line(100, 1, 1, 1, day=later)],
    )
    assert _load(warehouse, tmp_path).ok
    assert sql(
        "SELECT status, return_date, return_reason FROM warehouse.fact_order_items WHERE order_id = 1"
    ) == [("returned", later, "too small")]
    again = _load(warehouse, tmp_path, force=True)
    assert [b.counts["returns"].unchanged for b in again.batches] == [0, 1]
    assert again.ok and again.batches[1].total("loaded") == 0
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned'") == 1


def test_key_loaded_by_another_batch_is_quarantined(warehouse, sql, tmp_path):
    from datetime import timedelta

    later = DAY + timedelta(days=1)
    write_batch(
        tmp_path, customers=[customer(1)], products=[product(1)], order_items=[order_line(1, 1, 1, 1)]
    )
    write_batch(
        tmp_path,
        later,
        order_items=[order_line(1, 1, 1, 1, day=later)]
        + [order_line(10 + i, 1, 1, 1, day=later) for i in range(30)],
    )
    report = _load(warehouse, tmp_path)
    assert [b.status for b in report.batches] == ["loaded", "loaded"]
    assert sql("SELECT batch_date, row_no, reason FROM quarantine.order_items") == [
        (later, 2, f"duplicate key (order_id, line_no): already loaded by batch {DAY}")
    ]
    assert sql.one("SELECT batch_date FROM warehouse.fact_order_items WHERE order_id = 1") == DAY
    assert report.ok  # the reconciliation counts the quarantined row out


def test_date_outside_the_calendar_is_quarantined(warehouse, sql, tmp_path):
    products = [product(1), product(2, launch_date="1899-12-31")] + [product(10 + i) for i in range(30)]
    batch = write_batch(
        tmp_path, customers=[customer(1)], products=products, order_items=[order_line(1, 1, 1, 1)]
    )
    _load(warehouse, batch)
    [(row_no, reason)] = _quarantine(sql, "products")
    assert row_no == 3
    assert reason.startswith("launch_date: launch_date must be between 1900-01-01 and the batch date")
