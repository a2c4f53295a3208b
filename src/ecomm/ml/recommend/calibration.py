"""Calibrated confidence of a recommendation: P(the customer buys the product in the next
`holdout_days`) as a function of its rank in the list, learned on the validation window.

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
    """The weighted least-squares non-increasing fit of values (pool adjacent violators); a value
    with weight 0 (a rank no list reached) takes the fit before it (0 at the start)."""
    values, weights = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    blocks: list[list[float]] = []  # [weighted mean, weight, length] over the weighted values
    for value, weight in zip(values[weights > 0], weights[weights > 0], strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-1][0] > blocks[-2][0]:
            right = blocks.pop()
            left = blocks[-1]
            left[0] = (left[0] * left[1] + right[0] * right[1]) / (left[1] + right[1])
            left[1], left[2] = left[1] + right[1], left[2] + right[2]
    fitted = np.concatenate([np.full(int(n), mean) for mean, _, n in blocks]) if blocks else np.zeros(0)
    out = np.zeros(len(values))
    out[weights > 0] = fitted
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
