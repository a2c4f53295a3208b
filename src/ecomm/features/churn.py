"""Point-in-time churn features and labels, SQL over the warehouse, parameterised by a cutoff date.

`churn_features(conn, cutoff)` reads only rows dated strictly before the cutoff (facts that become
known later, returns and deliveries, count only once known before it), so the same call on a
warehouse loaded through the day before the cutoff gives the same frame. `churn_labels` is the only
query that looks at or after the cutoff: 1 = no order (not cancelled) in [cutoff, cutoff + horizon),
i.e. the customer did not come back, whatever became of the order. The population is the customers
with a completed order before the cutoff (warehouse.is_completed_line: not cancelled, not returned
before it). `plan_cutoffs` picks monthly cutoffs: the evaluation cutoff is the latest
one whose label window the warehouse fully holds, and training cutoffs are earlier ones whose label
windows end before the evaluation cutoff (no label of the training set looks past it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import numpy as np
import pandas as pd

from ecomm.db import package_sql, query_frame
from ecomm.features import columns as C


class FeatureError(ValueError):
    """The warehouse cannot give the asked-for features or labels; the message says why."""


@cache
def read_sql(name: str) -> str:
    return package_sql("ecomm.features", name)


# ------------------------------------------------------------------------------------- the span
@dataclass(frozen=True)
class WarehouseSpan:
    first_day: date
    last_day: date


def warehouse_span(conn) -> WarehouseSpan:
    """First and last business date with facts (orders or web events).

    Read from `batch_date`: an order's order_date and an event's event_date are its batch's date (the
    loader rejects any other), and the batch_date indexes answer at once where min/max(event_date)
    would scan every web event (0.4 s at 1M orders, on every dashboard view and API call)."""
    frame = query_frame(
        conn,
        """SELECT least(min(o.first), min(e.first)) AS first_day, greatest(max(o.last), max(e.last)) AS last_day
           FROM (SELECT min(batch_date) AS first, max(batch_date) AS last FROM warehouse.fact_order_items) o,
                (SELECT min(batch_date) AS first, max(batch_date) AS last FROM warehouse.fact_web_events) e""",
    )
    first, last = frame.iloc[0]
    if first is None or pd.isna(first):
        ratings = int(query_frame(conn, "SELECT count(*) AS n FROM warehouse.fact_reviews").iloc[0, 0])
        if ratings:  # an imported rating log: a different input, not an empty warehouse
            raise FeatureError(
                f"the warehouse holds {ratings:,} ratings but no orders or web events (a rating log): "
                "this model learns from orders and web events"
            )
        raise FeatureError("the warehouse holds no orders or web events: load some batches first")
    return WarehouseSpan(first, last)


def require_orders(conn) -> None:
    """Churn's customers and labels are of orders: FeatureError, naming the log, when the warehouse
    holds web events but not one order line (an imported event log, purchase events or not)."""
    found = query_frame(
        conn,
        """SELECT EXISTS (SELECT 1 FROM warehouse.fact_order_items) AS orders,
                  (SELECT count(*) FROM warehouse.fact_web_events) AS events""",
    ).iloc[0]
    if not found["orders"] and found["events"]:
        raise FeatureError(
            f"the warehouse holds {int(found['events']):,} web events but no orders (an event log): this "
            "model learns from orders"
        )


# ---------------------------------------------------------------------------------- the cutoffs
@dataclass(frozen=True)
class CutoffPlan:
    train: tuple[date, ...]  # oldest first
    evaluation: date
    horizon_days: int

    def to_dict(self) -> dict:
        return {
            "train_cutoffs": [d.isoformat() for d in self.train],
            "evaluation_cutoff": self.evaluation.isoformat(),
            "horizon_days": self.horizon_days,
        }


def month_starts(first: date, last: date) -> list[date]:
    """First days of months in [first, last]."""
    day = date(first.year, first.month, 1)
    if day < first:
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    out = []
    while day <= last:
        out.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return out


def evaluation_cutoff(
    span: WarehouseSpan, horizon_days: int, *, min_history_days: int = 60, label: str = "churn"
) -> date:
    """The latest first-of-month C with >= `min_history_days` of history before it and the whole label
    window [C, C + horizon) loaded: the freshest labelled holdout of the warehouse."""
    earliest = span.first_day + timedelta(days=min_history_days)
    candidates = month_starts(earliest, span.last_day - timedelta(days=horizon_days - 1))
    if not candidates:
        raise FeatureError(
            f"the warehouse holds {span.first_day} .. {span.last_day}: too short for a {horizon_days}-day "
            f"{label} label after {min_history_days} days of history"
        )
    return candidates[-1]


def plan_cutoffs(
    span: WarehouseSpan,
    horizon_days: int,
    *,
    max_train_cutoffs: int = 6,
    min_history_days: int = 60,
    evaluation: date | None = None,
    label: str = "churn",
) -> CutoffPlan:
    """Monthly cutoffs: the latest labelable one evaluates, earlier non-overlapping ones train.

    A cutoff C is labelable when the warehouse holds the whole window [C, C + horizon). Training
    cutoffs satisfy C + horizon <= evaluation cutoff, and have at least `min_history_days` of history.
    The generator's true churn probabilities are snapshotted on the first of each month, so monthly
    cutoffs also give an oracle at the evaluation cutoff.
    """
    earliest = span.first_day + timedelta(days=min_history_days)
    candidates = month_starts(earliest, span.last_day - timedelta(days=horizon_days - 1))
    if evaluation is None:
        evaluation = evaluation_cutoff(span, horizon_days, min_history_days=min_history_days, label=label)
    elif evaluation + timedelta(days=horizon_days - 1) > span.last_day:
        raise FeatureError(
            f"evaluation cutoff {evaluation}: its {horizon_days}-day label window ends after the last "
            f"loaded date {span.last_day}"
        )
    train = [c for c in candidates if c + timedelta(days=horizon_days) <= evaluation][-max_train_cutoffs:]
    if not train:
        need = min_history_days + 2 * horizon_days + 31
        raise FeatureError(
            f"no training cutoff: a {horizon_days}-day label needs cutoffs at least {horizon_days} days before "
            f"the evaluation cutoff {evaluation}, after {min_history_days} days of history "
            f"(the warehouse holds {span.first_day} .. {span.last_day}; about {need} days are needed)"
        )
    return CutoffPlan(tuple(train), evaluation, horizon_days)


# --------------------------------------------------------------------------------- the features
def churn_features(
    conn,
    cutoff: date,
    *,
    buyers_only: bool = True,
    customer_ids: list[int] | None = None,
    first_day: date | None = None,
) -> pd.DataFrame:
    """One row per customer signed up before `cutoff` (with >= 1 completed order if `buyers_only`),
    only those in `customer_ids` when given (the same features, computed for fewer customers).
    `first_day`: the warehouse's first business date (`warehouse_span(conn).first_day`) if the
    caller knows it; None = read here.

    Columns: customer_id, cutoff_date, the categorical and numeric features of `columns`, and one
    category share column per category in the catalog before the cutoff.
    """
    if first_day is None:
        try:
            first_day = warehouse_span(conn).first_day
        except FeatureError:  # no facts at all: every customer is new
            first_day = cutoff
    params = {
        "cutoff": cutoff,
        "buyers_only": buyers_only,
        "late_days": C.LATE_DELIVERY_DAYS,
        "customer_ids": None if customer_ids is None else [int(c) for c in customer_ids],
        "first_day": min(first_day, cutoff),  # no row before the cutoff: the history starts at it
    }
    frame = typed(query_frame(conn, read_sql("churn_features.sql"), params))
    frame = with_category_shares(conn, frame, params)
    return frame.reset_index(drop=True)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The numeric features as churn_features returns them: integers as int64, or Int64 when some
    are missing (age as float64 then); the rest float64."""
    for name in C.NUMERIC_FEATURES:
        # an unknown age (an imported log has none) is NaN, which the models impute or route
        if name not in C.INTEGER_FEATURES or (name == C.AGE and frame[name].isna().any()):
            frame[name] = frame[name].astype("float64")
        elif frame[name].isna().any():  # days_since_last_order of customers without an order
            frame[name] = frame[name].astype("Int64")
        else:
            frame[name] = frame[name].astype("int64")
    return frame


def buyers_among(conn, everyone: pd.DataFrame, cutoff: date) -> pd.DataFrame:
    """`churn_features(conn, cutoff)` taken from `everyone` = `churn_features(conn, cutoff,
    buyers_only=False)`: the rows of the customers with a completed order before the cutoff, typed
    the same way, without building the features a second time."""
    buyers = query_frame(conn, read_sql("churn_buyers.sql"), {"cutoff": cutoff})[C.CUSTOMER_ID]
    return typed(everyone[everyone[C.CUSTOMER_ID].isin(buyers)].reset_index(drop=True))


def category_shares(mix: pd.DataFrame, categories: list[str]) -> pd.DataFrame:
    """Long (customer, category, lines) -> wide shares, one column per category (index customer_id)."""
    cols = [C.category_share_column(c) for c in categories]
    if mix.empty:
        return pd.DataFrame(columns=cols, dtype="float64").rename_axis(C.CUSTOMER_ID)
    wide = mix.pivot_table(
        index=C.CUSTOMER_ID, columns=C.CATEGORY, values="lines", aggfunc="sum", fill_value=0.0
    )
    wide = wide.reindex(columns=categories, fill_value=0.0)
    totals = wide.sum(axis=1).replace(0.0, np.nan)
    wide = wide.div(totals, axis=0).fillna(0.0)
    wide.columns = cols
    return wide.astype("float64")


def churn_labels(conn, cutoff: date, horizon_days: int, *, span: WarehouseSpan | None = None) -> pd.DataFrame:
    """customer_id, churned (1/0) for every customer signed up before `cutoff`."""
    span = span or warehouse_span(conn)
    end = cutoff + timedelta(days=horizon_days - 1)
    if end > span.last_day:
        raise FeatureError(
            f"cutoff {cutoff}: the {horizon_days}-day label window ends {end}, after the last loaded date "
            f"{span.last_day}"
        )
    return query_frame(conn, read_sql("churn_labels.sql"), {"cutoff": cutoff, "horizon_days": horizon_days})


def labelled_frame(
    conn, cutoff: date, horizon_days: int, *, span: WarehouseSpan | None = None
) -> pd.DataFrame:
    """Features of the customers with a completed order before `cutoff`, with their label."""
    features = churn_features(conn, cutoff, buyers_only=True)
    labels = churn_labels(conn, cutoff, horizon_days, span=span)
    return features.merge(labels, on=C.CUSTOMER_ID, how="inner", validate="one_to_one")


def stack_cutoffs(conn, cutoffs: list[date] | tuple[date, ...], horizon_days: int) -> pd.DataFrame:
    """Labelled frames of several cutoffs, stacked (category share columns aligned, missing = 0)."""
    span = warehouse_span(conn)
    frames = [labelled_frame(conn, c, horizon_days, span=span) for c in cutoffs]
    out = pd.concat(frames, ignore_index=True, sort=False)
    share_cols = [c for c in out.columns if c.startswith(C.CATEGORY_SHARE_PREFIX)]
    out[share_cols] = out[share_cols].fillna(0.0)
    return out


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The full model's features in a frame from `churn_features`: every feature but the cumulative
    ones (see columns.CUMULATIVE_FEATURES), keys and label excluded."""
    shares = sorted(c for c in frame.columns if c.startswith(C.CATEGORY_SHARE_PREFIX))
    numeric = [c for c in C.NUMERIC_FEATURES if c not in C.CUMULATIVE_FEATURES]
    return [*C.CATEGORICAL_FEATURES, *numeric, *shares]


def with_category_shares(conn, frame: pd.DataFrame, params: dict) -> pd.DataFrame:
    """`frame` (one row per customer) with each customer's share of spend per category launched before
    `params["cutoff"]` (0 for a customer without orders); `params["customer_ids"]`: None for all."""
    mix = query_frame(conn, read_sql("churn_category_mix.sql"), params)
    categories = query_frame(
        conn,
        "SELECT DISTINCT coalesce(category, 'unknown') AS category FROM warehouse.dim_product "
        "WHERE launch_date < %(cutoff)s ORDER BY 1",
        params,
    )["category"].tolist()
    shares = category_shares(mix, categories)
    frame = frame.join(shares, on=C.CUSTOMER_ID)
    frame[list(shares.columns)] = frame[list(shares.columns)].fillna(0.0)
    return frame
