"""Evaluation metrics shared by every model: binary classification, top-k ranking and forecasts.

Ranking metrics use binary relevance. For one user with recommendations r_1..r_k and relevant set R:
    precision@k = hits / k
    recall@k    = hits / |R|
    NDCG@k      = sum_{i: r_i in R} 1 / log2(i + 1)  /  sum_{i=1}^{min(|R|, k)} 1 / log2(i + 1)
    AP@k        = sum_{i: r_i in R} precision@i  /  min(|R|, k)
each averaged over the users with a non-empty R (MAP@k is the mean AP@k). A list shorter than k
counts its missing slots as misses. Catalog coverage = distinct recommended items / catalog size.
Novelty = mean over recommended items of -log2(share of training users who had the item).

Forecast metrics, for actuals y and forecasts f of one or many series:
    MASE     = mean |y - f| / scale, scale = the series' in-sample mean |y_t - y_(t-m)| (seasonal
               naive, season m); over many series the mean of the series' MASE (series whose scale
               is 0, constant over every season, are left out: no scaled error exists for them)
    RMSSE    = sqrt(mean (y - f)^2 / scale_sq), scale_sq = the in-sample mean (y_t - y_(t-m))^2,
               averaged over series like MASE. The expectation minimises it; MASE (an absolute
               error) is minimised by the median, which for sparse counts lies below the mean: on
               slow sellers a forecast biased low beats the true expected demand on MASE, not on RMSSE
    sMAPE    = mean 200 |y - f| / (|y| + |f|) in percent, a pair of zeros counting 0 (a forecast
               above 0 on a day without sales counts 200: a poor measure for intermittent series)
    bias     = sum (f - y) / sum y (relative: +0.1 forecasts 10% too much)
    coverage = share of the actuals inside their interval [lo, hi]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

# ----------------------------------------------------------------------------- classification


def top_fraction_lift(y_true: Sequence[int], y_score: Sequence[float], fraction: float = 0.1) -> float:
    """Positive rate among the top `fraction` scored (ties broken by order) / overall positive rate."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if len(y) == 0 or y.sum() == 0:
        return float("nan")
    n = max(1, int(round(fraction * len(y))))
    top = np.argsort(-s, kind="stable")[:n]
    return float(y[top].mean() / y.mean())


def classification_metrics(y_true: Sequence[int], y_score: Sequence[float]) -> dict[str, float]:
    """roc_auc, pr_auc, brier, log_loss, top_decile_lift, positive_rate, n."""
    y = np.asarray(y_true, dtype=int)
    s = np.clip(np.asarray(y_score, dtype=float), 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "brier": float(brier_score_loss(y, s)),
        "log_loss": float(log_loss(y, s, labels=[0, 1])),
        "top_decile_lift": top_fraction_lift(y, s, 0.1),
        "positive_rate": float(y.mean()),
        "n": float(len(y)),
    }


# ------------------------------------------------------------------------------------ ranking
def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def user_ranking_metrics(recommended: Sequence, relevant: set, k: int) -> tuple[float, float, float, float]:
    """(precision, recall, ndcg, ap) at k for one user; `relevant` must be non-empty."""
    recs = list(recommended)[:k]
    hits = np.array([item in relevant for item in recs], dtype=float)
    n_hits = hits.sum()
    disc = _discounts(k)
    ideal = disc[: min(len(relevant), k)].sum()
    ndcg = float((hits * disc[: len(hits)]).sum() / ideal)
    precision_at_i = np.cumsum(hits) / np.arange(1, len(hits) + 1) if len(hits) else np.zeros(0)
    ap = float((precision_at_i * hits).sum() / min(len(relevant), k))
    return float(n_hits / k), float(n_hits / len(relevant)), ndcg, ap


def ranking_metrics(
    recommendations: Mapping[object, Sequence],
    relevant: Mapping[object, Iterable],
    k: int = 10,
    catalog_size: int | None = None,
) -> dict[str, float]:
    """Mean precision/recall/NDCG/MAP at k over users with relevant items, and catalog coverage.

    A user with relevant items but no recommendations scores 0 on every metric. Coverage counts the
    distinct items in the top k of every user in `recommendations` (evaluated or not).
    """
    rows = []
    for user, items in relevant.items():
        rel = set(items)
        if rel:
            rows.append(user_ranking_metrics(recommendations.get(user, ()), rel, k))
    values = np.array(rows, dtype=float).reshape(-1, 4)
    mean = values.mean(axis=0) if len(values) else np.full(4, np.nan)
    out = {
        f"precision_at_{k}": float(mean[0]),
        f"recall_at_{k}": float(mean[1]),
        f"ndcg_at_{k}": float(mean[2]),
        f"map_at_{k}": float(mean[3]),
        "users": float(len(values)),
    }
    if catalog_size:
        out[f"coverage_at_{k}"] = catalog_coverage(recommendations, catalog_size, k)
    return out


def catalog_coverage(recommendations: Mapping[object, Sequence], catalog_size: int, k: int = 10) -> float:
    distinct = {item for items in recommendations.values() for item in list(items)[:k]}
    return len(distinct) / catalog_size


def novelty(
    recommendations: Mapping[object, Sequence], item_users: Mapping[object, int], n_users: int, k: int = 10
) -> float:
    """Mean self-information -log2(users of the item / n_users) of the recommended items (top k of
    every list): higher recommends less-known items. An item no training user had counts as one user's."""
    bits = [
        -np.log2(max(item_users.get(item, 0), 1) / n_users)
        for items in recommendations.values()
        for item in list(items)[:k]
    ]
    return float(np.mean(bits)) if bits else float("nan")


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    a, b = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.sqrt(np.mean((a - b) ** 2))) if len(a) else float("nan")


# ---------------------------------------------------------------------------------- forecasts
def seasonal_naive_scale(y: Sequence[float], season: int) -> float:
    """In-sample mean |y_t - y_(t-season)| (the MASE denominator); nan when the series is too short."""
    a = np.asarray(y, dtype=float)
    return float(np.abs(a[season:] - a[:-season]).mean()) if len(a) > season else float("nan")


def mase(y_true: Sequence[float], y_pred: Sequence[float], scale: float) -> float:
    a, b = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.abs(a - b).mean() / scale) if scale > 0 and len(a) else float("nan")


def smape(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    a, b = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    denominator = np.abs(a) + np.abs(b)
    terms = np.divide(2.0 * np.abs(a - b), denominator, out=np.zeros(len(a)), where=denominator > 0)
    return float(100.0 * terms.mean()) if len(a) else float("nan")


def forecast_bias(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    a, b = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float((b - a).sum() / a.sum()) if a.sum() != 0 else float("nan")


def interval_coverage(y_true: Sequence[float], lo: Sequence[float], hi: Sequence[float]) -> float:
    a = np.asarray(y_true, dtype=float)
    inside = (a >= np.asarray(lo, dtype=float)) & (a <= np.asarray(hi, dtype=float))
    return float(inside.mean()) if len(a) else float("nan")


def forecast_metrics(
    frame: pd.DataFrame, forecast: str, levels: Sequence[int] = (), group: str = "series_id"
) -> dict[str, float]:
    """mase, rmsse, smape, bias and coverage_<level> of `forecast` against `y` over many series.

    frame: one row per forecast value with y, the forecast, `scale` (each row's MASE denominator),
    optionally `scale_sq` (RMSSE's; rmsse is nan without it) and, per level, `<forecast>-lo-<level>` / `<forecast>-hi-<level>`; `group` names a series (a
    series is one group of rows: with several forecast origins, group by series and origin).
    """
    y, f = frame["y"].to_numpy(float), frame[forecast].to_numpy(float)
    squares = "scale_sq" in frame.columns
    scaled = (
        frame.assign(abs_error=np.abs(y - f), sq_error=(y - f) ** 2)
        .groupby(group, sort=False)
        .agg(
            mae=("abs_error", "mean"),
            mse=("sq_error", "mean"),
            scale=("scale", "first"),
            scale_sq=("scale_sq" if squares else "scale", "first"),
        )
    )
    scaled = scaled[scaled.scale > 0]
    rmsse = np.sqrt(scaled.mse / scaled.scale_sq).mean() if squares and len(scaled) else np.nan
    out = {
        "mase": float((scaled.mae / scaled.scale).mean()) if len(scaled) else float("nan"),
        "rmsse": float(rmsse),
        "smape": smape(y, f),
        "bias": forecast_bias(y, f),
    }
    for level in levels:
        out[f"coverage_{level}"] = interval_coverage(
            y, frame[f"{forecast}-lo-{level}"], frame[f"{forecast}-hi-{level}"]
        )
    out["n"] = float(len(frame))
    return out
