"""Scoring a purchase scorer on labelled rows: ROC-AUC, accuracy at 0.5 and top-decile lift (the
label rate among the highest-scored tenth over the overall rate); the majority class's accuracy.
Pure functions of arrays: the caller passes the model, the recency rule or the truth alike."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

THRESHOLD = 0.5
TOP_SHARE = 0.1


def top_decile_lift(y: np.ndarray, scores: np.ndarray, share: float = TOP_SHARE) -> float:
    """Label rate among the top `share` by score (ties by position, stable) over the overall rate."""
    y = np.asarray(y, dtype=float)
    n = max(1, int(round(len(y) * share)))
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:n]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def majority_accuracy(y: np.ndarray) -> float:
    rate = float(np.mean(y))
    return max(rate, 1.0 - rate)


def scorer_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    y, scores = np.asarray(y), np.asarray(scores, dtype=float)
    auc = float(roc_auc_score(y, scores)) if len(np.unique(y)) == 2 else float("nan")
    return {
        "roc_auc": auc,
        "accuracy": float(np.mean((scores >= THRESHOLD).astype(int) == y)),
        "top_decile_lift": top_decile_lift(y, scores),
    }
