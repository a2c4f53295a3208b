"""Point-in-time purchase histories for lifetime value, SQL over the warehouse.

`clv_features(conn, as_of, first_day)`: one row per customer signed up before `as_of` with a purchase
before it (a day with a non-cancelled order line; see sql/clv_features.sql): frequency, recency_days,
t_days and monetary (the BTYD inputs, days), spent and observed_days (the historical-average
baseline's). Only rows dated strictly before `as_of` are read. `realised(conn, start, days)`: each
customer's purchase days and value in [start, start + days), the evaluation's label.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ecomm.db import query_frame
from ecomm.features.churn import read_sql

AS_OF = "as_of_date"
BTYD_INPUTS = ("frequency", "recency_days", "t_days", "monetary")
REALISED_ORDERS, REALISED_VALUE = "realised_orders", "realised_value"


def clv_features(conn, as_of: date, first_day: date) -> pd.DataFrame:
    """customer_id, as_of_date, the BTYD inputs, spent and observed_days of the buyers before `as_of`."""
    frame = query_frame(conn, read_sql("clv_features.sql"), {"as_of": as_of, "first_day": first_day})
    return frame.reset_index(drop=True)


def realised(conn, start: date, days: int) -> pd.DataFrame:
    """customer_id, realised_orders, realised_value in [start, start + days); buyers only."""
    return query_frame(conn, read_sql("clv_realised.sql"), {"start": start, "days": days})
