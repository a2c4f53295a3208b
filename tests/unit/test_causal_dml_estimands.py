"""DML estimates the ATE (and offers the ATT) when the effect varies with the covariates.

The effect grows with x, and x also raises the odds of treatment (p from about 0.1 to 0.9), so three
averages of the same individual effects differ clearly: over everyone (ATE, about 0.93), over the
treated (ATT, about 2.13), and weighted by treatment variance p(1 - p) (about 1.40), which is what a
DML fit with one constant effect estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.causal import dml_ate, fit_dml
from ecomm.causal._lazy import quiet_import
from ecomm.causal.dml import _nuisance_models

COVARIATES = ["x", "z"]


def heterogeneous_data(n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(frame, each row's true effect, each row's propensity)."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    propensity = 1 / (1 + np.exp(-(-0.8 + 1.2 * x + 0.5 * z)))
    treated = rng.binomial(1, propensity)
    effect = 1 + 2 * x
    y = 2 * x + z + effect * treated + rng.normal(size=n)
    return pd.DataFrame({"x": x, "z": z, "t": treated, "y": y}), effect, propensity


@pytest.fixture(scope="module")
def data():
    df, effect, propensity = heterogeneous_data()
    treated = df["t"].to_numpy() == 1
    weights = propensity * (1 - propensity)
    truth = {
        "ATE": float(effect.mean()),
        "ATT": float(effect[treated].mean()),
        "variance_weighted": float((effect * weights).sum() / weights.sum()),
    }
    return df, truth


def test_the_three_averages_differ_in_this_setup(data):
    _, truth = data
    assert truth["ATE"] == pytest.approx(0.932, abs=1e-3)
    assert truth["ATT"] == pytest.approx(2.131, abs=1e-3)
    assert truth["variance_weighted"] == pytest.approx(1.403, abs=1e-3)


def test_a_constant_effect_fit_misses_the_ate(data):
    """What fit_dml's LinearDML estimated by default with no effect modifiers (same nuisances)."""
    df, truth = data
    model_y, model_t = _nuisance_models(100, 0)
    constant = quiet_import("econml.dml").LinearDML(
        model_y=model_y, model_t=model_t, discrete_treatment=True, cv=3, random_state=0
    )
    constant.fit(df["y"].to_numpy(), df["t"].to_numpy(), X=None, W=df[COVARIATES].to_numpy())
    inference = constant.ate_inference()
    low, high = (float(np.ravel(v)[0]) for v in inference.conf_int_mean())
    point = float(np.ravel(inference.mean_point)[0])
    assert abs(point - truth["variance_weighted"]) < 0.1
    assert point - truth["ATE"] > 0.4
    assert not low <= truth["ATE"] <= high


def test_linear_dml_defaults_to_the_ate_and_offers_the_att(data):
    df, truth = data
    ate = dml_ate(df, "t", "y", COVARIATES)
    assert ate.contains(truth["ATE"]) and abs(ate.estimate - truth["ATE"]) < 0.1
    fitted = fit_dml(df, "t", "y", COVARIATES)
    assert fitted.effect_modifiers == ("x", "z") and fitted.controls == ()
    assert fitted.ate() == ate
    att = fitted.att()
    assert (ate.method, ate.estimand, att.method, att.estimand) == ("dml_linear", "ATE", "dml_linear", "ATT")
    assert att.contains(truth["ATT"]) and abs(att.estimate - truth["ATT"]) < 0.1
    assert not ate.contains(truth["variance_weighted"])
    assert not att.contains(truth["ATE"])
    assert (
        (att.n_treated, att.n_control)
        == (ate.n_treated, ate.n_control)
        == (int(df["t"].sum()), 3000 - int(df["t"].sum()))
    )


def test_causal_forest_ate_and_att_cover_the_truth(data):
    df, truth = data
    fitted = fit_dml(df, "t", "y", COVARIATES, model="forest")
    ate, att = fitted.ate(), fitted.att()
    assert (ate.method, ate.estimand, att.estimand) == ("dml_forest", "ATE", "ATT")
    assert ate.contains(truth["ATE"]) and abs(ate.estimate - truth["ATE"]) < 0.1
    assert att.contains(truth["ATT"]) and abs(att.estimate - truth["ATT"]) < 0.1
