"""Point-in-time purchase-propensity features and labels, SQL over the warehouse.

Population: every customer signed up before the cutoff, buyers or not (purchase propensity is about
everyone: a customer who never ordered can still order next month). Features: the churn features
(ecomm.features.churn, `buyers_only=False`: a non-buyer's order features are 0, their recency and
order-value features missing) plus short-window web-session features (sql/purchase_sessions.sql:
sessions and views in the last 7 days, add-to-carts in the last 7 and 30 days; the churn features
already hold sessions and views in the last 30 days and days since the last session). Everything is
read from rows dated strictly before the cutoff. Label (sql/purchase_labels.sql): 1 = at least one
completed order in [cutoff, cutoff + horizon).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C
from ecomm.features.churn import (
    FeatureError,
    WarehouseSpan,
    churn_features,
    feature_columns,
    read_sql,
    warehouse_span,
)

LABEL = "purchased"
SESSION_FEATURES = ("web_sessions_7d", "web_views_7d", "web_cart_adds_7d", "web_cart_adds_30d")
# "ordered in the last 30 days -> will order in the next 30": the baseline the model must beat
RECENCY_RULE_FEATURE = C.ORDERS_30D
# never active before the cutoff: no order (cancelled or not) and no web session
ACTIVITY = (C.TOTAL_ORDERS, C.CANCELLED_ORDERS, C.SESSIONS_TOTAL)


def add_session_features(features: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The churn features with the session columns joined on customer_id (no event in 30 days: 0)."""
    # float before the merge: an empty result (one customer without events) has object columns
    sessions = sessions.astype(dict.fromkeys(SESSION_FEATURES, "float64"))
    out = features.merge(sessions, on=C.CUSTOMER_ID, how="left", validate="one_to_one")
    out[list(SESSION_FEATURES)] = out[list(SESSION_FEATURES)].fillna(0.0)
    return out


def as_floats(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns (days_since_last_order of non-buyers) as float64 with NaN: the
    models' imputers and trees take NaN, not pd.NA."""
    nullable = [c for c in frame.columns if isinstance(frame[c].dtype, pd.Int64Dtype)]
    return frame.astype(dict.fromkeys(nullable, "float64"))


def purchase_features(
    conn,
    cutoff: date,
    *,
    customer_ids: list[int] | None = None,
    first_day: date | None = None,
    churn: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """customer_id, cutoff_date and the features of every customer signed up before `cutoff` (only
    those in `customer_ids` when given). `churn`: their churn features (`buyers_only=False`) if the
    caller has built them already (monitoring builds them once for both models)."""
    if churn is None:
        churn = churn_features(
            conn, cutoff, buyers_only=False, customer_ids=customer_ids, first_day=first_day
        )
    ids = None if customer_ids is None else [int(c) for c in customer_ids]
    sessions = query_frame(conn, read_sql("purchase_sessions.sql"), {"cutoff": cutoff, "customer_ids": ids})
    return as_floats(add_session_features(churn, sessions))


def purchase_feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model's features in a `purchase_features` frame: the churn model's plus the session ones."""
    return [*feature_columns(frame), *SESSION_FEATURES]


def purchase_labels(
    conn, cutoff: date, horizon_days: int, *, span: WarehouseSpan | None = None
) -> pd.DataFrame:
    """customer_id, purchased (1/0) for every customer signed up before `cutoff`."""
    span = span or warehouse_span(conn)
    end = cutoff + timedelta(days=horizon_days - 1)
    if end > span.last_day:
        raise FeatureError(
            f"cutoff {cutoff}: the {horizon_days}-day purchase window ends {end}, after the last loaded "
            f"date {span.last_day}"
        )
    return query_frame(
        conn, read_sql("purchase_labels.sql"), {"cutoff": cutoff, "horizon_days": horizon_days}
    )


def labelled_purchase_frame(
    conn, cutoff: date, horizon_days: int, *, span: WarehouseSpan | None = None
) -> pd.DataFrame:
    span = span or warehouse_span(conn)
    features = purchase_features(conn, cutoff, first_day=span.first_day)
    labels = purchase_labels(conn, cutoff, horizon_days, span=span)
    return features.merge(labels, on=C.CUSTOMER_ID, how="inner", validate="one_to_one")


def recency_rule(frame: pd.DataFrame) -> pd.Series:
    """1 = ordered (not cancelled) in the 30 days before the cutoff."""
    return (frame[RECENCY_RULE_FEATURE] > 0).astype(int)


def never_active(frame: pd.DataFrame) -> pd.Series:
    """True for the customers with no order and no web session before the cutoff."""
    return (frame[list(ACTIVITY)].fillna(0) == 0).all(axis=1)
