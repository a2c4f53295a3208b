"""Types of the raw contract's columns (anything not listed is text)."""

from __future__ import annotations

import pyarrow as pa

INT_COLUMNS = {
    "customer_id",
    "product_id",
    "campaign_id",
    "order_id",
    "line_no",
    "quantity",
    "delivery_days",
    "event_id",
    "session_id",
    "review_id",
    "rating",
    "age",
}
FLOAT_COLUMNS = {"list_price", "unit_cost", "discount_pct", "unit_price", "discount", "revenue"}
DATE_COLUMNS = {
    "signup_date",
    "launch_date",
    "start_date",
    "end_date",
    "exposure_date",
    "return_date",
    "review_date",
}
TS_COLUMNS = {"order_ts", "event_ts"}
BOOL_COLUMNS = {"treated"}


def arrow_type(column: str) -> pa.DataType:
    if column in INT_COLUMNS:
        return pa.int64()
    if column in FLOAT_COLUMNS:
        return pa.float64()
    if column in DATE_COLUMNS:
        return pa.date32()
    if column in TS_COLUMNS:
        return pa.timestamp("s")
    if column in BOOL_COLUMNS:
        return pa.bool_()
    return pa.string()
