"""Judging and tuning the general recommender on a validation split after its training rows."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from ecomm.ml.recommend.general.evaluate import evaluate_lists, holdout_relevant, top_lists
from ecomm.ml.recommend.general.interactions import InteractionsError, Params
from ecomm.ml.recommend.general.log import build_log
from ecomm.ml.recommend.general.tune import tune

from support.recommend_logs import at, taste_items, taste_world


def log(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event", "timestamp"])


def test_relevant_items_are_new_target_items():
    train = log([("u", "x", "order", at(0)), ("u", "w", "view", at(0))])
    holdout = log([("u", "x", "order", at(5)), ("u", "y", "order", at(5)), ("u", "z", "view", at(5)),
                   ("u", "w", "order", at(6))])  # fmt: skip
    params = Params(exclude_events=("order",), target_events=("order",))
    # x was bought before (excluded), z only viewed (no target), w only viewed before (still new)
    assert holdout_relevant(train, holdout, params) == {"u": {"y", "w"}}


def test_lists_follow_rank_and_metrics_are_the_shared_ones():
    train = log([("u", "a", "view", at(0)), ("v", "b", "view", at(0)), ("v", "a", "view", at(0)),
                 ("v", "d", "view", at(0))])  # fmt: skip
    recs = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["b", "a"], "score": [2.0, 1.0], "rank": [2, 1]})
    lists = top_lists(recs, ["u", "nobody"])
    assert lists == {"u": ["a", "b"], "nobody": []}
    metrics = evaluate_lists(lists, {"u": {"b"}}, build_log(train, Params()), k=2)
    assert metrics["ndcg_at_2"] == pytest.approx(1 / math.log2(3))
    assert metrics["coverage_at_2"] == pytest.approx(2 / 3)  # a and b of the log's a, b, d
    # a: had by 2 of 2 users -> 0 bits; b: 1 of 2 -> 1 bit
    assert metrics["novelty"] == pytest.approx(0.5)


def shifting_log() -> pd.DataFrame:
    """'old' was popular on day 10, 'new' from day 55; the validation users take 'new' on day 65."""
    rows = [(f"o{n}", "old", "view", at(10)) for n in range(20)]
    rows += [(f"n{n}", "new", "view", at(55)) for n in range(10)]
    rows += [(f"v{n}", "filler", "view", at(5)) for n in range(10)]
    rows += [(f"v{n}", "new", "view", at(65)) for n in range(10)]
    return log(rows)


def test_tuning_picks_the_window_that_ranks_the_validation_best():
    grid = {"popularity_window_days": [1000.0, 15.0]}
    tuning = tune(shifting_log(), Params(), grid, at(60), generator="recent_popular")
    best, table = tuning.params, tuning.table
    assert best.popularity_window_days == 15.0
    assert table["popularity_window_days"].tolist() == [1000.0, 15.0]
    assert table["ndcg_at_10"].round(4).tolist() == [round(1 / math.log2(3), 4), 1.0]


def test_tuning_keeps_the_grids_own_values():
    best = tune(shifting_log(), Params(), {"label_windows": [1]}, at(60), generator="popular").params
    assert type(best.label_windows) is int


def test_tuning_needs_rows_on_both_sides_of_the_validation_start():
    with pytest.raises(InteractionsError, match="0 training row"):
        tune(shifting_log(), Params(), {"neighbours": [5]}, at(0), generator="item_knn")


def test_label_windows_tuned_on_shared_candidates_score_as_models_fitted_alone():
    frame = taste_world(seed=1, days=60)
    params = Params(
        factors=8, label_days=10, ranker_trees=20, ranker_min_child_samples=5, min_label_positives=5
    )
    # the widest first: the later setting must leave the other window out
    shared = tune(frame, params, {"label_windows": [2, 1]}, at(45), items=taste_items(frame)).table
    for row in shared.to_dict("records"):
        # a second grid key: each combination is fitted from scratch
        grid = {"label_windows": [row["label_windows"]], "ranker_trees": [params.ranker_trees]}
        alone = tune(frame, params, grid, at(45), items=taste_items(frame)).table
        assert alone["ndcg_at_10"].item() == row["ndcg_at_10"]


def test_recommend_each_lists_as_each_model_alone():
    """One candidate pass scored by every label-window setting's ranker, in batches: each model's
    rows as its own recommend() gives them (warm users, an unknown one)."""
    from ecomm.ml.recommend.general.recommender import GeneralRecommender, recommend_each
    from ecomm.ml.recommend.general.rerank import stacked_candidates

    frame = taste_world(seed=1, days=60)
    params = Params(
        factors=8, label_days=10, ranker_trees=20, ranker_min_child_samples=5, min_label_positives=5
    )
    items = taste_items(frame)
    stacked = stacked_candidates(frame, replace(params, label_windows=2), items)
    first = GeneralRecommender(params).fit(frame, items, stacked=stacked)
    models = [first, first.with_label_windows(2, stacked)]
    users = [*sorted(frame["user_id"].unique())[:25], "nobody"]
    for model, recs in zip(models, recommend_each(models, users, 7, batch=4), strict=True):
        key = ["user_id", "rank"]
        pd.testing.assert_frame_equal(
            recs.sort_values(key).reset_index(drop=True),
            model.recommend(users, 7).sort_values(key).reset_index(drop=True),
        )
