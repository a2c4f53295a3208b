"""True preferences: s_ij = u_i . v_j + b_j - c * price_sensitivity_i * log(price_j / $25).

Each customer considers the top-M products by s_ij (kept sorted, best first); purchases and views
sample from that set with softmax weights. Scores are summed factor by factor (no BLAS), so the
same pair always gets bit-identical scores whatever the chunking: a condition for determinism.
"""

from __future__ import annotations

import numpy as np

from ecomm.datagen.catalog import LOG_PRICE_CENTER
from ecomm.datagen.columns import Columns

PRICE_COEF = 0.35
TEMPERATURE = 0.5  # softmax temperature of choices within the consideration set
_CHUNK = 2048


def score_matrix(
    taste: np.ndarray,
    price_sensitivity: np.ndarray,
    vectors: np.ndarray,
    popularity: np.ndarray,
    log_price: np.ndarray,
) -> np.ndarray:
    """(customers x products) true scores."""
    s = (
        popularity[None, :]
        - PRICE_COEF * price_sensitivity[:, None] * (log_price - LOG_PRICE_CENTER)[None, :]
    )
    for f in range(taste.shape[1]):
        s += taste[:, f, None] * vectors[None, :, f]
    return s


def pair_scores(
    taste: np.ndarray,
    price_sensitivity: np.ndarray,
    vectors: np.ndarray,
    popularity: np.ndarray,
    log_price: np.ndarray,
) -> np.ndarray:
    """True score of aligned (customer, product) pairs; same arithmetic order as score_matrix."""
    s = popularity - PRICE_COEF * price_sensitivity * (log_price - LOG_PRICE_CENTER)
    for f in range(taste.shape[1]):
        s = s + taste[:, f] * vectors[:, f]
    return s


def log_weights(score: np.ndarray) -> np.ndarray:
    z = score / TEMPERATURE
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def consideration_sets(customers: Columns, rows: np.ndarray, products: Columns, size: int) -> Columns:
    """Top-`size` products (sorted best first) for customer `rows` among all current products."""
    n = len(rows)
    items = np.empty((n, size), dtype=np.int32)
    scores = np.empty((n, size), dtype=np.float64)
    for lo in range(0, n, _CHUNK):
        part = rows[lo : lo + _CHUNK]
        s = score_matrix(
            customers.taste[part],
            customers.price_sensitivity[part],
            products.vector,
            products.popularity,
            products.log_price,
        )
        top = np.argpartition(-s, size - 1, axis=1)[:, :size]
        top_s = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        items[lo : lo + _CHUNK] = np.take_along_axis(top, order, axis=1)
        scores[lo : lo + _CHUNK] = np.take_along_axis(top_s, order, axis=1)
    return Columns(items=items, score=scores, logw=log_weights(scores))


def merge_new_products(prefs: Columns, customers: Columns, products: Columns, new: np.ndarray) -> None:
    """A launch enters the sets of customers who like it more than their current worst item."""
    s = score_matrix(
        customers.taste,
        customers.price_sensitivity,
        products.vector[new],
        products.popularity[new],
        products.log_price[new],
    )
    for j, pid in enumerate(new.tolist()):
        rows = np.flatnonzero(s[:, j] > prefs.score[:, -1])
        if len(rows) == 0:
            continue
        prefs.items[rows, -1] = pid
        prefs.score[rows, -1] = s[rows, j]
        order = np.argsort(-prefs.score[rows], axis=1, kind="stable")
        prefs.items[rows] = np.take_along_axis(prefs.items[rows], order, axis=1)
        prefs.score[rows] = np.take_along_axis(prefs.score[rows], order, axis=1)
        prefs.logw[rows] = log_weights(prefs.score[rows])
