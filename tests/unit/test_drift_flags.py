"""The flag rule (Bonferroni + minimum PSI), the small-sample p-values it relies on, and the recent
inputs view (ecomm.monitoring.inputs) on hand-made frames with known answers."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ecomm.monitoring.drift import chi2_pvalue, flag_features, ks_pvalue, small_sample_chi2_pvalue
from ecomm.monitoring.inputs import input_values, inputs_drift, inputs_reference
from ecomm.monitoring.reference import PREDICTION, drift_against, training_reference


def test_a_feature_is_flagged_below_alpha_over_the_tested_features_and_above_the_minimum_psi():
    # 3 features have a p-value: the cutoff is 0.01 / 3 = 0.00333
    pvalues = [0.001, 0.004, 0.5, None]
    assert flag_features(pvalues, [0.3, 0.3, 0.3, 5.0], alpha=0.01, min_psi=0.1) == [
        True,
        False,
        False,
        False,
    ]
    # the same p-value with a negligible effect is not flagged
    assert flag_features(pvalues, [0.05, 0.3, 0.3, 5.0], alpha=0.01, min_psi=0.1) == [False] * 4
    # alone, 0.004 passes 0.01 / 1
    assert flag_features([0.004], [0.3], alpha=0.01, min_psi=0.1) == [True]
    assert flag_features([], [], alpha=0.01, min_psi=0.1) == []


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1])
def test_alpha_must_be_a_probability(alpha):
    with pytest.raises(ValueError, match="alpha must be in"):
        flag_features([0.5], [0.1], alpha=alpha, min_psi=0.1)


def exact_multinomial_pvalue(counts, shares) -> float:
    """P(statistic >= observed) by enumerating every outcome of n draws (the known answer)."""
    n, k = sum(counts), len(counts)
    expected = np.asarray(shares) * n
    observed = ((np.asarray(counts) - expected) ** 2 / expected).sum()
    total = 0.0
    for outcome in itertools.product(range(n + 1), repeat=k):
        if sum(outcome) == n and ((np.asarray(outcome) - expected) ** 2 / expected).sum() >= observed - 1e-9:
            total += stats.multinomial.pmf(outcome, n, shares)
    return total


@pytest.mark.parametrize(
    ("counts", "shares", "approximation_runs_small"),
    [([2, 0], [0.5, 0.5], True), ([5, 0, 0], [0.5, 0.25, 0.25], False), ([1, 3, 0], [0.7, 0.2, 0.1], True)],
)
def test_small_samples_get_the_multinomial_pvalue_not_the_chi2_approximation(
    counts, shares, approximation_runs_small
):
    exact = exact_multinomial_pvalue(counts, shares)
    p = small_sample_chi2_pvalue(counts, shares)
    assert abs(p - exact) < 0.01  # 20,000 draws: the Monte Carlo error is below 0.004
    assert p == small_sample_chi2_pvalue(counts, shares)  # seeded
    # where the approximation runs small it would flag more often than it says
    assert (chi2_pvalue(counts, shares) < exact - 0.01) == approximation_runs_small


def test_large_samples_keep_the_chi2_pvalue():
    counts, shares = [60, 25, 15], [0.5, 0.3, 0.2]
    assert small_sample_chi2_pvalue(counts, shares) == chi2_pvalue(counts, shares)


def test_the_ks_pvalue_is_taken_at_the_effective_sample_size():
    # one current value against a (huge) reference: D = max(U, 1 - U), so P(D >= 0.75) = 2 * 0.25
    assert ks_pvalue(0.75, 10**9, 1) == pytest.approx(0.5, abs=1e-9)
    assert ks_pvalue(0.0, 300, 30) == 1.0
    # a 300-row reference is tested as 300 rows (effective size 300 * 30 / 330 = 27), not as 1,000
    assert ks_pvalue(0.3, 300, 30) == pytest.approx(stats.kstwo.sf(0.3, 27))
    assert ks_pvalue(0.3, 300, 30) > ks_pvalue(0.3, 1000, 30)


def day(d: int) -> pd.Timestamp:
    return pd.Timestamp(dt.date(2024, 1, d))


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "age": [30, 40, 50, 60],
        "acquisition_channel": ["social", "email", "social", "organic"],
        "signup_date": [day(1), day(4), day(8), day(10)],
    }
)
PRODUCTS = pd.DataFrame({"product_id": [1, 2], "category": ["Books", "Toys"], "list_price": [10.0, 20.0]})
LINES = pd.DataFrame(
    {
        "order_id": [1, 2, 2, 3, 4, 5, 6],
        "order_ts": [day(2), day(3), day(3), day(4), day(5), day(6), day(9)],
        "product_id": [1, 1, 2, 2, 1, 2, 1],
        "unit_price": [10.0, 11.0, 20.0, 22.0, 9.0, 20.0, 12.0],
        "status": ["completed", "completed", "completed", "completed", "cancelled", "completed", "completed"],
        "delivery_days": [8.0, 7.0, 7.0, 2.0, np.nan, 3.0, 2.0],
    }
)


def test_the_recent_inputs_of_a_day():
    values = input_values(CUSTOMERS, LINES, PRODUCTS, dt.date(2024, 1, 4), dt.date(2024, 1, 10), late_days=3)
    assert {k: (kind, list(v)) for k, (kind, v) in values.items()} == {
        # signed up 4..10 January
        "new_customer_age": ("numeric", [40, 50, 60]),
        "new_customer_channel": ("categorical", ["email", "social", "organic"]),
        # placed in the 3 days up to 10 - 5 = 5 January (3..5), not cancelled, one per order
        "late_delivery": ("categorical", ["late", "on_time"]),
        # the lines placed 4..10 January: orders 3, 4 (cancelled lines keep their price), 5, 6
        "price_index[Books]": ("numeric", [0.9, 1.2]),
        "price_index[Toys]": ("numeric", [1.1, 1.0]),
    }


def test_a_price_rise_is_flagged_and_an_unchanged_window_is_not():
    rng = np.random.default_rng(3)
    n = 400
    placed = pd.to_datetime(dt.date(2024, 1, 1)) + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    lines = pd.DataFrame(
        {
            "order_id": np.arange(n),
            "order_ts": placed,
            "product_id": rng.integers(1, 3, n),
            "unit_price": 0.0,
            "status": "completed",
            "delivery_days": rng.integers(1, 6, n).astype(float),
        }
    )
    lines["unit_price"] = lines.product_id.map({1: 10.0, 2: 20.0}) * (1 + rng.normal(0, 0.02, n))
    rise = lines.order_ts >= pd.Timestamp(dt.date(2024, 4, 25))
    lines.loc[rise & (lines.product_id == 2), "unit_price"] *= 1.25
    customers = CUSTOMERS.iloc[:0]
    reference = inputs_reference(customers, lines, PRODUCTS, dt.date(2024, 4, 10), days=90)
    # the reference's lateness pools every order placed in its 90 days (shifted back 5), not 3 days
    placed = lines.order_ts.between(pd.Timestamp(dt.date(2024, 1, 7)), pd.Timestamp(dt.date(2024, 4, 5)))
    assert reference["late_delivery"]["rows"] == int(placed.sum())
    assert reference["price_index[Toys]"]["rows"] == int(
        (
            (lines.product_id == 2)
            & lines.order_ts.between(pd.Timestamp(dt.date(2024, 1, 12)), pd.Timestamp(dt.date(2024, 4, 10)))
        ).sum()
    )

    def flagged(on: dt.date) -> list[str]:
        return [
            r.feature
            for r in inputs_drift(reference, customers, lines, PRODUCTS, on, 0.005, 0.1)
            if r.drifted
        ]

    assert flagged(dt.date(2024, 4, 20)) == []
    assert flagged(dt.date(2024, 4, 30)) == ["price_index[Toys]"]


def test_the_model_view_with_alpha_needs_a_significant_test_besides_the_psi():
    reference = training_reference(
        pd.DataFrame({"recency": np.arange(1.0, 101.0)}), [], np.linspace(0, 1, 100)
    )
    # three recent customers, all in the reference's top two deciles of recency (1..100)
    current = pd.DataFrame({"recency": [82.0, 88.0, 95.0]})
    predictions = [0.2, 0.5, 0.8]
    by_psi = {r.feature: r for r in drift_against(reference, current, predictions, threshold=0.2)}
    assert by_psi["recency"].psi > 2.0 and by_psi["recency"].drifted is True
    assert by_psi["recency"].ks_statistic == pytest.approx(0.81, abs=0.006)
    # KS p at 100 x 3 / 103 = 3 rows: P(D >= 0.81) = 0.0137 (exact), above 0.005 / 2 features
    assert ks_pvalue(by_psi["recency"].ks_statistic, 100, 3) == pytest.approx(0.013718, abs=1e-6)
    rows = drift_against(reference, current, predictions, threshold=0.2, alpha=0.005)
    assert [(r.feature, r.drifted) for r in rows] == [("recency", False), (PREDICTION, False)]
    # the same shift in 100 customers is flagged
    many = pd.DataFrame({"recency": np.tile([82.0, 88.0, 95.0], 34)[:100]})
    rows = drift_against(reference, many, np.linspace(0.0, 1.0, 100), threshold=0.2, alpha=0.005)
    assert [(r.feature, r.drifted) for r in rows] == [("recency", True), (PREDICTION, False)]
