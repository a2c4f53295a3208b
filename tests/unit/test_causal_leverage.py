"""Regression adjustment when a rare covariate level fits some rows exactly (leverage 1).

HC3 divides each squared residual by (1 - h)^2: at h = 1 both are rounding noise and the standard
error comes out as anything from 4x too large to NaN. The estimator must notice, fall back to
HC2 without those rows, and say so.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from ecomm.causal import regression_adjustment

TRUE_EFFECT = 2.0


def frame_with_a_rare_level(seed: int = 0) -> pd.DataFrame:
    """400 ordinary customers, then a "rare" segment with 2 treated and 10 control rows. Among the
    treated, newsletter = 1 only on the first rare row, so within the treated arm the two rare rows
    are the only ones carrying the rare and newsletter dummies: both are fitted exactly."""
    rng = np.random.default_rng(seed)
    n = 400
    treated = rng.binomial(1, 0.5, size=n)
    ordinary = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "segment": rng.choice(["A", "B"], size=n),
            "newsletter": np.where(treated == 0, rng.binomial(1, 0.3, size=n), 0),
            "t": treated,
        }
    )
    rare = pd.DataFrame(
        {
            "x": rng.normal(size=12),
            "segment": "rare",
            "newsletter": [1, 0] + [0, 1] * 5,
            "t": [1, 1] + [0] * 10,
        }
    )
    df = pd.concat([ordinary, rare], ignore_index=True)
    df["y"] = 1 + df["x"] + TRUE_EFFECT * df["t"] + rng.normal(size=len(df))
    return df


def test_leverage_one_rows_fall_back_to_hc2_with_a_warning():
    df = frame_with_a_rare_level(seed=5)
    with pytest.warns(RuntimeWarning, match=r"2 row\(s\) have leverage 1 \(index \[400, 401\]\).*using HC2"):
        est = regression_adjustment(df, "t", "y", ["x", "segment", "newsletter"])
    assert est.details["covariance"] == "HC2"
    assert est.details["leverage_one_rows"] == [400, 401]
    assert "leverage 1" in est.details["warning"]

    # Without the newsletter dummy no row is fitted exactly: plain HC3, no warning. The rare rows
    # are 12 of 412, so the two standard errors must nearly agree (HC3 gave 9.8 here).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reference = regression_adjustment(df, "t", "y", ["x", "segment"])
    assert reference.details["covariance"] == "HC3"
    assert "warning" not in reference.details
    assert 0.09 < reference.std_error < 0.11
    assert est.std_error == pytest.approx(reference.std_error, rel=0.05)
    assert est.ci_high - est.ci_low == pytest.approx(2 * 1.966 * est.std_error, rel=1e-3)


def test_exactly_singular_leverage_gives_a_finite_standard_error():
    # With this seed HC3's 0 / 0 came out as a NaN standard error (and a NaN interval).
    df = frame_with_a_rare_level(seed=1)
    with pytest.warns(RuntimeWarning, match="leverage 1"):
        est = regression_adjustment(df, "t", "y", ["x", "segment", "newsletter"])
    assert 0.09 < est.std_error < 0.11
