"""Calibrated confidence of a recommendation: P(the customer buys the product in the next
`holdout_days` | they buy something new in them) as a function of its rank in the list, learned on
the validation window's buyers (customers who buy nothing new there are not counted).

Why rank and not the re-ranker's score: lambdarank scores order one customer's candidates and are
not comparable across customers; the rank is, and the hit rate falls with it. Two curves, one per
kind of list (the served lists and the popularity fallbacks have very different hit rates):
  * personal: a model fitted before the validation window, its top MAX_K per customer, hits = the
    products each customer bought in the window and had not bought before (as the holdout's relevance);
  * popular: the best sellers before the window, for the customers new in the window (the cold-start
    case), or for every window customer when too few are new.
Each curve is the binned hit rate per rank made non-increasing by isotonic regression (pool adjacent
violators, weighted by how many lists reach the rank): monotone, in 0..1.

The check on the holdout: reliability bins of predicted confidence vs observed hit rate and the
expected calibration error (ECE, the count-weighted mean |predicted - observed| over the bins).
"""

from __future__ import annotations

import numpy as np

MIN_NEW_CUSTOMERS = 20  # fewer customers new in the window: the popular curve uses every customer
RELIABILITY_BINS = 10


def hits_by_rank(lists: dict[int, list[int]], relevant: dict[int, set[int]], depth: int) -> tuple:
    """(hits, counts) per rank 1..depth over the customers' lists: counts = lists reaching the rank."""
    hits, counts = np.zeros(depth), np.zeros(depth)
    for user, items in lists.items():
        wanted = relevant.get(user, set())
        top = items[:depth]
        counts[: len(top)] += 1
        hits[: len(top)] += [item in wanted for item in top]
    return hits, counts


def decreasing_isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-increasing fit of values (scikit-learn's pool adjacent
    violators); a value with weight 0 (a rank no list reached) takes the fit before it (0 at the start)."""
    from sklearn.isotonic import isotonic_regression

    values, weights = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    out = np.zeros(len(values))
    if (weights > 0).any():
        out[weights > 0] = isotonic_regression(
            values[weights > 0], sample_weight=weights[weights > 0], increasing=False
        )
    for i in np.flatnonzero(weights <= 0):
        out[i] = out[i - 1] if i > 0 else 0.0
    return out


def rank_curve(lists: dict[int, list[int]], relevant: dict[int, set[int]], depth: int) -> np.ndarray:
    """P(hit | rank) for ranks 1..depth: the isotonic hit rate, clipped to 0..1."""
    hits, counts = hits_by_rank(lists, relevant, depth)
    rate = np.divide(hits, counts, out=np.zeros(depth), where=counts > 0)
    return np.clip(decreasing_isotonic(rate, counts), 0.0, 1.0)


def popular_lists(ranked: list[int], users: list[int], bought: dict[int, set[int]], depth: int) -> dict:
    """The best sellers (ranked) per customer, the products they bought excluded."""
    out = {}
    for user in users:
        seen = bought.get(user, set())
        out[user] = [i for i in ranked[: depth + len(seen)] if i not in seen][:depth]
    return out


def reliability(confidence: np.ndarray, hit: np.ndarray, bins: int = RELIABILITY_BINS) -> dict:
    """Equal-width bins of predicted confidence: per non-empty bin its count, mean predicted and
    observed hit rate; ece (count-weighted mean gap) and brier over every prediction."""
    confidence, hit = np.asarray(confidence, dtype=float), np.asarray(hit, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                    "count": int(mask.sum()),
                    "predicted": float(confidence[mask].mean()),
                    "observed": float(hit[mask].mean()),
                }
            )
    n = len(confidence)
    ece = sum(r["count"] * abs(r["predicted"] - r["observed"]) for r in rows) / n if n else float("nan")
    brier = float(np.mean((confidence - hit) ** 2)) if n else float("nan")
    return {"ece": float(ece), "brier": brier, "n": n, "bins": rows}
