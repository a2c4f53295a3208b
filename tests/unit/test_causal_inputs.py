"""Bad input gets a ValueError that names the problem, for every estimator family."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.causal import (
    Estimate,
    balance_table,
    dml_ate,
    dowhy_estimate,
    estimates_frame,
    fit_dml,
    inverse_propensity_weighting,
    love_plot,
    naive_difference,
    propensity_score_matching,
    propensity_scores,
    regression_adjustment,
)

COVARIATES = ["x", "region"]


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-x)))
    return pd.DataFrame(
        {"x": x, "region": rng.choice(["north", "south"], size=n), "t": t, "y": x + t + rng.normal(size=n)}
    )


def estimators():
    """(name, call(df, treatment, outcome, covariates)) for every df-level estimator."""
    return [
        ("naive", lambda df, t, y, c: naive_difference(df, t, y)),
        ("regression", lambda df, t, y, c: regression_adjustment(df, t, y, c)),
        ("scores", lambda df, t, y, c: propensity_scores(df, t, c)),
        ("psm", lambda df, t, y, c: propensity_score_matching(df, t, y, c)),
        ("ipw", lambda df, t, y, c: inverse_propensity_weighting(df, t, y, c, n_bootstrap=20)),
        ("balance", lambda df, t, y, c: balance_table(df, t, c)),
        ("dml", lambda df, t, y, c: dml_ate(df, t, y, c, nuisance_estimators=10)),
        ("dowhy", lambda df, t, y, c: dowhy_estimate(df, t, y, c, method="backdoor.linear_regression")),
    ]


@pytest.mark.parametrize(("name", "call"), estimators())
def test_missing_column_is_named(small, name, call):
    missing = "y" if name not in ("scores", "balance") else "x"
    with pytest.raises(ValueError, match=rf"missing column\(s\) \['{missing}'\]"):
        call(small.drop(columns=missing), "t", "y", COVARIATES)


@pytest.mark.parametrize(("name", "call"), estimators())
def test_non_binary_treatment_is_rejected(small, name, call):
    df = small.assign(t=np.arange(len(small)) % 3)
    with pytest.raises(ValueError, match=r"treatment column 't' must be binary \(0/1 or bool\)"):
        call(df, "t", "y", COVARIATES)


@pytest.mark.parametrize(("name", "call"), estimators())
def test_all_treated_data_is_rejected(small, name, call):
    with pytest.raises(ValueError, match=r"no control rows: every row has 't' = 1 \(all treated\)"):
        call(small.assign(t=1), "t", "y", COVARIATES)


@pytest.mark.parametrize(("name", "call"), estimators())
def test_no_treated_rows_is_rejected(small, name, call):
    with pytest.raises(ValueError, match="no treated rows"):
        call(small.assign(t=0), "t", "y", COVARIATES)


@pytest.mark.parametrize(("name", "call"), estimators())
def test_nan_in_used_column_is_rejected(small, name, call):
    df = small.copy()
    df.loc[5, "x"] = np.nan
    if name == "naive":  # x is not used by the naive difference; its outcome is
        df.loc[5, "y"] = np.nan
    with pytest.raises(ValueError, match=r"missing values \(NaN\) in column\(s\)"):
        call(df, "t", "y", COVARIATES)


def test_string_treatment_is_not_binary(small):
    df = small.assign(t=np.where(small["t"] == 1, "yes", "no"))
    with pytest.raises(ValueError, match="must be binary"):
        naive_difference(df, "t", "y")


def test_bool_treatment_is_accepted(small):
    est = naive_difference(small.assign(t=small["t"].astype(bool)), "t", "y")
    assert est.n_treated == int(small["t"].sum())


def test_outcome_used_as_covariate_is_rejected(small):
    with pytest.raises(ValueError, match="column 'y' is used both as outcome and as covariates"):
        regression_adjustment(small, "t", "y", ["x", "y"])


def test_non_numeric_outcome_is_rejected(small):
    with pytest.raises(ValueError, match="outcome column 'region' must be numeric"):
        naive_difference(small, "t", "region")


@pytest.mark.parametrize("caliper", [0, -0.5])
def test_caliper_must_be_positive(small, caliper):
    with pytest.raises(ValueError, match="caliper must be > 0"):
        propensity_score_matching(small, "t", "y", COVARIATES, caliper=caliper)


@pytest.mark.parametrize("trim", [(0.5, 0.4), (-0.1, 0.9), (0.1,)])
def test_trim_must_be_an_ordered_pair_in_unit_interval(small, trim):
    with pytest.raises(ValueError, match="trim must"):
        inverse_propensity_weighting(small, "t", "y", COVARIATES, trim=trim, n_bootstrap=20)


def test_trimming_that_removes_an_arm_is_reported(small):
    with pytest.raises(ValueError, match=r"after trimming propensities"):
        propensity_score_matching(small, "t", "y", COVARIATES, trim=(0.999, 1.0))


def test_unknown_estimand_is_rejected(small):
    with pytest.raises(ValueError, match=r"estimand must be one of \('ATE', 'ATT'\)"):
        propensity_score_matching(small, "t", "y", COVARIATES, estimand="ATC")


def test_n_neighbors_must_be_positive(small):
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        propensity_score_matching(small, "t", "y", COVARIATES, n_neighbors=0)


def test_dml_model_name_is_checked(small):
    with pytest.raises(ValueError, match=r"model must be one of \('linear', 'forest'\)"):
        fit_dml(small, "t", "y", COVARIATES, model="boosting")


@pytest.mark.parametrize("model", ["linear", "forest"])
def test_dml_needs_effect_modifiers(small, model):
    # A constant effect would be a variance-weighted average, neither the ATE nor the ATT.
    with pytest.raises(ValueError, match=r"effect_modifiers \(the ATE and ATT average over them\) must name"):
        fit_dml(small, "t", "y", COVARIATES, effect_modifiers=[], model=model)


def test_balance_weights_must_cover_rows(small):
    with pytest.raises(ValueError, match="weights 'w' must have one value per row"):
        balance_table(small, "t", COVARIATES, weights={"w": np.ones(10)})
    with pytest.raises(ValueError, match="weights 'w' give the treated rows zero total weight"):
        balance_table(small, "t", COVARIATES, weights={"w": pd.Series(1 - small["t"], index=small.index)})


def test_love_plot_needs_a_balance_table():
    with pytest.raises(ValueError, match="love_plot needs a balance_table result"):
        love_plot(pd.DataFrame({"a": [1]}))


def test_estimates_frame_rejects_non_estimates():
    with pytest.raises(ValueError, match="expects Estimate objects"):
        estimates_frame([{"estimate": 1.0}])


def test_estimate_coerces_numpy_scalars():
    est = Estimate("m", "ATE", np.float64(1.0), np.float64(0.5), 1.5, None, np.int64(3), 4)
    assert type(est.estimate) is float and type(est.n_treated) is int
    assert est.contains(1.5) and not est.contains(1.6)


def test_not_a_dataframe_is_rejected():
    with pytest.raises(ValueError, match="df must be a pandas DataFrame"):
        naive_difference({"t": [0, 1]}, "t", "y")


def test_rare_levels_are_pooled_until_both_arms_have_enough():
    from ecomm.causal.extracts import OTHER_LEVEL, pool_rare_levels

    treated = [True] * 10 + [False] * 10
    frame = pd.DataFrame(
        {
            "treated": treated,
            # DE in both arms (5 + 5); FR and IT only in one arm; ES 5 + 5
            "country": ["DE"] * 5 + ["FR"] * 5 + ["DE"] * 5 + ["IT"] * 5,
            "channel": ["a"] * 5 + ["b"] * 5 + ["a"] * 5 + ["b"] * 5,
        }
    )
    pooled_frame, pooled = pool_rare_levels(frame, "treated", ("country", "channel"), min_per_arm=5)
    assert pooled == {"country": ["FR", "IT"]}
    assert list(pooled_frame.country) == ["DE"] * 5 + [OTHER_LEVEL] * 5 + ["DE"] * 5 + [OTHER_LEVEL] * 5
    assert list(frame.country[5:10]) == ["FR"] * 5  # the input is not changed

    # a pooled level still short in an arm joins the most common level
    short = frame.assign(country=["DE"] * 9 + ["FR"] + ["DE"] * 10)
    pooled_frame, pooled = pool_rare_levels(short, "treated", ("country",), min_per_arm=5)
    assert pooled == {"country": ["FR"]} and set(pooled_frame.country) == {"DE"}
