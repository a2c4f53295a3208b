"""Values that pass validation fit their columns (issue 21, items 1-3): a value beyond its SQL type's
range, a non-finite or too-large numeric, or a numeric with more decimals than its scale is
quarantined with its reason by `ecomm load`; the rest of the batch loads, the audit row says
'loaded', the command exits 0 (before: NumericValueOutOfRange or TypeError, a traceback, the batch
lost)."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest

from ecomm import db

from support.batches import DAY, customer, order_line, product, write_batch
from support.cli import ecomm

GOOD_ORDERS = [order_line(100 + i, 1, 1, 1) for i in range(30)]


@pytest.fixture
def load(warehouse, tmp_path):
    """`ecomm load --no-marts DIR` against the test warehouse (in this process: support.cli; these
    tests look at the warehouse and quarantine, and a dbt build would be most of their time)."""
    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_HOME": str(tmp_path / "home"),
    }

    def run(batch) -> subprocess.CompletedProcess:
        done = ecomm("load", "--no-marts", str(batch), env=env)
        assert "Traceback" not in done.stderr
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    return run


def _loaded_with_one_quarantined(sql, entity: str, table: str, loaded: int) -> str:
    """The reason of the one quarantined row (line 2 of the file), after checking the rest loaded."""
    assert sql(f"SELECT row_no FROM quarantine.{entity}") == [(2,)]
    assert sql.one(f"SELECT count(*) FROM warehouse.{table}") == loaded
    assert sql("SELECT status, rows_quarantined FROM audit.load_runs") == [("loaded", 1)]
    return sql.one(f"SELECT reason FROM quarantine.{entity}")


def _orders_with(tmp_path, bad: dict):
    return write_batch(
        tmp_path,
        customers=[customer(1)],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1, **bad), *GOOD_ORDERS],
    )


def _products_with(tmp_path, bad: dict):
    return write_batch(
        tmp_path,
        customers=[customer(1)],
        products=[product(2, **bad), product(1)] + [product(10 + i) for i in range(20)],
        order_items=GOOD_ORDERS,
    )


NUMERIC_12_2 = "must be finite, below 10^10 in absolute value and have at most 2 decimals (numeric(12, 2))"
NUMERIC_14_2 = "must be finite, below 10^12 in absolute value and have at most 2 decimals (numeric(14, 2))"


def test_list_price_inf_is_quarantined(load, sql, tmp_path):
    load(_products_with(tmp_path, {"list_price": "inf"}))
    reason = _loaded_with_one_quarantined(sql, "products", "dim_product", 21)
    assert reason == f"list_price: list_price {NUMERIC_12_2} (got inf)"
    assert sql.one("SELECT record->>'list_price' FROM quarantine.products") == "inf"


def test_list_price_1e308_is_quarantined(load, sql, tmp_path):
    load(_products_with(tmp_path, {"list_price": "1e308"}))
    reason = _loaded_with_one_quarantined(sql, "products", "dim_product", 21)
    assert reason == f"list_price: list_price {NUMERIC_12_2} (got 1e+308)"


def test_unit_price_and_revenue_1e308_are_quarantined(load, sql, tmp_path):
    load(_orders_with(tmp_path, {"unit_price": "1e308", "revenue": "1e308"}))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == (
        f"unit_price: unit_price {NUMERIC_12_2} (got 1e+308); revenue: revenue {NUMERIC_14_2} (got 1e+308)"
    )


def test_quantity_2147483648_is_quarantined(load, sql, tmp_path):
    bad = {"quantity": 2147483648, "unit_price": "0.01", "discount": "0.00", "revenue": "21474836.48"}
    load(_orders_with(tmp_path, bad))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == "quantity: quantity must be <= 2147483647 (integer) (got 2147483648)"


def test_quantity_1e308_is_quarantined(load, sql, tmp_path):
    load(_orders_with(tmp_path, {"quantity": "1e308"}))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == "quantity: '1e308' is not an integer"


def test_line_no_40000_is_quarantined(load, sql, tmp_path):
    orders = [order_line(1, 40000, 1, 1), *GOOD_ORDERS]
    load(write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == "line_no: line_no must be <= 32767 (smallint) (got 40000)"


def test_delivery_days_40000_is_quarantined(load, sql, tmp_path):
    load(_orders_with(tmp_path, {"delivery_days": 40000}))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == "delivery_days: delivery_days must be <= 32767 (smallint) (got 40000)"


def test_event_id_9223372036854775808_is_quarantined(load, sql, tmp_path):
    event = {"session_id": 1, "customer_id": 1, "product_id": 1, "event_type": "view"}
    events = [
        {"event_id": 9223372036854775808, **event, "event_ts": f"{DAY} 09:00:00"},
        *({"event_id": 10 + i, **event, "event_ts": f"{DAY} 09:00:00"} for i in range(30)),
    ]
    batch = write_batch(
        tmp_path, customers=[customer(1)], products=[product(1)], order_items=GOOD_ORDERS, web_events=events
    )
    load(batch)
    reason = _loaded_with_one_quarantined(sql, "web_events", "fact_web_events", 30)
    assert reason == (
        "event_id: '9223372036854775808' is out of range for bigint "
        "(-9223372036854775808 to 9223372036854775807)"
    )


def test_three_decimal_price_is_quarantined(load, sql, tmp_path):
    """3 x 0.335 = 1.005 passed a float tolerance; the database stores 0.34 and 1.01 (or 1.00) and
    its CHECK (revenue = quantity * unit_price - discount) failed the whole batch."""
    load(
        _orders_with(tmp_path, {"quantity": 3, "unit_price": "0.335", "discount": "0.00", "revenue": "1.005"})
    )
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == (
        "revenue != quantity * unit_price - discount; "  # at the stored precision: 3 x 0.34 != 1.00
        f"unit_price: unit_price {NUMERIC_12_2} (got 0.335); revenue: revenue {NUMERIC_14_2} (got 1.005)"
    )


def test_revenue_rule_is_evaluated_at_column_precision(load, sql, tmp_path):
    """The rule compares whole cents, as the columns store them: 3 x 0.10 = 0.30 holds exactly
    (in floats 3 * 0.1 = 0.30000000000000004), one cent off at 10^9 does not."""
    good = {"quantity": 3, "unit_price": "0.10", "discount": "0.00", "revenue": "0.30"}
    big = {"quantity": 100000, "unit_price": "99999.99", "discount": "0.00", "revenue": "9999999000.01"}
    orders = [order_line(1, 1, 1, 1, **big), order_line(2, 1, 1, 1, **good), *GOOD_ORDERS]
    load(write_batch(tmp_path, customers=[customer(1)], products=[product(1)], order_items=orders))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 31)
    assert reason == "revenue != quantity * unit_price - discount"
    assert sql.one("SELECT revenue FROM warehouse.fact_order_items WHERE order_id = 2") == Decimal("0.30")


def test_cost_beyond_numeric_14_2_is_quarantined(load, sql, tmp_path):
    """The warehouse stores cost = quantity * unit_cost as numeric(14, 2): a line whose cost would
    not fit is quarantined instead of failing the merge."""
    bad = {"quantity": 200000, "unit_price": "0.01", "discount": "0.00", "revenue": "2000.00"}
    load(_orders_with(tmp_path, bad | {"unit_cost": "9999999.99"}))
    reason = _loaded_with_one_quarantined(sql, "order_items", "fact_order_items", 30)
    assert reason == "quantity * unit_cost (the line's cost) must be below 10^12 (numeric(14,2))"


def test_nul_character_in_text_is_quarantined(load, sql, tmp_path):
    """PostgreSQL text cannot hold a NUL character: COPY would fail the batch."""
    customers = [customer(2, city="Bos\x00ton"), customer(1)] + [customer(10 + i) for i in range(20)]
    load(write_batch(tmp_path, customers=customers, products=[product(1)], order_items=GOOD_ORDERS))
    reason = _loaded_with_one_quarantined(sql, "customers", "dim_customer", 21)
    assert reason == "city: city must not contain a NUL character (got 'Bos\\x00ton')"
    assert sql.one("SELECT record->>'city' FROM quarantine.customers") == "Bos\\x00ton"
