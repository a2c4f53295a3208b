"""Cross-sectional estimators on a synthetic confounded dataset with a known, segment-dependent effect.

The data are generated here (seeded), not by the shop simulator: the library must recover effects on
any DataFrame, not be tuned to ours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from ecomm.causal import (
    Estimate,
    balance_table,
    cate_by_segment,
    dml_ate,
    estimates_frame,
    fit_dml,
    inverse_propensity_weighting,
    love_plot,
    naive_difference,
    propensity_score_matching,
    propensity_scores,
    regression_adjustment,
)

COVARIATES = ["tenure", "engagement", "segment"]
SEGMENT_EFFECT = {"A": 1.0, "B": 2.0, "C": 3.0}


def confounded_data(n: int = 2500, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers more engaged / longer-tenured (and segment B) are more often targeted AND spend
    more anyway, so the raw treated-vs-control gap overstates the effect. Returns the data and each
    row's true individual effect."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(size=n)
    engagement = rng.normal(size=n)
    segment = rng.choice(np.array(["A", "B", "C"]), size=n)
    logit = -0.2 + 0.8 * tenure + 0.6 * engagement + 0.5 * (segment == "B")
    treated = rng.binomial(1, 1 / (1 + np.exp(-logit)))
    effect = pd.Series(segment).map(SEGMENT_EFFECT).to_numpy()
    spend = 1 + 2 * tenure + 1.5 * engagement + 0.8 * (segment == "C") + effect * treated + rng.normal(size=n)
    frame = pd.DataFrame(
        {"tenure": tenure, "engagement": engagement, "segment": segment, "targeted": treated, "spend": spend}
    )
    return frame, effect


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, dict[str, float]]:
    df, effect = confounded_data()
    t = df["targeted"].to_numpy() == 1
    truth = {"ATE": float(effect.mean()), "ATT": float(effect[t].mean())}
    truth.update({f"CATE:{s}": v for s, v in SEGMENT_EFFECT.items()})
    return df, truth


def relative_error(estimate: Estimate, truth: float) -> float:
    return abs(estimate.estimate - truth) / abs(truth)


def test_naive_difference_is_biased_far_outside_its_interval(data):
    df, truth = data
    naive = naive_difference(df, "targeted", "spend")
    assert naive.method == "naive_difference"
    assert naive.n_treated + naive.n_control == len(df)
    assert naive.ci_low < naive.estimate < naive.ci_high
    # The confounding roughly doubles the apparent effect; truth is > 1 unit below the lower bound.
    assert naive.ci_low - truth["ATE"] > 1.0
    assert relative_error(naive, truth["ATE"]) > 0.5


def test_regression_adjustment_recovers_ate(data):
    df, truth = data
    est = regression_adjustment(df, "targeted", "spend", COVARIATES)
    assert est.estimand == "ATE"
    assert relative_error(est, truth["ATE"]) < 0.15
    assert est.contains(truth["ATE"])
    # Without interactions the same covariates still remove the confounding here.
    plain = regression_adjustment(df, "targeted", "spend", COVARIATES, interactions=False)
    assert relative_error(plain, truth["ATE"]) < 0.15


def test_propensity_scores_are_probabilities_aligned_to_rows(data):
    df, _ = data
    ps = propensity_scores(df, "targeted", COVARIATES)
    assert ps.index.equals(df.index)
    assert ps.between(0, 1).all()
    # Higher tenure raises the odds of being targeted in the generator.
    assert ps[df["tenure"] > 1].mean() > ps[df["tenure"] < -1].mean() + 0.3


def test_psm_att_recovers_effect_on_the_treated(data):
    df, truth = data
    est = propensity_score_matching(df, "targeted", "spend", COVARIATES, estimand="ATT")
    assert est.estimand == "ATT"
    assert relative_error(est, truth["ATT"]) < 0.15
    assert est.contains(truth["ATT"])
    d = est.details
    n_treated = int(df["targeted"].sum())
    assert d["n_matched_targets"] + d["n_dropped_by_caliper"] + d["n_trimmed_treated"] == n_treated
    assert est.n_treated == d["n_matched_targets"]
    # Matching with replacement: weights of used controls sum to the number of matched treated.
    weights = d["weights"]
    assert weights[df["targeted"] == 0].sum() == pytest.approx(d["n_matched_targets"])
    assert (weights[df["targeted"] == 1] <= 1).all()


def test_psm_ate_with_two_neighbours(data):
    df, truth = data
    est = propensity_score_matching(df, "targeted", "spend", COVARIATES, estimand="ATE", n_neighbors=2)
    assert relative_error(est, truth["ATE"]) < 0.15
    assert est.contains(truth["ATE"])


def test_psm_caliper_drops_more_when_tighter(data):
    df, _ = data
    loose = propensity_score_matching(df, "targeted", "spend", COVARIATES, caliper=None)
    tight = propensity_score_matching(df, "targeted", "spend", COVARIATES, caliper=0.01)
    assert loose.details["n_dropped_by_caliper"] == 0
    assert tight.details["n_dropped_by_caliper"] > 50


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_ipw_recovers_effect(data, estimand):
    df, truth = data
    est = inverse_propensity_weighting(
        df, "targeted", "spend", COVARIATES, estimand=estimand, n_bootstrap=100
    )
    assert est.estimand == estimand
    assert relative_error(est, truth[estimand]) < 0.15
    assert est.contains(truth[estimand])
    assert est.details["n_bootstrap_used"] == 100
    # Seeded bootstrap: the same call gives the same interval.
    again = inverse_propensity_weighting(
        df, "targeted", "spend", COVARIATES, estimand=estimand, n_bootstrap=100
    )
    assert (again.ci_low, again.ci_high) == (est.ci_low, est.ci_high)


def test_balance_improves_after_matching_and_weighting(data):
    df, _ = data
    psm = propensity_score_matching(df, "targeted", "spend", COVARIATES)
    ipw = inverse_propensity_weighting(df, "targeted", "spend", COVARIATES, estimand="ATT", n_bootstrap=20)
    table = balance_table(
        df, "targeted", COVARIATES, weights={"matched": psm.details["weights"], "ipw": ipw.details["weights"]}
    )
    assert list(table.columns) == [
        "covariate",
        "mean_treated",
        "mean_control",
        "smd_before",
        "smd_matched",
        "smd_ipw",
    ]
    assert table["covariate"].tolist() == ["tenure", "engagement", "segment=A", "segment=B", "segment=C"]
    rows = table.set_index("covariate")
    for confounder in ["tenure", "engagement", "segment=B"]:
        assert abs(rows.loc[confounder, "smd_matched"]) < abs(rows.loc[confounder, "smd_before"])
        assert abs(rows.loc[confounder, "smd_ipw"]) < abs(rows.loc[confounder, "smd_before"])
    assert rows.loc["tenure", "smd_before"] > 0.5
    assert table["smd_matched"].abs().max() < 0.1
    assert table["smd_ipw"].abs().max() < 0.1


def test_love_plot_draws_each_smd_column_with_reference_line(data):
    df, _ = data
    psm = propensity_score_matching(df, "targeted", "spend", COVARIATES)
    table = balance_table(df, "targeted", COVARIATES, weights={"matched": psm.details["weights"]})
    fig = love_plot(table)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert len(ax.collections) == 2  # before, matched
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(table["covariate"])
    assert [tuple(line.get_xdata()) for line in ax.lines] == [(0.1, 0.1)]


def test_linear_dml_ate_contains_truth(data):
    df, truth = data
    est = dml_ate(df, "targeted", "spend", COVARIATES, model="linear")
    assert est.method == "dml_linear"
    assert relative_error(est, truth["ATE"]) < 0.15
    assert est.contains(truth["ATE"])


@pytest.fixture(scope="module")
def forest(data):
    df, _ = data
    return fit_dml(df, "targeted", "spend", COVARIATES, model="forest", n_estimators=200, min_samples_leaf=10)


def test_causal_forest_ate_contains_truth(data, forest):
    _, truth = data
    est = forest.ate()
    assert est.method == "dml_forest"
    assert relative_error(est, truth["ATE"]) < 0.15
    assert est.contains(truth["ATE"])
    low, high = est.details["cate_mean_interval"]
    assert low <= truth["ATE"] <= high


def test_causal_forest_recovers_segment_effects(data, forest):
    df, truth = data
    cates = cate_by_segment(forest, df, "segment")
    assert [c.estimand for c in cates] == ["CATE:A", "CATE:B", "CATE:C"]
    assert sum(c.n_treated + c.n_control for c in cates) == len(df)
    for c in cates:
        assert abs(c.estimate - truth[c.estimand]) < 0.25
        assert c.contains(truth[c.estimand])
    assert cates[0].estimate < cates[1].estimate < cates[2].estimate


def test_linear_dml_with_segment_modifier_recovers_segment_effects(data):
    df, truth = data
    fitted = fit_dml(df, "targeted", "spend", COVARIATES, effect_modifiers=["segment"], model="linear")
    cates = cate_by_segment(fitted, df, "segment")
    for c in cates:
        assert abs(c.estimate - truth[c.estimand]) < 0.2
        assert c.contains(truth[c.estimand])
    assert relative_error(fitted.ate(), truth["ATE"]) < 0.15


def test_estimates_frame_puts_estimates_beside_truth(data):
    df, truth = data
    estimates = [
        naive_difference(df, "targeted", "spend"),
        regression_adjustment(df, "targeted", "spend", COVARIATES),
        propensity_score_matching(df, "targeted", "spend", COVARIATES),
    ]
    frame = estimates_frame(estimates, truth)
    assert frame["method"].tolist() == [
        "naive_difference",
        "regression_adjustment",
        "propensity_score_matching",
    ]
    assert frame["estimand"].tolist() == ["ATE", "ATE", "ATT"]
    assert frame["true_effect"].tolist() == [truth["ATE"], truth["ATE"], truth["ATT"]]
    assert frame["covers_truth"].tolist() == [False, True, True]
    assert frame["error"].iloc[0] == pytest.approx(estimates[0].estimate - truth["ATE"])
    wide = estimates_frame(estimates[2:], include_details=True)
    assert wide.loc[0, "detail_n_neighbors"] == 1
    assert "detail_weights" not in wide.columns  # non-scalar details stay out of the table
