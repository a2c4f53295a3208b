"""Lifetime value, pure parts: the BG/NBD and Gamma-Gamma formulas against the published CDNOW
example, the maximum-likelihood fits recovering the parameters of simulated customers, the pyfunc's
behaviour (more spend history, more value) and the evaluation measures."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm.features.churn import FeatureError
from ecomm.ml.clv import btyd
from ecomm.ml.clv import evaluate as ev
from ecomm.ml.clv.train import ClvConfig, evaluation_plan
from ecomm.ml.serving import (
    EXPECTED_ORDER_VALUE,
    EXPECTED_ORDERS,
    EXPECTED_VALUE,
    P_ALIVE,
    ClvPyfunc,
    bgnbd_expected_orders,
    bgnbd_p_alive,
    gamma_gamma_order_value,
)

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", CDNOW sample, time in weeks
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def test_bgnbd_conditional_expectation_is_the_papers():
    # the paper's worked example: x = 2, t_x = 30.43, T = 38.86 weeks -> 1.226 purchases in 39 weeks
    assert bgnbd_expected_orders(CDNOW, 39.0, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_p_alive_is_one_without_a_repeat_purchase_and_falls_with_silence():
    assert bgnbd_p_alive(CDNOW, 0, 0, 50.0) == pytest.approx(1.0)
    recent, silent = bgnbd_p_alive(CDNOW, [5, 5], [38.0, 10.0], [38.86, 38.86])
    assert 0 < silent < recent < 1


def simulate_bgnbd(params: dict, n: int, horizon: float, seed: int) -> pd.DataFrame:
    """Customers of a BG/NBD process observed for `horizon` days from their first purchase."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params["r"], 1 / params["alpha"], n)
    p = rng.beta(params["a"], params["b"], n)
    rows = []
    for lam_i, p_i in zip(lam, p, strict=True):
        t, times = 0.0, []
        while True:
            t += rng.exponential(1 / lam_i)
            if t > horizon:
                break
            times.append(t)
            if rng.random() < p_i:  # drops out after this purchase
                break
        rows.append((len(times), times[-1] if times else 0.0, horizon))
    return pd.DataFrame(rows, columns=["frequency", "recency_days", "t_days"])


def test_bgnbd_fit_recovers_the_simulated_parameters():
    truth = {"r": 0.8, "alpha": 20.0, "a": 0.6, "b": 3.0}
    frame = simulate_bgnbd(truth, 6000, 365.0, seed=3)
    fit = btyd.fit_bgnbd(frame["frequency"], frame["recency_days"], frame["t_days"])
    assert fit.converged
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.2), name


def test_gamma_gamma_fit_recovers_the_simulated_parameters():
    truth = {"p": 6.0, "q": 4.0, "v": 15.0}
    rng = np.random.default_rng(4)
    n = rng.integers(1, 10, 6000)
    nu = rng.gamma(truth["q"], 1 / truth["v"], len(n))  # the customer's scale of spend
    mean = np.array([rng.gamma(truth["p"], 1 / nu_i, k).mean() for nu_i, k in zip(nu, n, strict=True)])
    fit = btyd.fit_gamma_gamma(n, mean)
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=0.2), name
    # the population mean p v / (q - 1) is recovered closer still
    assert fit.params["p"] * fit.params["v"] / (fit.params["q"] - 1) == pytest.approx(30.0, rel=0.05)


def test_gamma_gamma_shrinks_towards_the_population_mean():
    params = {"p": 6.0, "q": 4.0, "v": 15.0}  # population mean 30
    one, many = gamma_gamma_order_value(params, [1, 50], [100.0, 100.0])
    assert 30 < one < many < 100


MODEL = ClvPyfunc(CDNOW | {"p": 6.0, "q": 4.0, "v": 15.0}, {"horizon_days": 52})
HISTORY = pd.DataFrame(
    {
        "frequency": [0.0, 2.0, 7.0],
        "recency_days": [0.0, 30.43, 20.0],
        "t_days": [30.0, 38.86, 40.0],
        "monetary": [25.0, 40.0, 80.0],
    }
)


def test_doubling_the_spend_history_raises_every_value_and_nothing_else():
    base = MODEL.predict(None, HISTORY)
    doubled = MODEL.predict(None, HISTORY.assign(monetary=HISTORY["monetary"] * 2))
    assert (doubled[EXPECTED_VALUE] > base[EXPECTED_VALUE]).all()
    assert (doubled[EXPECTED_VALUE] < 2 * base[EXPECTED_VALUE]).all()  # shrunk towards the population
    pd.testing.assert_series_equal(doubled[EXPECTED_ORDERS], base[EXPECTED_ORDERS])
    pd.testing.assert_series_equal(doubled[P_ALIVE], base[P_ALIVE])


def test_value_is_orders_times_order_value_and_grows_with_the_horizon():
    out = MODEL.predict(None, HISTORY)
    np.testing.assert_allclose(out[EXPECTED_VALUE], out[EXPECTED_ORDERS] * out[EXPECTED_ORDER_VALUE])
    assert out[EXPECTED_ORDERS].iloc[1] == pytest.approx(bgnbd_expected_orders(CDNOW, 52, 2, 30.43, 38.86))
    longer = MODEL.predict(None, HISTORY.assign(horizon_days=104))
    assert (longer[EXPECTED_ORDERS] > out[EXPECTED_ORDERS]).all()
    with pytest.raises(ValueError, match=r"missing input columns \['monetary'\]"):
        MODEL.predict(None, HISTORY.drop(columns="monetary"))


def test_evaluation_measures():
    realised = pd.Series([0.0, 10.0, 0.0, 30.0, 60.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    score = pd.Series([1.0, 2.0, 0.5, 3.0, 9.0, 0.1, 0.2, 0.3, 0.4, 0.6])
    assert ev.top_decile_capture(score, realised) == pytest.approx(0.6)  # the top 1 of 10 bought 60 of 100
    out = ev.measures(score, realised)
    assert out["total_ratio"] == pytest.approx(17.1 / 100)
    assert out["spearman_realised"] == pytest.approx(ev.spearman(score, realised))
    baseline = ev.baseline_value(pd.Series([100.0, 50.0]), pd.Series([200.0, 0.0]), 365)
    assert baseline.tolist() == [182.5, 50.0 * 365]  # a day's history counts as one day
    report = ev.report(score, pd.Series(np.arange(10.0)), realised, truth=realised)
    assert report["truth_spearman_realised"] == pytest.approx(1.0)
    assert report["spearman_truth_over_truth_realised"] == pytest.approx(report["spearman_truth"])


@pytest.mark.parametrize(
    "first,last,expected",
    [
        (date(2023, 12, 2), date(2025, 11, 30), (date(2024, 12, 1), 365, 180)),  # two years: a year's holdout
        (date(2024, 12, 7), date(2025, 12, 6), (date(2025, 6, 1), 180, 120)),  # one year (`make up`)
        (date(2024, 8, 5), date(2025, 2, 28), (date(2024, 12, 1), 90, 90)),  # the tests' 210 days
    ],
)
def test_the_evaluation_holdout_is_the_longest_the_warehouse_holds(first, last, expected):
    assert evaluation_plan(first, last, ClvConfig()) == expected


def test_a_configured_holdout_is_kept_or_refused():
    first, last = date(2024, 8, 5), date(2025, 2, 28)
    assert evaluation_plan(first, last, ClvConfig(holdout_days=60, min_history_days=30)) == (
        date(2024, 12, 1),
        60,
        30,
    )
    with pytest.raises(FeatureError, match="too short for a 365-day holdout after 180 days of history"):
        evaluation_plan(first, last, ClvConfig(holdout_days=365))
    with pytest.raises(
        FeatureError, match="a 365-day holdout after 180 days .* or a 90-day holdout after 90"
    ):
        evaluation_plan(date(2025, 1, 1), date(2025, 4, 1), ClvConfig())
