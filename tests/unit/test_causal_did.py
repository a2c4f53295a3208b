"""Difference-in-differences on simulated panels with a single launch date and a known ATT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from matplotlib.figure import Figure

from ecomm.causal import difference_in_differences, event_study, event_study_plot, pre_trend_test

TRUE_ATT = 1.5
COLUMNS = ("store", "week", "in_region", "after_launch", "sales")


def simulate_panel(
    n_units: int = 240, n_periods: int = 12, launch: int = 6, pre_slope: float = 0.0, seed: int = 5
) -> pd.DataFrame:
    """Unit and week fixed effects; the launch region is chosen among high-level stores (levels
    differ, trends do not). pre_slope > 0 plants a diverging trend in the treated units before launch."""
    rng = np.random.default_rng(seed)
    unit_level = rng.normal(0, 2, n_units)
    in_region = (unit_level + rng.normal(0, 1, n_units) > 0.5).astype(int)
    week_effect = np.cumsum(rng.normal(0.2, 0.5, n_periods))
    unit = np.repeat(np.arange(n_units), n_periods)
    week = np.tile(np.arange(n_periods), n_units)
    post = (week >= launch).astype(int)
    treated = in_region[unit]
    sales = (
        unit_level[unit]
        + week_effect[week]
        + TRUE_ATT * treated * post
        + pre_slope * treated * np.minimum(week - launch, 0)
        + rng.normal(0, 1, len(unit))
    )
    return pd.DataFrame(
        {"store": unit, "week": week, "in_region": treated, "after_launch": post, "sales": sales}
    )


def test_did_recovers_att_with_truth_in_interval():
    panel = simulate_panel()
    est = difference_in_differences(panel, *COLUMNS)
    assert est.method == "difference_in_differences"
    assert est.estimand == "ATT"
    assert abs(est.estimate - TRUE_ATT) / TRUE_ATT < 0.15
    assert est.contains(TRUE_ATT)
    assert est.n_treated + est.n_control == 240  # units, not rows
    assert est.details["n_obs"] == len(panel)
    assert est.details["n_clusters"] == 240


def test_did_matches_dummy_variable_regression_on_unbalanced_panel():
    panel = simulate_panel(n_units=80, n_periods=8, launch=4, seed=9).sample(frac=0.8, random_state=2)
    est = difference_in_differences(panel, *COLUMNS)
    panel = panel.assign(treated_post=panel["in_region"] * panel["after_launch"])
    reference = smf.ols("sales ~ treated_post + C(store) + C(week)", panel).fit(
        cov_type="cluster", cov_kwds={"groups": panel["store"]}
    )
    assert est.estimate == pytest.approx(reference.params["treated_post"], abs=1e-9)
    # Same clustered variance; only the small-sample factor differs (we do not count the absorbed
    # unit dummies, which are nested in the unit clusters, as Stata's xtreg/reghdfe do not).
    n, k_reference = len(panel), reference.df_model + 1
    factor = np.sqrt((n - 1) / (n - k_reference))
    assert est.std_error * factor == pytest.approx(reference.bse["treated_post"], rel=1e-6)


def test_did_interval_coverage_over_seeded_replications():
    hits = 0
    for seed in range(100):
        est = difference_in_differences(
            simulate_panel(n_units=60, n_periods=8, launch=4, seed=1000 + seed), *COLUMNS
        )
        hits += est.contains(TRUE_ATT)
    assert 88 <= hits <= 99


def test_pre_trend_test_does_not_reject_parallel_trends():
    result = pre_trend_test(simulate_panel(), *COLUMNS)
    assert result.leads == (-6, -5, -4, -3, -2)
    assert result.df_num == 5
    assert result.df_denom == 239
    assert result.p_value > 0.05


def test_pre_trend_test_rejects_a_planted_diverging_trend():
    result = pre_trend_test(simulate_panel(pre_slope=0.15), *COLUMNS)
    assert result.p_value < 0.001


def test_event_study_leads_near_zero_and_lags_near_effect():
    table = event_study(simulate_panel(), *COLUMNS)
    assert list(table.columns) == ["relative_period", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    assert table["relative_period"].tolist() == list(range(-6, 6))
    reference = table.set_index("relative_period").loc[-1]
    assert (reference["estimate"], reference["ci_low"], reference["ci_high"]) == (0.0, 0.0, 0.0)
    leads = table[table["relative_period"] < -1]
    lags = table[table["relative_period"] >= 0]
    assert leads["estimate"].abs().max() < 0.4
    assert abs(lags["estimate"].mean() - TRUE_ATT) / TRUE_ATT < 0.15
    assert ((lags["ci_low"] <= TRUE_ATT) & (lags["ci_high"] >= TRUE_ATT)).sum() >= 5


def test_event_study_plot_returns_figure():
    fig = event_study_plot(event_study(simulate_panel(), *COLUMNS))
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "period relative to launch"


def test_did_works_with_date_periods_and_custom_cluster():
    panel = simulate_panel()
    panel["week"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(panel["week"] * 7, unit="D")
    panel["region_cluster"] = panel["store"] // 2  # stores nested in pairs
    est = difference_in_differences(panel, *COLUMNS, cluster="region_cluster")
    assert est.details["n_clusters"] == 120
    assert abs(est.estimate - TRUE_ATT) / TRUE_ATT < 0.15


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.drop(columns="sales"), r"missing column\(s\) \['sales'\]"),
        (lambda p: pd.concat([p, p.head(1)]), "duplicate"),
        (lambda p: p.assign(in_region=p["in_region"] * 2), "treated column 'in_region' must be binary"),
        (lambda p: p.assign(in_region=1), "no control units"),
        (
            lambda p: p.assign(in_region=np.where(p["week"] == 0, 0, p["in_region"])),
            "constant within each unit",
        ),
        (lambda p: p.assign(after_launch=np.where(p["store"] == 0, 1, p["after_launch"])), "one launch date"),
        (lambda p: p.assign(sales=np.where(p.index == 3, np.nan, p["sales"])), "missing values"),
    ],
)
def test_did_rejects_bad_panels(mutate, message):
    with pytest.raises(ValueError, match=message):
        difference_in_differences(mutate(simulate_panel(n_units=20, n_periods=6, launch=3)), *COLUMNS)


def test_pre_trend_test_needs_two_pre_periods():
    panel = simulate_panel(n_units=20, n_periods=6, launch=1)
    with pytest.raises(ValueError, match="at least two pre-launch periods"):
        pre_trend_test(panel, *COLUMNS)
