"""Churn data stage: training cutoffs stacked, a later evaluation cutoff, and (for evaluation only)
the generator's true churn probabilities at the evaluation cutoff."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C
from ecomm.features.churn import (
    CutoffPlan,
    evaluation_cutoff,
    feature_columns,
    labelled_frame,
    plan_cutoffs,
    require_orders,
    stack_cutoffs,
    warehouse_span,
)


@dataclass
class ChurnData:
    plan: CutoffPlan
    train: pd.DataFrame  # stacked training cutoffs: keys, features, label
    evaluation: pd.DataFrame  # the evaluation cutoff
    features: list[str] = field(default_factory=list)


def align(frames: list[pd.DataFrame]) -> tuple[list[pd.DataFrame], list[str]]:
    """Give every frame the union of the category share columns (missing = 0); the feature list."""
    shares = sorted({c for f in frames for c in f.columns if c.startswith(C.CATEGORY_SHARE_PREFIX)})
    out = []
    for f in frames:
        f = f.copy()
        for col in shares:
            if col not in f:
                f[col] = 0.0
        out.append(f)
    return out, feature_columns(out[0])


def load_churn_data(
    conn,
    horizon_days: int,
    *,
    max_train_cutoffs: int = 6,
    min_history_days: int = 60,
    evaluation: date | None = None,
) -> ChurnData:
    span = warehouse_span(conn)
    require_orders(conn)
    plan = plan_cutoffs(
        span,
        horizon_days,
        max_train_cutoffs=max_train_cutoffs,
        min_history_days=min_history_days,
        evaluation=evaluation,
    )
    train = stack_cutoffs(conn, plan.train, horizon_days)
    holdout = labelled_frame(conn, plan.evaluation, horizon_days, span=span)
    (train, holdout), features = align([train, holdout])
    return ChurnData(plan, train, holdout, features)


def load_holdout(conn, horizon_days: int, *, min_history_days: int = 60) -> tuple[date, pd.DataFrame]:
    """The freshest evaluation cutoff of the warehouse and its labelled frame."""
    span = warehouse_span(conn)
    require_orders(conn)
    cutoff = evaluation_cutoff(span, horizon_days, min_history_days=min_history_days)
    return cutoff, labelled_frame(conn, cutoff, horizon_days, span=span)


def true_churn(conn, cutoff: date, horizon_days: int) -> pd.DataFrame:
    """customer_id, churn_probability from truth.customer_churn (evaluation only, never features)."""
    return query_frame(
        conn,
        """SELECT customer_id, churn_probability FROM truth.customer_churn
           WHERE snapshot_date = %(cutoff)s AND horizon_days = %(horizon)s""",
        {"cutoff": cutoff, "horizon": horizon_days},
    )
