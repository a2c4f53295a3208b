"""Each candidate generator alone on small hand-made logs with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.recommend.general.candidates import GENERATORS, top_n_order
from ecomm.ml.recommend.general.interactions import Params
from ecomm.ml.recommend.general.log import build_log

from support.recommend_logs import popularity_log, two_groups_items, two_groups_log

PARAMS = Params(factors=4, iterations=15, seed=0)


def top_items(name: str, user: str, n: int = 10, exclude_seen: bool = True, categories: bool = True):
    log = build_log(two_groups_log(), PARAMS, two_groups_items() if categories else None)
    recs = GENERATORS[name]().fit(log).recommend([user], n, exclude_seen)
    assert recs["rank"].tolist() == list(range(1, len(recs) + 1))
    return recs["item_id"].tolist()


@pytest.mark.parametrize("name", ["item_knn", "item_knn_bm25"])
def test_item_knn_recommends_only_the_groups_unseen_item(name):
    # a0's items are similar only to A4 (every other a-user had A1..A4); nothing links a0 to B items
    assert top_items(name, "a0") == ["A4"]
    assert top_items(name, "b0") == ["B4"]


def test_als_puts_the_groups_unseen_item_first():
    assert top_items("als", "a0")[0] == "A4"
    assert top_items("als", "b0")[0] == "B4"


def test_category_affinity_recommends_the_users_category_new_item_last():
    # a0's weight is all in category a: A4 (had by 4 of 4 a-users: standing 1), then new A9 (0.5)
    assert top_items("category", "a0") == ["A4", "A9"]


def test_category_affinity_without_categories_recommends_nothing():
    assert top_items("category", "a0", categories=False) == []


def test_category_affinity_with_every_category_unknown_recommends_nothing():
    # an imported log's products have a category column of nulls only: as if it had none
    items = two_groups_items().assign(category=None)
    log = build_log(two_groups_log(), PARAMS, items)
    assert log.item_categories() is None
    assert GENERATORS["category"]().fit(log).recommend(["a0"], 10).empty


def test_popularity_over_a_window_and_all_time():
    log = build_log(popularity_log(), Params(popularity_window_days=30))
    recent = GENERATORS["recent_popular"]().fit(log)
    popular = GENERATORS["popular"]().fit(log)
    # x was popular 91 days ago, outside the 30-day window: never a recent candidate
    assert recent.recommend(["newcomer"], 5)["item_id"].tolist() == ["y", "z"]
    assert popular.recommend(["newcomer"], 5)["item_id"].tolist() == ["x", "y", "z"]
    assert popular.recommend(["u5"], 5)["item_id"].tolist() == ["x", "z"]  # u5 had y
    assert popular.recommend(["u5"], 5, exclude_seen=False)["item_id"].tolist() == ["x", "y", "z"]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_no_seen_item_is_recommended_when_excluded(name):
    frame = two_groups_log()
    log = build_log(frame, PARAMS, two_groups_items())
    users = sorted(frame["user_id"].unique())
    recs = GENERATORS[name]().fit(log).recommend(users, 20)
    seen = recs.merge(frame, on=["user_id", "item_id"])
    assert len(recs) > 0
    assert seen.empty


@pytest.mark.parametrize("name", ["als", "item_knn", "item_knn_bm25", "category"])
def test_personal_generators_skip_users_without_history(name):
    log = build_log(two_groups_log(), PARAMS, two_groups_items())
    recs = GENERATORS[name]().fit(log).recommend(["nobody", "a0"], 3)
    assert set(recs["user_id"]) == {"a0"}


def test_als_is_deterministic_for_a_seed():
    log = build_log(two_groups_log(), PARAMS)
    first = GENERATORS["als"]().fit(log).recommend(["a0", "b0"], 5)
    second = GENERATORS["als"]().fit(log).recommend(["a0", "b0"], 5)
    pd.testing.assert_frame_equal(first, second)


def test_only_the_exclude_events_make_an_item_seen():
    frame = pd.DataFrame(
        {
            "user_id": ["u", "u", "v", "v"],
            "item_id": ["viewed", "bought", "viewed", "bought"],
            "event": ["view", "order", "order", "order"],
            "timestamp": pd.to_datetime(["2025-01-01"] * 4),
        }
    )
    every_event = build_log(frame, Params())
    orders_only = build_log(frame, Params(exclude_events=("order",)))
    assert GENERATORS["popular"]().fit(every_event).recommend(["u"], 5)["item_id"].tolist() == []
    assert GENERATORS["popular"]().fit(orders_only).recommend(["u"], 5)["item_id"].tolist() == ["viewed"]


def test_scoring_in_small_batches_gives_the_same_lists(monkeypatch):
    from ecomm.ml.recommend.general import candidates

    log = build_log(two_groups_log(), PARAMS, two_groups_items())
    users = ["a0", "a1", "b0", "b1", "nobody"]
    whole = GENERATORS["item_knn"]().fit(log).recommend(users, 3, exclude_seen=False)
    monkeypatch.setattr(candidates, "SCORE_CELLS", 9)  # one user's 9 item scores per batch
    pd.testing.assert_frame_equal(
        GENERATORS["item_knn"]().fit(log).recommend(users, 3, exclude_seen=False), whole
    )


def test_top_n_order_equals_a_stable_sort_with_ties_and_missing_scores():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(50, 30)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    for n in (1, 5, 29, 30, 40):
        expected = np.argsort(-scores, axis=1, kind="stable")[:, : min(n, 30)]
        np.testing.assert_array_equal(top_n_order(scores, min(n, 30)), expected)


@pytest.mark.parametrize("name", ["popular", "recent_popular"])
def test_popularity_lists_from_one_order_equal_the_score_matrix_ones(name):
    """Popularity's top n comes from one order of the items, the user's seen ones skipped: the same
    rows as the generic path (a score matrix per batch, seen items at -inf, top_n_order), with ties,
    unscored and new items, unknown users and users who saw more than n items."""
    from ecomm.ml.recommend.general.candidates import Generator

    rng = np.random.default_rng(3)
    for trial in range(12):
        rows = int(rng.integers(1, 300))
        frame = pd.DataFrame(
            {
                "user_id": rng.integers(0, 30, rows),
                "item_id": rng.integers(0, 25, rows),
                "timestamp": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 90, rows), "D"),
                "event": rng.choice(["view", "order"], rows),
            }
        )
        params = Params(
            event_weights={"view": 1.0, "order": 8.0}, exclude_events=("order",), popularity_window_days=20.0
        )
        items = pd.DataFrame({"item_id": np.arange(28)}) if trial % 2 else None
        log = build_log(frame, params, items)
        generator = GENERATORS[name]().fit(log)
        users = list(range(-2, 32))
        for n in (1, 3, 10, 40):
            for exclude_seen in (True, False):
                generic = Generator._top(generator, pd.Index(users), log.user_codes(users), n, exclude_seen)
                pd.testing.assert_frame_equal(generator.recommend(users, n, exclude_seen), generic)
