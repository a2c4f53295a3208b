"""Purchase data stage: monthly training cutoffs stacked, the latest of them held out as the
time-ordered validation, a later evaluation cutoff (the fresh holdout of the gate), and - for
evaluation only - the generator's true purchase probabilities at the evaluation cutoff.

Cutoffs: ecomm.features.churn.plan_cutoffs with the purchase horizon. Validation: the models are fit
on the training cutoffs whose label windows end by the latest training cutoff and validated on that
cutoff (no fit label looks past it); the chosen family is then refit on every training cutoff and
scored on the evaluation cutoff, which no training label reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C
from ecomm.features.churn import CutoffPlan, FeatureError, plan_cutoffs, require_orders, warehouse_span
from ecomm.features.purchase import LABEL, labelled_purchase_frame, purchase_feature_columns


@dataclass
class PurchaseData:
    plan: CutoffPlan
    train: pd.DataFrame  # stacked training cutoffs: keys, features, label
    evaluation: pd.DataFrame  # the evaluation cutoff
    features: list[str]


def align(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Every frame with the union of the category share columns (a category launched later: 0)."""
    shares = sorted({c for f in frames for c in f.columns if c.startswith(C.CATEGORY_SHARE_PREFIX)})
    return [f.assign(**{c: f.get(c, 0.0) for c in shares}) for f in frames]


def time_split(train: pd.DataFrame, horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, validation rows): validate on the latest cutoff, fit on the cutoffs whose label
    windows end by it."""
    cutoffs = sorted(train[C.CUTOFF].unique())
    if len(cutoffs) < 2:
        raise FeatureError(
            f"the purchase model's time-ordered validation needs two training cutoffs, got {len(cutoffs)}: "
            "load more history"
        )
    last = cutoffs[-1]
    fit_cutoffs = [c for c in cutoffs if c + timedelta(days=horizon_days) <= last]
    if not fit_cutoffs:
        raise FeatureError(f"no training cutoff's {horizon_days}-day label window ends by {last}")
    fit = train[C.CUTOFF].isin(fit_cutoffs).to_numpy()
    return np.flatnonzero(fit), np.flatnonzero((train[C.CUTOFF] == last).to_numpy())


def load_purchase_data(
    conn, horizon_days: int, *, max_train_cutoffs: int = 6, min_history_days: int = 60
) -> PurchaseData:
    span = warehouse_span(conn)
    require_orders(conn)  # the label is an order
    plan = plan_cutoffs(
        span,
        horizon_days,
        max_train_cutoffs=max_train_cutoffs,
        min_history_days=min_history_days,
        label="purchase",
    )
    frames = [
        labelled_purchase_frame(conn, c, horizon_days, span=span) for c in (*plan.train, plan.evaluation)
    ]
    frames = align(frames)
    train = pd.concat(frames[:-1], ignore_index=True, sort=False)
    return PurchaseData(plan, train, frames[-1], purchase_feature_columns(frames[-1]))


def true_purchase(conn, cutoff: date, horizon_days: int) -> pd.DataFrame | None:
    """customer_id, purchase_probability from truth.customer_purchase at `cutoff` (evaluation only,
    never a feature); None when the warehouse has no such truth (imported data)."""
    exists = query_frame(conn, "SELECT to_regclass('truth.customer_purchase') IS NOT NULL AS ok")
    if not bool(exists["ok"].iloc[0]):
        return None
    truth = query_frame(
        conn,
        """SELECT customer_id, purchase_probability FROM truth.customer_purchase
           WHERE snapshot_date = %(cutoff)s AND horizon_days = %(horizon)s""",
        {"cutoff": cutoff, "horizon": horizon_days},
    )
    return None if truth.empty else truth


def truth_scores(holdout: pd.DataFrame, truth: pd.DataFrame | None) -> np.ndarray | None:
    """The truth's probability of each holdout row (its order), None when any row has none."""
    if truth is None:
        return None
    scores = holdout[[C.CUSTOMER_ID]].merge(truth, on=C.CUSTOMER_ID, how="left")["purchase_probability"]
    return None if scores.isna().any() else scores.to_numpy(dtype="float64")


__all__ = [
    "LABEL",
    "PurchaseData",
    "align",
    "load_purchase_data",
    "time_split",
    "true_purchase",
    "truth_scores",
]
