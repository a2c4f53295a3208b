"""A model version's training reference and the drift rows against it, on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ecomm.monitoring.reference import (
    MAX_CATEGORIES,
    MISSING,
    OTHER,
    PREDICTION,
    FeatureDrift,
    categorical_summary,
    drift_against,
    numeric_summary,
    training_reference,
)

REFERENCE_SHARES = [0.1, 0.1, 0.11, 0.09, 0.1, 0.11, 0.09, 0.1, 0.1, 0.1]


def test_numeric_summary_of_one_to_a_hundred():
    summary = numeric_summary(np.arange(1.0, 101.0))
    # observed values at the deciles; 0.3 and 0.6 are a hair above 3/10 and 6/10 in binary, so the
    # inverted CDF takes the next value there
    assert summary["edges"] == [10.0, 20.0, 31.0, 40.0, 50.0, 61.0, 70.0, 80.0, 90.0]
    assert summary["shares"] == pytest.approx(REFERENCE_SHARES)
    assert summary["rows"] == 100
    assert len(summary["sketch"]) == 1000
    assert (summary["sketch"][0], summary["sketch"][-1]) == (1.0, 100.0)


def test_numeric_summary_leaves_nulls_out():
    summary = numeric_summary([1.0, None, 2.0, float("nan"), 2.0])
    assert summary["rows"] == 3
    assert summary["edges"] == [1.0, 2.0]
    assert summary["shares"] == pytest.approx([1 / 3, 2 / 3, 0.0])


def test_categorical_summary_keeps_the_frequent_values_and_pools_the_rest():
    values = ["a"] * 50 + ["b"] * 30 + [None] * 20
    assert categorical_summary(values) == {
        "kind": "categorical",
        "rows": 100,
        "shares": {"a": 0.5, "b": 0.3, MISSING: 0.2, OTHER: 0.0},
    }
    many = [f"c{i:02d}" for i in range(MAX_CATEGORIES + 5) for _ in range(MAX_CATEGORIES + 5 - i)]
    shares = categorical_summary(many)["shares"]
    assert len(shares) == MAX_CATEGORIES + 1
    assert shares[OTHER] == pytest.approx((5 + 4 + 3 + 2 + 1) / len(many))


REFERENCE_FRAME = pd.DataFrame(
    {
        "recency": np.arange(1.0, 101.0),
        "channel": ["email"] * 50 + ["social"] * 50,
        "has_returns": [True] * 20 + [False] * 80,
    }
)
REFERENCE = training_reference(REFERENCE_FRAME, ["channel", "has_returns"], np.linspace(0.0, 1.0, 100))


def test_the_training_population_does_not_drift_from_its_reference():
    rows = drift_against(REFERENCE, REFERENCE_FRAME, np.linspace(0.0, 1.0, 100), threshold=0.2)
    assert [(r.feature, r.kind, r.drifted, r.reference_rows, r.current_rows) for r in rows] == [
        ("recency", "numeric", False, 100, 100),
        ("channel", "categorical", False, 100, 100),
        ("has_returns", "categorical", False, 100, 100),
        (PREDICTION, "prediction", False, 100, 100),
    ]
    assert [r.psi for r in rows] == pytest.approx([0.0] * 4, abs=1e-12)
    assert [r.chi2_p_value for r in rows] == [None, 1.0, 1.0, None]
    assert rows[0].ks_statistic == pytest.approx(0.0, abs=0.006)  # the 1,000-point sketch of 100 values


def test_a_shifted_population_is_flagged_with_known_measures():
    current = pd.DataFrame(
        {
            "recency": np.arange(51.0, 151.0),  # half above the reference's top decile edge
            "channel": ["email"] * 25 + ["social"] * 50 + ["tiktok"] * 25,  # a value never seen
            "has_returns": [True] * 20 + [False] * 80,
        }
    )
    rows = {r.feature: r for r in drift_against(REFERENCE, current, np.full(100, 0.95), threshold=0.2)}
    # recency: nothing in the five bins up to 50 (floored), the same shares up to 90, 0.6 above it
    floor = 1e-4
    current_shares = [floor] * 5 + REFERENCE_SHARES[5:9] + [0.6]
    expected = sum((c - r) * math.log(c / r) for c, r in zip(current_shares, REFERENCE_SHARES, strict=True))
    assert rows["recency"].psi == pytest.approx(expected, abs=1e-9)
    assert rows["recency"].ks_statistic == pytest.approx(0.5, abs=0.006)
    assert rows["recency"].drifted is True
    # channel: email 0.25 / social 0.5 / other 0.25 against 0.5 / 0.5 / 0 (floored)
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - floor) * math.log(0.25 / floor)
    assert rows["channel"].psi == pytest.approx(expected, abs=1e-9)
    expected_counts = 100 * np.array([0.5, 0.5, floor]) / (1 + floor)
    chi2 = (((np.array([25, 50, 25]) - expected_counts) ** 2) / expected_counts).sum()
    assert rows["channel"].chi2_p_value == pytest.approx(stats.chi2.sf(chi2, 2), rel=1e-9)
    assert rows["channel"].chi2_p_value < 1e-100
    assert rows["channel"].drifted is True
    assert rows["has_returns"] == FeatureDrift("has_returns", "categorical", 0.0, None, 1.0, False, 100, 100)
    assert rows[PREDICTION].drifted is True
    assert rows[PREDICTION].ks_statistic == pytest.approx(0.95, abs=0.006)


def test_a_feature_the_day_lacks_is_skipped_and_nulls_are_not_compared():
    current = pd.DataFrame({"recency": [None] * 10, "channel": ["email"] * 10})
    rows = drift_against(REFERENCE, current, [0.5] * 10, threshold=0.2)
    assert [r.feature for r in rows] == ["recency", "channel", PREDICTION]
    assert rows[0] == FeatureDrift("recency", "numeric", 0.0, None, None, False, 100, 0)
