"""The recent-inputs view (monitoring.inputs) run daily on the warehouse, stored in
marts.model_monitoring under the pseudo-model INPUTS (version 0: no model version - it watches the
raw inputs every model is built from).

Reference: the REFERENCE_DAYS ending the day before the day's WINDOW_DAYS window (a rolling
reference: no model has to be trained or registered for the view to run, and the reference stays
within a season of the window, the stable case benchmarks/bench_drift.py measures with a reference
up to 180 days old). A lasting shift is flagged from its first days until the rolling reference
has taken enough of it in (README "Model drift" measures how long on a planted one).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomm.monitoring.inputs import (
    LATE_AFTER_DAYS,
    REFERENCE_DAYS,
    WINDOW_DAYS,
    inputs_drift,
    inputs_reference,
    window_of,
)
from ecomm.monitoring.reference import FeatureDrift

INPUTS = "inputs"  # marts.model_monitoring.model_name of the view's rows
INPUTS_VERSION = "0"


def reference_cutoff(day: dt.date) -> dt.date:
    """The last day of the reference: the day before the window that ends on `day`."""
    return window_of(day, WINDOW_DAYS)[0] - dt.timedelta(days=1)


def read_frames(conn, day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The customers who signed up, and the order lines placed, from the reference's first day
    (its lateness from LATE_AFTER_DAYS earlier) to `day`, and every product: the columns
    monitoring.inputs reads, with its types."""
    from ecomm.db import query_frame

    first = window_of(reference_cutoff(day), REFERENCE_DAYS)[0]
    span = {"first": first - dt.timedelta(days=LATE_AFTER_DAYS), "last": day + dt.timedelta(days=1)}
    customers = query_frame(
        conn,
        """SELECT customer_id, age::float AS age, acquisition_channel, signup_date
           FROM warehouse.dim_customer WHERE signup_date >= %(first)s AND signup_date < %(last)s""",
        span,
    )
    lines = query_frame(
        conn,
        """SELECT order_id, order_ts, product_id, unit_price::float AS unit_price, status,
                  delivery_days::float AS delivery_days
           FROM warehouse.fact_order_items WHERE order_ts >= %(first)s AND order_ts < %(last)s""",
        span,
    )
    products = query_frame(
        conn, "SELECT product_id, category, list_price::float AS list_price FROM warehouse.dim_product"
    )
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    lines["order_ts"] = pd.to_datetime(lines["order_ts"])
    return customers, lines, products


def recent_inputs_drift(conn, day: dt.date, alpha: float, min_psi: float) -> list[FeatureDrift]:
    """The view on business date `day`: the last WINDOW_DAYS against the rolling reference."""
    customers, lines, products = read_frames(conn, day)
    reference = inputs_reference(customers, lines, products, reference_cutoff(day))
    return inputs_drift(reference, customers, lines, products, day, alpha, min_psi)
