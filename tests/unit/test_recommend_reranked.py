"""The served recommender's bounded tuning (only the label windows the history holds are tried, and a
history too short for one is a FeatureError: the model is skipped with its reason), and the history
item that explains each served recommendation."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecomm.features.churn import FeatureError
from ecomm.ml.recommend import model as M
from ecomm.ml.recommend.general.interactions import Params
from ecomm.ml.recommend.general.log import build_log
from ecomm.ml.recommend.general.shop import ORDER
from ecomm.ml.recommend.reranked import because_items, calibrated_curves, tune_reranker, windows_that_fit

from support.recommend_logs import at, taste_items, taste_world

PARAMS = Params(factors=8, label_days=10, ranker_trees=20, ranker_min_child_samples=5, min_label_positives=5)


def test_windows_that_fit_leave_a_window_of_history_before_the_oldest():
    frame = taste_world(days=60)  # events from about day 0
    assert windows_that_fit(frame, PARAMS, at(45)) == 3  # 45 days: 4 windows of 10, one kept as history
    assert windows_that_fit(frame, PARAMS, at(19)) == 0


def test_tuning_tries_the_fitting_settings_of_the_first_n_trials():
    frame = taste_world(days=60)
    tuned = tune_reranker(frame, taste_items(frame), PARAMS, at(45), n_trials=3)
    assert [row["label_windows"] for row in tuned.table] == [1, 2, 3]
    assert tuned.params.label_windows in (1, 2, 3)
    assert tuned.validation_ndcg == max(row["ndcg_at_10"] for row in tuned.table)
    # a shorter history before validation: only one window fits, so nothing is tuned
    short = tune_reranker(frame, taste_items(frame), PARAMS, at(25), n_trials=3)
    assert short.params.label_windows == 1 and short.table == []


def test_tuning_keeps_its_best_model_and_calibration_reuses_it_unchanged():
    frame = taste_world(days=60).assign(event=ORDER)
    params = replace(PARAMS, exclude_events=(ORDER,), target_events=(ORDER,))
    items = taste_items(frame)
    tuned = tune_reranker(frame, items, params, at(45), n_trials=3)
    assert tuned.model.params == tuned.params
    assert tuned.model.log.as_of < at(45)  # fitted before the validation split only
    refitted = calibrated_curves(frame, items, tuned.params, at(45), depth=10)
    np.testing.assert_equal(
        calibrated_curves(frame, items, tuned.params, at(45), depth=10, fitted=tuned.model), refitted
    )
    # and the lists tuning made for its validation customers (to TOP_N) stand in for new ones
    assert tuned.lists["rank"].max() > 10
    np.testing.assert_equal(
        calibrated_curves(
            frame, items, tuned.params, at(45), depth=10, fitted=tuned.model, fitted_lists=tuned.lists
        ),
        refitted,
    )


def test_a_history_too_short_for_one_label_window_is_a_feature_error():
    frame = taste_world(days=60)
    with pytest.raises(FeatureError, match=r"too short for a 10-day re-ranker label window"):
        tune_reranker(frame, taste_items(frame), PARAMS, at(15), n_trials=3)


def _log_of(pairs: list[tuple[int, int]]):
    frame = pd.DataFrame(pairs, columns=["user_id", "item_id"]).assign(
        timestamp=[at(d) for d in range(len(pairs))]
    )
    return SimpleNamespace(log=build_log(frame, Params(factors=8)))


def test_because_items_names_the_history_item_most_co_seen_with_the_recommendation():
    # users 1: items 10, 20; 2: 10, 20, 30; 3: 30, 40. Co-seen: (10, 20) by 2 users, (10, 30), (20, 30)
    # and (30, 40) by 1, (10, 40) and (20, 40) by none.
    model = _log_of([(1, 10), (1, 20), (2, 10), (2, 20), (2, 30), (3, 30), (3, 40)])
    index = M.Index(np.array([1, 2, 3]), np.array([10, 20, 30, 40, 50]))
    lists = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 9, 3],
            "item_id": [30, 40, 30, 10, 10, 50],
        }
    )
    # 30 for user 1: 10 and 20 tie at 1, the first in the history wins; 40: nothing co-seen; 30 for
    # user 2, who had it: 10 (30 itself, seen by 2 users, is left out); 10 for user 3: 30; user 9 and
    # item 50 are unknown.
    expected = index.item_pos([10, -1, 10, 30, -1, -1])  # -1: no such product
    np.testing.assert_array_equal(because_items(model, lists, index), expected)


def test_because_items_agrees_with_a_count_by_hand_on_a_bigger_log():
    frame = taste_world(seed=3, users_per_group=12)
    frame = frame.assign(
        user_id=pd.factorize(frame["user_id"])[0] + 1, item_id=pd.factorize(frame["item_id"])[0] + 100
    )
    model = SimpleNamespace(log=build_log(frame, Params(factors=8)))
    index = M.Index(np.sort(frame["user_id"].unique()), np.sort(frame["item_id"].unique()))
    rng = np.random.default_rng(0)
    lists = pd.DataFrame(
        {"user_id": np.repeat(index.users, 5), "item_id": rng.choice(index.items, 5 * len(index.users))}
    )
    seen = pd.crosstab(frame["user_id"], frame["item_id"]).reindex(index=index.users, columns=index.items) > 0
    co = (seen.T.astype(int) @ seen.astype(int)).to_numpy()
    np.fill_diagonal(co, 0)
    by_hand = []
    for user, item in zip(lists["user_id"], lists["item_id"], strict=True):
        history = np.flatnonzero(seen.loc[user].to_numpy())
        counts = co[index.item_pos([item])[0], history]
        by_hand.append(history[counts.argmax()] if counts.max() > 0 else -1)
    np.testing.assert_array_equal(because_items(model, lists, index), by_hand)
