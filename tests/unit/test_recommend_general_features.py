"""The re-ranker's co-occurrence feature against a count made by hand, by each of its paths, and the
union of the generators' candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomm.ml.recommend.general import features
from ecomm.ml.recommend.general import log as training_log
from ecomm.ml.recommend.general.candidates import RANK, SCORE
from ecomm.ml.recommend.general.features import MISSING_RANK, candidate_union, cooccurrence
from ecomm.ml.recommend.general.interactions import ITEM, USER, Params
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


def test_sparse_lookups_give_the_same_counts(monkeypatch):
    monkeypatch.setattr(features, "DENSE_CELLS", 0)  # the path a batch too big to hold dense takes
    log = build_log(taste_world(seed=2, users_per_group=15), Params(factors=8))
    u, i = pairs(log)
    np.testing.assert_array_equal(cooccurrence(log, u, i), by_hand(log, u, i))


class Listed:
    """A generator whose top lists are given."""

    def __init__(self, name: str, rows: list[tuple[str, str, float, int]]):
        self.name, self.rows = name, rows

    def recommend(self, user_ids, n: int, exclude_seen: bool = True) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=[USER, ITEM, SCORE, RANK])


def test_candidate_union_keeps_each_generators_score_and_rank_sorted_by_user_and_item():
    als = Listed("als", [("u2", "x", 0.9, 1), ("u1", "y", 0.8, 1), ("u1", "x", 0.5, 2)])
    knn = Listed("knn", [("u1", "z", 3.0, 1), ("u1", "x", 2.0, 2)])
    union = candidate_union([als, knn], ["u1", "u2"], n=2)
    expected = pd.DataFrame(
        {
            USER: ["u1", "u1", "u1", "u2"],
            ITEM: ["x", "y", "z", "x"],
            "als_score": [0.5, 0.8, np.nan, 0.9],
            "als_rank": [2.0, 1.0, MISSING_RANK, 1.0],
            "knn_score": [2.0, np.nan, 3.0, np.nan],
            "knn_rank": [2.0, MISSING_RANK, 1.0, MISSING_RANK],
        }
    )
    pd.testing.assert_frame_equal(union, expected)
