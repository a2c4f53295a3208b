"""The re-ranker's time protocol (no leakage, a clear error without labels) and the fit/recommend
facade: known answers, cold-start users, new items, and a foreign log with string ids and ratings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.recommend.general.interactions import InteractionsError, Params
from ecomm.ml.recommend.general.recommender import COLD_START, NEW_ITEM, RERANKED, GeneralRecommender
from ecomm.ml.recommend.general.rerank import (
    LABEL,
    WINDOW,
    NotEnoughLabels,
    label_window,
    labelled_candidates,
    stacked_candidates,
)

from support.recommend_logs import at, taste_items, taste_world

PARAMS = Params(factors=8, label_days=15, ranker_trees=50, ranker_min_child_samples=5)


def test_label_window_splits_at_label_start():
    frame = taste_world()
    before, after = label_window(frame, at(45))
    assert before["timestamp"].max() < at(45) <= after["timestamp"].min()
    assert len(before) + len(after) == len(frame)
    with pytest.raises(InteractionsError, match="0 in it"):
        label_window(frame, at(61))


def test_features_do_not_see_the_label_window():
    frame = taste_world()
    label_users = frame.loc[frame["timestamp"] >= at(45), "user_id"].unique()
    # more label-window rows for the same users: only the labels may change
    extra = pd.DataFrame({"user_id": label_users, "item_id": "A00", "timestamp": at(59)})
    plain = labelled_candidates(frame, PARAMS, at(45), taste_items(frame))
    busier = labelled_candidates(pd.concat([frame, extra]), PARAMS, at(45), taste_items(frame))
    features = [c for c in plain.columns if c != LABEL]
    pd.testing.assert_frame_equal(plain[features], busier[features])
    assert busier[LABEL].sum() > plain[LABEL].sum()


def test_candidate_labels_are_the_label_windows_new_pairs():
    frame = taste_world()
    rows = labelled_candidates(frame, PARAMS, at(45), taste_items(frame))
    after = frame[frame["timestamp"] >= at(45)]
    positives = rows[rows[LABEL] == 1].merge(after, on=["user_id", "item_id"])
    assert len(positives) == rows[LABEL].sum() > 0
    before = frame[frame["timestamp"] < at(45)]
    assert rows.merge(before, on=["user_id", "item_id"]).empty  # seen pairs are no candidates


def test_too_few_label_positives_is_an_error():
    frame = taste_world()
    with pytest.raises(NotEnoughLabels, match=r"positive candidate\(s\) \(< min_label_positives 100000\)"):
        GeneralRecommender(Params(factors=8, label_days=15, min_label_positives=100_000)).fit(frame)


def test_reranked_model_puts_each_users_unseen_group_items_first():
    frame = taste_world()
    model = GeneralRecommender(PARAMS).fit(frame, taste_items(frame))
    users = sorted(frame["user_id"].unique())
    recs = model.recommend(users, k=2)
    # every user had 10 of their group's 12 items: the two they lack are the right answer
    group = recs["item_id"].str[0].str.lower() == recs["user_id"].str[0]
    assert group.all()
    assert (recs["source"] == RERANKED).all()
    assert recs.merge(frame, on=["user_id", "item_id"]).empty


def test_cold_users_get_labelled_popular_items_and_new_items_are_labelled():
    frame = taste_world()
    items = pd.concat(
        [taste_items(frame), pd.DataFrame({"item_id": ["A99"], "category": ["A"], "price": 10.0})]
    )
    model = GeneralRecommender(PARAMS).fit(frame, items)
    recs = model.recommend(["stranger", "a0"], k=5)
    cold = recs[recs["user_id"] == "stranger"]
    assert cold["rank"].tolist() == [1, 2, 3, 4, 5]
    assert (cold["source"] == COLD_START).all()
    every = model.recommend(["a0"], k=len(items))  # every item a0 has not seen: the new one among them
    assert every.loc[every["item_id"] == "A99", "source"].tolist() == [NEW_ITEM]
    assert set(recs.columns) == {"user_id", "item_id", "score", "rank", "source"}


def rated_foreign_log(seed: int = 3) -> pd.DataFrame:
    """String ids, ratings in 0.5 steps from 0.5 to 5.0, ISO timestamps: a public ratings log's shape."""
    rng = np.random.default_rng(seed)
    frame = taste_world(seed)
    return pd.DataFrame(
        {
            "user_id": "user-" + frame["user_id"],
            "item_id": "movie-" + frame["item_id"],
            "rating": rng.integers(1, 11, len(frame)) / 2.0,
            "timestamp": frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )


def test_a_foreign_log_with_string_ids_and_half_star_ratings():
    frame = rated_foreign_log()
    model = GeneralRecommender(PARAMS).fit(frame)
    users = sorted(frame["user_id"].unique())
    recs = model.recommend(users, k=3)
    assert len(recs) == 3 * len(users)
    assert recs["item_id"].str.startswith("movie-").all()
    assert recs.merge(frame, on=["user_id", "item_id"]).empty
    assert model.log.weights.max() <= 1.0  # 5.0 (the top of the inferred 0.5..5.0 range) weighs 1


def test_without_the_reranker_the_first_generator_serves():
    frame = taste_world()
    model = GeneralRecommender(PARAMS, generators=("item_knn",), rerank=False).fit(frame)
    recs = model.recommend(["a0"], k=2)
    assert recs["source"].tolist() == ["item_knn", "item_knn"]
    assert recs["item_id"].str.startswith("A").all()


def test_an_unknown_generator_is_named():
    with pytest.raises(ValueError, match=r"unknown generator\(s\) \['svd'\]"):
        GeneralRecommender(PARAMS, generators=("svd",), rerank=False).fit(taste_world())


def test_only_target_events_label_positives():
    frame = taste_world().assign(event="view")
    late = frame["timestamp"] >= at(45)
    frame.loc[late & (frame["item_id"].str[1:] == "00"), "event"] = "order"  # only item *00 is ordered
    params = Params(factors=8, target_events=("order",))
    rows = labelled_candidates(frame, params, at(45))
    positives = rows[rows[LABEL] == 1]
    assert sorted(positives["item_id"].unique()) == ["A00", "B00"]


def test_stacked_label_windows_each_take_features_from_before_them():
    frame = taste_world()  # days 0..60
    params = Params(factors=8, label_days=10, label_windows=2)
    end = frame["timestamp"].max()
    rows = stacked_candidates(frame, params)
    older = rows[rows[WINDOW] == 1].drop(columns=[WINDOW]).reset_index(drop=True)
    expected = labelled_candidates(
        frame, params, end - pd.Timedelta(days=20), label_end=end - pd.Timedelta(days=10)
    )
    pd.testing.assert_frame_equal(older, expected)
    latest = rows[rows[WINDOW] == 0].drop(columns=[WINDOW]).reset_index(drop=True)
    pd.testing.assert_frame_equal(latest, labelled_candidates(frame, params, end - pd.Timedelta(days=10)))


def test_the_rankers_users_are_a_seeded_sample_above_the_cap():
    frame = taste_world()
    params = Params(factors=8, ranker_max_users=10)
    rows = labelled_candidates(frame, params, at(45))
    assert rows["user_id"].nunique() == 10
    pd.testing.assert_frame_equal(rows, labelled_candidates(frame, params, at(45)))
