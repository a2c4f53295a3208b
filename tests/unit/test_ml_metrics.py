"""Ranking and classification metrics against hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ecomm.ml.metrics import (
    catalog_coverage,
    classification_metrics,
    forecast_bias,
    forecast_metrics,
    interval_coverage,
    mase,
    novelty,
    ranking_metrics,
    rmse,
    seasonal_naive_scale,
    smape,
    top_fraction_lift,
    user_ranking_metrics,
)


def test_one_user_by_hand():
    # hits at ranks 2 and 4 of 4; three relevant items (one never recommended)
    precision, recall, ndcg, ap = user_ranking_metrics([1, 2, 3, 4], {2, 4, 9}, k=4)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert precision == 0.5
    assert recall == pytest.approx(2 / 3)
    assert ndcg == pytest.approx(dcg / idcg)
    assert ap == pytest.approx((1 / 2 + 2 / 4) / 3)


def test_novelty_is_the_mean_self_information_of_recommended_items():
    # 8 training users: item 1 had by 8 (0 bits), item 2 by 2 (2 bits), item 3 by none (counts as 1: 3 bits)
    recs = {"u": [1, 2], "v": [3, 1, 2]}
    assert novelty(recs, {1: 8, 2: 2}, n_users=8, k=2) == pytest.approx((0 + 2 + 3 + 0) / 4)
    assert math.isnan(novelty({}, {1: 8}, n_users=8))


def test_perfect_and_empty_lists():
    assert user_ranking_metrics([7, 8], {7, 8}, k=10) == (0.2, 1.0, 1.0, 1.0)
    assert user_ranking_metrics([], {7}, k=10) == (0.0, 0.0, 0.0, 0.0)


def test_only_the_top_k_counts():
    assert user_ranking_metrics([1, 2, 3], {3}, k=2) == (0.0, 0.0, 0.0, 0.0)


def test_mean_over_users_with_relevant_items():
    recs = {1: [10, 11], 2: [20, 21], 3: [30]}
    relevant = {1: {10}, 2: {99}, 4: {40}, 5: set()}  # user 4 got nothing; user 5 is not evaluated
    m = ranking_metrics(recs, relevant, k=2, catalog_size=10)
    assert m["users"] == 3
    assert m["precision_at_2"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert m["recall_at_2"] == pytest.approx(1 / 3)
    assert m["ndcg_at_2"] == pytest.approx(1 / 3)
    assert m["map_at_2"] == pytest.approx(1 / 3)
    assert m["coverage_at_2"] == pytest.approx(5 / 10)  # 10, 11, 20, 21, 30


def test_coverage_counts_distinct_items_in_the_top_k():
    assert catalog_coverage({1: [1, 2, 3], 2: [1, 2, 4]}, catalog_size=8, k=2) == 2 / 8


def test_top_decile_lift():
    y = [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    scores = [0.9, 0.1, 0.2, 0.3, 0.1, 0.1, 0.2, 0.3, 0.1, 0.05]
    assert top_fraction_lift(y, scores, 0.1) == pytest.approx(1.0 / 0.2)
    assert math.isnan(top_fraction_lift([0, 0], [0.1, 0.2]))


def test_classification_metrics_of_a_perfect_ranking():
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert m["roc_auc"] == 1.0
    assert m["pr_auc"] == 1.0
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.04 + 0.01) / 4)
    assert m["positive_rate"] == 0.5
    assert m["n"] == 4


def test_rmse():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))


def test_forecast_metrics_by_hand():
    assert seasonal_naive_scale([1, 2, 4, 7], season=1) == pytest.approx((1 + 2 + 3) / 3)
    assert math.isnan(seasonal_naive_scale([1, 2], season=2))
    assert mase([3, 5], [4, 3], scale=1.5) == pytest.approx(((1 + 2) / 2) / 1.5)
    assert math.isnan(mase([3], [3], scale=0.0))
    # 2|e| / (|y| + |f|): 2/4, 0 for a pair of zeros, 2 for a forecast where nothing sold
    assert smape([1, 0, 0], [3, 0, 2]) == pytest.approx(100 * (2 * 2 / 4 + 0 + 2) / 3)
    assert forecast_bias([2, 2], [3, 2]) == pytest.approx(0.25)
    assert interval_coverage([1, 5, 9], [0, 6, 9], [2, 7, 10]) == pytest.approx(2 / 3)


def test_forecast_metrics_average_the_scaled_error_of_each_series():
    frame = pd.DataFrame(
        {
            "series_id": ["a", "a", "b", "b", "c"],
            "y": [1.0, 3.0, 10.0, 10.0, 4.0],
            "f": [2.0, 3.0, 12.0, 14.0, 4.0],
            "scale": [1.0, 1.0, 2.0, 2.0, 0.0],  # c never changes over a season: no MASE
            "scale_sq": [4.0, 4.0, 1.0, 1.0, 0.0],
            "f-lo-80": [0.0, 0.0, 11.0, 0.0, 4.0],
            "f-hi-80": [5.0, 5.0, 13.0, 20.0, 4.0],
        }
    )
    got = forecast_metrics(frame, "f", levels=(80,))
    assert got["mase"] == pytest.approx((0.5 / 1.0 + 3.0 / 2.0) / 2)
    assert got["rmsse"] == pytest.approx((math.sqrt(0.5 / 4.0) + math.sqrt(10.0 / 1.0)) / 2)
    assert got["bias"] == pytest.approx(7.0 / 28.0)
    assert got["coverage_80"] == pytest.approx(4 / 5)
    assert got["n"] == 5
