"""Point-in-time behavioural features for customer segmentation, SQL over the warehouse.

`segment_features(conn, as_of)`: one row per customer signed up before `as_of` with an order or a web
session before it, computed only from rows dated strictly before `as_of` (returns count once their
return date is before it), so a warehouse loaded through the day before gives the same frame. The
columns are RFM (recency, frequency, monetary), basket (order value, items and lines per order,
unit price), discounts and campaigns, returns and cancellations, browsing (sessions, views, cart
abandonment), time-of-day and weekend shares, tenure, reviews and the category mix (one share column
per category in the catalog before `as_of`, the same shares as the churn features). Every feature is
a float and never missing (see sql/segment_features.sql for the values of customers without orders).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C
from ecomm.features.churn import read_sql, with_category_shares

AS_OF = "as_of_date"
KEYS = (C.CUSTOMER_ID, AS_OF)


def segment_features(conn, as_of: date) -> pd.DataFrame:
    """customer_id, as_of_date and the behavioural features (floats) of the customers active before `as_of`."""
    frame = query_frame(conn, read_sql("segment_features.sql"), {"as_of": as_of})
    frame = with_category_shares(conn, frame, {"cutoff": as_of, "customer_ids": None})
    return frame.reset_index(drop=True)


def feature_names(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a `segment_features` frame (everything but the keys), in frame order."""
    return [c for c in frame.columns if c not in KEYS]
