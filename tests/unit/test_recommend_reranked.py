"""The served recommender's bounded tuning: only the label windows the history holds are tried, and a
history too short for one is a FeatureError (the model is skipped with its reason)."""

from __future__ import annotations

import pytest

from ecomm.features.churn import FeatureError
from ecomm.ml.recommend.general.interactions import Params
from ecomm.ml.recommend.reranked import tune_reranker, windows_that_fit

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


def test_a_history_too_short_for_one_label_window_is_a_feature_error():
    frame = taste_world(days=60)
    with pytest.raises(FeatureError, match=r"too short for a 10-day re-ranker label window"):
        tune_reranker(frame, taste_items(frame), PARAMS, at(15), n_trials=3)
