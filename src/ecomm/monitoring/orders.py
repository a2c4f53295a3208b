"""Drift of the orders of one business date against the days before it, from the warehouse.

Per order (all lines, whatever their later status): order value = sum of line revenue, basket
size = sum of line quantities. The current sample is the orders dated D; the reference sample
is the orders dated in the `window_days` days before D (fewer at the start of the history).
"""

from __future__ import annotations

from datetime import date, timedelta

from ecomm import db
from ecomm.monitoring.drift import compare
from ecomm.settings import Settings

WINDOW_DAYS = 28

_ORDERS = """
    SELECT order_date = %(day)s AS is_current, sum(revenue)::float8 AS order_value,
           sum(quantity)::float8 AS basket_size
    FROM warehouse.fact_order_items
    WHERE order_date BETWEEN %(first)s AND %(day)s
    GROUP BY order_id, order_date
"""

FEATURES = ("order_value", "basket_size")


class NoOrders(RuntimeError):
    """The warehouse has no orders for the date (or none before it) to compare."""


def order_drift(settings: Settings, day: date, window_days: int = WINDOW_DAYS, bins: int = 10) -> dict:
    """PSI and KS of D's order value and basket size against the preceding window (JSON-able)."""
    first = day - timedelta(days=window_days)
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(_ORDERS, {"day": day, "first": first})
        rows = cur.fetchall()
    current = [r for r in rows if r[0]]
    reference = [r for r in rows if not r[0]]
    if not current:
        raise NoOrders(f"no orders dated {day} in the warehouse (has the data pipeline loaded {day}?)")
    if not reference:
        raise NoOrders(f"no orders dated {first} .. {day - timedelta(days=1)} to compare {day} with")
    report = {
        "business_date": day.isoformat(),
        "reference_window": [first.isoformat(), (day - timedelta(days=1)).isoformat()],
    }
    for i, feature in enumerate(FEATURES, start=1):
        drift = compare([r[i] for r in reference], [r[i] for r in current], bins=bins)
        report[feature] = drift.to_json()
    return report
