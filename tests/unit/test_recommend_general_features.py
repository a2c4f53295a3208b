"""The re-ranker's co-occurrence feature against a count made by hand, by both of its paths."""

from __future__ import annotations

import numpy as np

from ecomm.ml.recommend.general import log as training_log
from ecomm.ml.recommend.general.features import cooccurrence
from ecomm.ml.recommend.general.interactions import Params
from ecomm.ml.recommend.general.log import build_log

from support.recommend_logs import taste_world


def by_hand(log, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """For each (user, item): over the user's other items j, the users who had both j and item."""
    seen = log.seen.toarray() > 0
    return np.array(
        [
            sum(int((seen[:, j] & seen[:, item]).sum()) for j in np.flatnonzero(seen[user]) if j != item)
            for user, item in zip(u, i, strict=True)
        ],
        dtype=float,
    )


def pairs(log, seed: int = 1, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, log.seen.shape[0], n), rng.integers(0, log.seen.shape[1], n)


def test_cooccurrence_counts_the_users_of_both_items():
    log = build_log(taste_world(seed=2, users_per_group=15), Params(factors=8))
    u, i = pairs(log)
    assert log.item_cooccurrence() is not None
    np.testing.assert_array_equal(cooccurrence(log, u, i), by_hand(log, u, i))


def test_a_catalog_too_big_for_the_item_matrix_gives_the_same_counts(monkeypatch):
    monkeypatch.setattr(training_log, "MAX_COOCCURRENCE_PAIRS", 0)
    log = build_log(taste_world(seed=2, users_per_group=15), Params(factors=8))
    u, i = pairs(log)
    assert log.item_cooccurrence() is None
    np.testing.assert_array_equal(cooccurrence(log, u, i), by_hand(log, u, i))
