"""The recommender's rank calibration (ecomm.ml.recommend.calibration): monotone, in 0..1, exact on
hand-made lists, and its holdout reliability check."""

import numpy as np
import pytest

from ecomm.ml.recommend import calibration as CAL


def test_hits_by_rank_counts_the_lists_reaching_each_rank():
    lists = {1: [10, 11, 12], 2: [20, 21], 3: [30]}
    relevant = {1: {11}, 2: {20, 21}}
    hits, counts = CAL.hits_by_rank(lists, relevant, 4)
    assert hits.tolist() == [1, 2, 0, 0]
    assert counts.tolist() == [3, 2, 1, 0]


def test_isotonic_pools_the_violators_by_weight():
    # 0.2 then 0.5 (weights 1, 3) violate "non-increasing": pooled to (0.2 + 1.5) / 4 = 0.425
    fit = CAL.decreasing_isotonic(np.array([0.6, 0.2, 0.5, 0.1]), np.array([2.0, 1.0, 3.0, 4.0]))
    assert fit.tolist() == pytest.approx([0.6, 0.425, 0.425, 0.1])


def test_a_rank_no_list_reached_takes_the_value_before_it():
    fit = CAL.decreasing_isotonic(np.array([0.5, 0.0, 0.0]), np.array([4.0, 2.0, 0.0]))
    assert fit.tolist() == [0.5, 0.0, 0.0]


def test_the_rank_curve_is_the_known_hit_rate_monotone_and_in_0_to_1():
    # rank 1: 2 hits of 4 lists; rank 2: 3 of 4 (a violation: pooled to 5/8); rank 3: 0 of 2
    lists = {1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2], 4: [1, 2]}
    relevant = {1: {1, 2}, 2: {2}, 3: {1, 2}}
    curve = CAL.rank_curve(lists, relevant, 3)
    assert curve.tolist() == pytest.approx([5 / 8, 5 / 8, 0.0])
    rng = np.random.default_rng(0)
    noisy = {u: list(range(50)) for u in range(200)}
    hits = {u: set(rng.choice(50, size=5, replace=False).tolist()) for u in range(200)}
    curve = CAL.rank_curve(noisy, hits, 60)
    assert (np.diff(curve) <= 0).all()
    assert ((curve >= 0) & (curve <= 1)).all()
    assert curve[50:].tolist() == [curve[49]] * 10  # ranks no list reached


def test_popular_lists_leave_out_what_the_customer_bought():
    out = CAL.popular_lists([5, 6, 7, 8], [1, 2], {1: {5, 7}}, 2)
    assert out == {1: [6, 8], 2: [5, 6]}


def test_reliability_bins_ece_and_brier():
    conf = np.array([0.05, 0.05, 0.05, 0.05, 0.55, 0.55])
    hit = np.array([0, 0, 0, 1, 1, 0])
    out = CAL.reliability(conf, hit)
    assert out["bins"] == [
        {"bin": "0.0-0.1", "count": 4, "predicted": pytest.approx(0.05), "observed": 0.25},
        {"bin": "0.5-0.6", "count": 2, "predicted": pytest.approx(0.55), "observed": 0.5},
    ]
    assert out["ece"] == pytest.approx((4 * 0.2 + 2 * 0.05) / 6)
    assert out["brier"] == pytest.approx((3 * 0.05**2 + 0.95**2 + 0.45**2 + 0.55**2) / 6)
    assert out["n"] == 6
