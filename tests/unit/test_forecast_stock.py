"""The stock policy's pure parts on synthetic series: reorder point, naive levels, the replay."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ecomm.ml.forecast.conformal import scaled_errors
from ecomm.ml.forecast.stock import (
    Z_95,
    compare_policies,
    conformal_reorder_point,
    matched_naive,
    naive_levels,
    naive_replay,
    naive_safety_levels,
    reorder_point,
    replay_base_stock,
)


def test_the_reorder_point_is_the_lead_time_mean_plus_z_times_the_summed_daily_sd():
    point = np.full(14, 2.0)
    hi_95 = point + Z_95 * np.arange(1, 15)  # day t's sd is t
    got = reorder_point(point, hi_95, lead_time=3, service_level=0.95)
    assert got.lead_time_demand == pytest.approx(6.0)
    assert got.lead_time_sd == pytest.approx(math.sqrt(1 + 4 + 9))
    assert got.safety_stock == pytest.approx(norm.ppf(0.95) * math.sqrt(14))
    assert got.reorder_point == pytest.approx(6.0 + norm.ppf(0.95) * math.sqrt(14))
    assert reorder_point(point, point, 7, 0.95).safety_stock == 0.0  # no spread, no safety stock


@pytest.mark.parametrize(
    ("lead_time", "service", "field"),
    [(0, 0.95, "lead_time"), (15, 0.95, "lead_time"), (7, 1.0, "service_level"), (7, 0.2, "service_level")],
)
def test_reorder_point_refuses_what_it_cannot_compute(lead_time, service, field):
    with pytest.raises(ValueError, match=f"^{field}: "):
        reorder_point(np.ones(14), np.ones(14), lead_time, service)


def test_naive_levels_are_the_trailing_mean_times_the_lead_time():
    demand = np.arange(1.0, 41.0)  # 1, 2, ..., 40
    levels = naive_levels(demand, lead_time=2, window=28)
    assert levels[0] == 2.0 and levels[2] == 4.0  # mean(1) x 2, mean(1, 2, 3) x 2
    assert levels[27] == pytest.approx(14.5 * 2)  # days 1..28
    assert levels[39] == pytest.approx(np.mean(np.arange(13.0, 41.0)) * 2)  # the last 28 days only


@pytest.mark.parametrize(("extra", "stock"), [(0.0, 0.0), (2.0, 2.0)])
def test_a_steady_demand_is_always_served_and_leaves_exactly_the_level_over_lead_time_demand(extra, stock):
    demand = np.full(60, 3.0)
    replay = replay_base_stock(demand, np.full(60, 3.0 * 7 + extra), lead_time=7)
    assert replay.service_level == 1.0 and replay.fill_rate == 1.0
    assert replay.average_stock == stock and replay.days == 60 - 8


def test_a_level_below_the_lead_time_demand_runs_out():
    demand = np.full(60, 3.0)
    replay = replay_base_stock(demand, np.full(60, 3.0 * 6), lead_time=7)
    # 18 units cover 6 of the 7 days an order takes: every 7th day sells nothing after warm-up
    assert replay.average_stock == 0.0
    assert replay.fill_rate == pytest.approx(replay.service_level)
    assert 0.8 < replay.service_level < 0.9


def test_the_policy_reaches_its_service_level_where_the_naive_one_does_not():
    rng = np.random.default_rng(0)
    mean, lead = 5.0, 7
    demand = rng.poisson(mean, 20_000).astype(float)
    # the forecast knows the distribution: Poisson(5) each day, sd sqrt(5)
    point = np.full(lead, mean)
    policy = reorder_point(point, point + Z_95 * math.sqrt(mean), lead, 0.95)
    ours = replay_base_stock(demand, np.full(len(demand), policy.reorder_point), lead)
    naive = replay_base_stock(demand, naive_levels(demand, lead), lead, start=28)
    assert abs(ours.service_level - 0.95) <= 0.02
    # no safety stock: P(Poisson(35) <= 35) is 0.55; lost sales lift it (a short day lowers the next
    # days' sales, not their demand), still far from the target
    assert naive.service_level < 0.8
    assert ours.average_stock > naive.average_stock


def test_replay_checks_the_levels_match_the_days():
    with pytest.raises(ValueError, match="^levels: 3 values for 4 days"):
        replay_base_stock(np.ones(4), np.ones(3), 1)


def test_compare_policies_replays_each_origins_level_until_the_next_and_the_naive_at_equal_service():
    rng = np.random.default_rng(1)
    days = pd.date_range("2020-01-01", periods=2_000)
    grid = pd.DataFrame({"series_id": "a", "date": days, "y": rng.poisson(5.0, len(days)).astype(float)})
    cutoffs = days[28:-30:7]  # weekly origins, each forecasting the next 30 days
    forecasts = pd.DataFrame(
        [
            {"series_id": "a", "cutoff": c, "date": c + pd.Timedelta(days=k), "perfect": 5.0}
            for c in cutoffs
            for k in range(1, 31)
        ]
    ).assign(**{"perfect-hi-95": 5.0 + Z_95 * math.sqrt(5.0)})
    got = compare_policies(forecasts, "perfect", grid, lead_time=7, service_level=0.95, step=7)
    assert got["series"] == 1 and got["days"] == len(cutoffs) * 7 - 8
    assert abs(got["service_level"] - 0.95) <= 0.02 and got["naive_service_level"] < 0.8
    # the naive policy holds less only because it serves fewer days ...
    assert got["average_stock"] > got["naive_average_stock"]
    # ... serving as many, it holds more: its 28-day mean is a noisy estimate of the 5 a day
    assert got["matched_naive_service_level"] >= got["service_level"]
    assert got["matched_naive_average_stock"] > got["average_stock"]
    assert got["naive_safety_service_level"] > got["naive_service_level"]


def test_the_conformal_reorder_point_is_the_lead_time_mean_plus_the_error_quantile_times_the_spread():
    got = conformal_reorder_point(
        np.full(14, 2.0), spread=3.0, error_quantile=1.5, lead_time=7, service_level=0.95
    )
    assert got.lead_time_demand == 14.0 and got.safety_stock == 4.5 and got.reorder_point == 18.5
    assert got.lead_time_sd == pytest.approx(4.5 / norm.ppf(0.95))
    # a forecast that ran high has a negative quantile: no safety stock, never below the mean
    assert conformal_reorder_point(np.full(14, 2.0), 3.0, -1.0, 7, 0.95).reorder_point == 14.0
    # a product without spread (new or flat) and a level whose windows mostly end without demand
    # (quantile -inf): no safety stock, not NaN
    flat = conformal_reorder_point(np.full(14, 2.0), 0.0, float("-inf"), 7, 0.95)
    assert (flat.safety_stock, flat.reorder_point) == (0.0, 14.0)


def drifting_demand(days: int, seed: int) -> np.ndarray:
    """Poisson demand around 5 whose log rate is an AR(1) (0.9 a day): the days of a lead time share
    their rate, so their errors are correlated."""
    rng = np.random.default_rng(seed)
    log_rate, shocks = np.zeros(days), rng.normal(0.0, 0.15, days)
    for t in range(1, days):
        log_rate[t] = 0.9 * log_rate[t - 1] + shocks[t]
    return rng.poisson(5.0 * np.exp(log_rate)).astype(float)


def backtest_of(grid: pd.DataFrame, cutoffs, point: float, daily_sd: float) -> pd.DataFrame:
    """A rolling backtest's rows of a constant forecast (30 days from each cutoff), spread 1."""
    y = grid.set_index("date")["y"]
    rows = pd.DataFrame(
        [
            {"series_id": "a", "cutoff": c, "date": c + pd.Timedelta(days=k), "step": k}
            for c in cutoffs
            for k in range(1, 31)
        ]
    )
    return rows.assign(
        y=rows["date"].map(y), perfect=point, spread=1.0, **{"perfect-hi-95": point + Z_95 * daily_sd}
    )


def test_conformal_lead_time_quantiles_reach_the_service_level_where_independent_days_fall_short():
    days = pd.date_range("2020-01-01", periods=3_000)
    grid = pd.DataFrame({"series_id": "a", "date": days, "y": drifting_demand(len(days), 3)})
    cutoffs = days[28:-30:7]
    # the forecast knows each day's mean and sd, not that the days of a lead time move together
    mean, sd = grid["y"].mean(), grid["y"].std()
    forecasts = backtest_of(grid, cutoffs, mean, sd)
    scored = forecasts[forecasts["cutoff"] >= cutoffs[60]]  # every origin scored has 60 earlier ones
    gaussian = compare_policies(scored, "perfect", grid, lead_time=7, service_level=0.95, step=7)
    errors = scaled_errors(forecasts, "perfect")
    ours = compare_policies(scored, "perfect", grid, 7, 0.95, 7, errors)
    assert gaussian["service_level"] < 0.93
    # the level is the 95% quantile of the lead-time demand; a day is short only when that demand
    # exceeds it, and lost sales of the days before absorb part of the excess: at least 95%
    assert 0.95 <= ours["service_level"] <= 0.98
    assert ours["average_stock"] > gaussian["average_stock"]


def test_the_naive_safety_level_is_the_trailing_mean_times_lead_plus_k_sd_times_root_lead():
    demand = np.array([2.0, 4.0, 2.0, 4.0, 10.0])
    levels = naive_safety_levels(demand, lead_time=4, k=2.0, window=4)
    assert levels[0] == 8.0  # one day: sd 0
    assert levels[3] == pytest.approx(3.0 * 4 + 2.0 * 1.0 * 2.0)  # mean 3, sd 1 over days 1..4
    window = demand[1:]  # the last 4 days only
    assert levels[4] == pytest.approx(window.mean() * 4 + 2.0 * window.std() * 2.0)
    assert np.array_equal(naive_levels(demand, 4, 4), naive_safety_levels(demand, 4, 0.0, 4))


def test_the_matched_naive_serves_as_many_days_as_asked_with_the_smallest_safety_factor():
    rng = np.random.default_rng(4)
    days = pd.date_range("2020-01-01", periods=3_000)
    histories = [(pd.Series(rng.poisson(5.0, len(days)).astype(float), index=days), days[28:])]
    k, replays = matched_naive(histories, lead_time=7, service_level=0.95)
    assert replays[0].service_level >= 0.95
    assert naive_replay(*histories[0], 7, k - 0.01).service_level < 0.95
    # Poisson(5) over 7 days is near normal: near the textbook z(0.95), lost sales give some back
    assert 1.0 < k < norm.ppf(0.95) + 0.2
    never, _ = matched_naive(histories, 7, 1.0, k_max=3.0)
    assert never == 3.0  # out of reach: the largest factor tried
