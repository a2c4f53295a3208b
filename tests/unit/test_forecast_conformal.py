"""Conformal intervals from backtest errors: hand-made errors with known quantiles, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.forecast.conformal import (
    MIN_ERRORS,
    Calibration,
    calibrate_backtest,
    conformal_quantile,
    lead_time_quantile,
    monotone_in_step,
    recency_weights,
    scaled_errors,
    step_quantiles,
)

CUTOFF = pd.Timestamp("2024-03-01")


def errors_of(values, steps=(1, 2, 3), dated=CUTOFF, demand=True) -> pd.DataFrame:
    """The same errors at every step, dated `dated`, cumulative = error x step."""
    return pd.DataFrame(
        [
            {
                "series_id": "a",
                "cutoff": dated,
                "date": dated,
                "step": s,
                "error": v,
                "cumulative": v * s,
                "demand": demand,
            }
            for s in steps
            for v in values
        ]
    )


def rows_at(cutoff, point=10.0, spread=2.0, steps=(1, 2, 3)) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": "a",
            "cutoff": cutoff,
            "date": [cutoff + pd.Timedelta(days=s) for s in steps],
            "step": list(steps),
            "m": point,
            "spread": spread,
            "m-lo-80": 9.0,
            "m-hi-80": 11.0,
        }
    )


def test_bounds_are_the_pooled_error_quantiles_times_the_spread():
    values = np.linspace(-1.0, 3.0, 101)  # -1, -0.96, ..., 3
    got = calibrate_backtest(rows_at(CUTOFF), errors_of(values), "m", (80,), horizon=3)
    # steps 1-3 pooled, n = 303: the floor(304 x 0.1) = 30th and ceil(304 x 0.9) = 274th smallest,
    # the 10th and 92nd of the values
    assert got["m-lo-80"].tolist() == pytest.approx([10.0 - 0.64 * 2.0] * 3)
    assert got["m-hi-80"].tolist() == pytest.approx([10.0 + 2.64 * 2.0] * 3)
    # a lower bound below 0 is cut at 0 (sales)
    low = calibrate_backtest(rows_at(CUTOFF, point=0.5), errors_of(values), "m", (80,), horizon=3)
    assert low["m-lo-80"].tolist() == [0.0] * 3


def test_an_origin_uses_only_the_errors_observed_by_its_cutoff():
    later = CUTOFF + pd.Timedelta(days=7)
    seen = errors_of(np.linspace(-1.0, 1.0, 101))
    after = errors_of(np.linspace(-50.0, 50.0, 101), dated=CUTOFF + pd.Timedelta(days=1))
    rows = pd.concat([rows_at(CUTOFF), rows_at(later)], ignore_index=True)
    got = calibrate_backtest(rows, pd.concat([seen, after]), "m", (80,), horizon=3)
    first, second = got[got.cutoff == CUTOFF], got[got.cutoff == later]
    assert first["m-hi-80"].tolist() == pytest.approx([10.0 + 0.82 * 2.0] * 3)  # the later errors unseen
    pooled = np.tile(np.r_[np.linspace(-1, 1, 101), np.linspace(-50, 50, 101)], 3)  # steps 1-3 pooled
    hi = conformal_quantile(pooled, 0.9)[0]
    assert second["m-hi-80"].tolist() == pytest.approx([10.0 + hi * 2.0] * 3)


def test_too_few_errors_keep_the_models_own_interval():
    got = calibrate_backtest(rows_at(CUTOFF), errors_of(np.zeros(MIN_ERRORS // 5)), "m", (80,), 3)
    assert got["m-lo-80"].tolist() == [9.0] * 3 and got["m-hi-80"].tolist() == [11.0] * 3


def test_quantiles_never_narrow_with_the_step_and_far_steps_take_the_last_one():
    quantiles = np.array([[-1.0, 1.0], [-1.2, 0.8], [-0.9, 1.4], [np.nan, np.nan]])
    got = monotone_in_step(quantiles, np.array([False, True]))
    assert got[:, 0].tolist() == pytest.approx([-1.0, -1.05, -1.05, -1.05])  # non-increasing fit
    assert got[:, 1].tolist() == pytest.approx([0.9, 0.9, 1.4, 1.4])  # non-decreasing fit


def test_errors_are_scaled_by_the_spread_and_summed_for_the_lead_time():
    forecasts = pd.DataFrame(
        {
            "series_id": "a",
            "cutoff": CUTOFF,
            "date": [CUTOFF + pd.Timedelta(days=s) for s in (1, 2, 3)],
            "step": [1, 2, 3],
            "y": [4.0, 0.0, 6.0],
            "m": [2.0, 2.0, 2.0],
            "spread": 2.0,
        }
    )
    got = scaled_errors(forecasts, "m")
    assert got["error"].tolist() == [1.0, -1.0, 2.0]
    # over the forecast where it is above the spread (interval_scale "point"): here both are 2
    assert got["relative"].tolist() == [1.0, -1.0, 2.0]
    assert scaled_errors(forecasts.assign(m=4.0), "m")["relative"].tolist() == [0.0, -1.0, 0.5]
    assert got["cumulative"].tolist() == [1.0, 0.0, 2.0]
    assert got["demand"].tolist() == [True, False, True]
    flat = forecasts.assign(spread=0.0)
    assert scaled_errors(flat, "m").empty  # no spread, no scaled error


def test_the_lead_time_quantile_is_of_the_summed_errors_at_that_step_alone():
    errors = errors_of(np.linspace(0.0, 1.0, 101), steps=(1, 2, 3, 4))  # cumulative = value x step
    # the ceil(102 x 0.95) = 97th of the 101 values at step 3: 0.96
    assert lead_time_quantile(errors, 3, 0.95) == pytest.approx(0.96 * 3)
    calibration = Calibration.from_errors(errors, horizon=4)
    assert calibration.lead_time_quantile(3, 0.95) == pytest.approx(0.96 * 3)
    assert calibration.quantile(2, 0.5) == pytest.approx(0.5)
    lo, hi = calibration.bounds(np.array([10.0, 10.0]), spread=2.0, level=80)
    # step 1 pools steps 1-3 (n = 303: the 30th and 274th smallest), step 2 steps 1-4 (n = 404: the
    # 40th and 365th): the 10th and 92nd value either way
    assert lo.tolist() == pytest.approx([10.18, 10.18]) and hi.tolist() == pytest.approx([11.82, 11.82])
    assert np.isnan(step_quantiles(errors.head(5), "error", [0.5], 4)).all()
    assert np.isnan(lead_time_quantile(errors.head(5), 1, 0.95))


def test_a_day_without_demand_is_never_short_so_the_quantile_is_taken_among_days_with_demand():
    """Half the windows end on a day without demand: 5% of days short is 10% of those with demand."""
    values = np.linspace(0.0, 1.0, 101)
    errors = pd.concat([errors_of(values, steps=(7,)), errors_of(values, steps=(7,), demand=False)])
    # the ceil(203 x 0.95) = 193rd of 202 windows, the 101 without demand first: the 92nd value
    assert lead_time_quantile(errors, 7, 0.95) == pytest.approx(0.91 * 7)
    assert Calibration.from_errors(errors, 7).lead_time_quantile(7, 0.95) == pytest.approx(0.91 * 7)
    # demand on fewer than 5% of the days: no level is short more often, no safety stock needed
    rare = pd.concat([errors_of(values[:3], steps=(7,)), errors_of(values, steps=(7,), demand=False)])
    assert lead_time_quantile(rare, 7, 0.95) == float("-inf")


def test_conformal_quantiles_are_the_order_statistics_of_split_conformal():
    values = np.arange(99.0, 0.0, -1.0)  # 1..99, unsorted
    got = conformal_quantile(values, [0.025, 0.1, 0.5, 0.9, 0.975, 0.999])
    # floor(100 p) below the median, ceil(100 p) from it, capped at n
    assert got.tolist() == [2.0, 10.0, 50.0, 90.0, 98.0, 99.0]
    assert conformal_quantile([np.inf * -1, 1.0, 2.0], 0.2).tolist() == [float("-inf")]


@pytest.mark.parametrize("n", [39, 99])
def test_conformal_intervals_cover_a_new_exchangeable_error_as_often_as_asked(n):
    """Known answer: with n = 39 or 99 calibration errors and a 40th or 100th from the same
    distribution, the [floor((n+1) 0.1)-th, ceil((n+1) 0.9)-th] interval covers it with probability
    exactly 0.8 (and 0.95 at 95%); the interpolated sample quantiles cover it less often."""
    rng = np.random.default_rng(n)
    trials = 20_000
    draws = rng.standard_t(df=3, size=(trials, n + 1))  # heavy tails, as the shop's errors have
    for level, (low, high) in ((80, (0.1, 0.9)), (95, (0.025, 0.975))):
        ours = np.array([conformal_quantile(d[:n], [low, high]) for d in draws])
        plain = np.quantile(draws[:, :n], [low, high], axis=1).T
        new = draws[:, n]
        covered = ((new >= ours[:, 0]) & (new <= ours[:, 1])).mean()
        interpolated = ((new >= plain[:, 0]) & (new <= plain[:, 1])).mean()
        exact = (np.ceil((n + 1) * high) - np.floor((n + 1) * low)) / (n + 1)
        assert abs(covered - exact) < 0.01 and exact >= level / 100
        assert interpolated < covered


def test_weighted_quantiles_with_equal_weights_are_the_order_statistics():
    rng = np.random.default_rng(5)
    values = rng.standard_t(df=3, size=77)
    probabilities = [0.025, 0.1, 0.5, 0.9, 0.975, 0.999]
    assert conformal_quantile(values, probabilities, np.ones(77)).tolist() == (
        conformal_quantile(values, probabilities).tolist()
    )


def test_weighted_quantiles_weigh_each_error_and_the_new_one():
    """Known answer: errors 1, 2, 3, 4 weighing 1, 1, 1, 4 and the new error 1 (total 8). Upper
    quantiles: the errors at or below 3 weigh 3/8, at or below 4 weigh 7/8, so from 0.5 to 7/8 it is
    4, and beyond (the new error's own weight) the largest, 4. Lower: the mirror image, the errors at
    or above 4 weigh 4/8, at or above 3 5/8, at or above 2 6/8, at or above 1 7/8."""
    values, weights = np.array([4.0, 1.0, 3.0, 2.0]), np.array([4.0, 1.0, 1.0, 1.0])
    assert conformal_quantile(values, [0.5, 0.8, 0.9], weights).tolist() == [4.0, 4.0, 4.0]
    # p = 0.45: 1 - p = 0.55 of the weight from the top reached at 3; 0.375: 0.625 at 3; 0.25: 0.75
    # at 2; 0.1: 0.9 never (the smallest, 1)
    assert conformal_quantile(values, [0.45, 0.375, 0.25, 0.1], weights).tolist() == [3.0, 3.0, 2.0, 1.0]


def test_recent_errors_weigh_more_with_a_half_life():
    """Errors of an origin 28 days back weigh a quarter of those of an origin at the cutoff with a
    half-life of 14 days: the interval moves towards the recent errors, without weights it does not."""
    old = errors_of(np.linspace(-1.0, 1.0, 101), dated=CUTOFF - pd.Timedelta(days=28))
    recent = errors_of(np.linspace(1.0, 3.0, 101), dated=CUTOFF)
    errors = pd.concat([old, recent], ignore_index=True)
    weights = recency_weights(errors["cutoff"], CUTOFF, 14.0)
    assert set(np.round(weights, 6)) == {0.25, 1.0}
    assert recency_weights(errors["cutoff"], CUTOFF, None) is None
    plain = calibrate_backtest(rows_at(CUTOFF), errors, "m", (80,), horizon=3)
    weighted = calibrate_backtest(rows_at(CUTOFF), errors, "m", (80,), horizon=3, half_life=14.0)
    pooled = np.tile(np.r_[np.linspace(-1, 1, 101), np.linspace(1, 3, 101)], 3)
    assert plain["m-hi-80"].tolist() == pytest.approx([10.0 + conformal_quantile(pooled, 0.9)[0] * 2.0] * 3)
    w = np.tile(np.r_[np.full(101, 0.25), np.ones(101)], 3)
    lo, hi = conformal_quantile(pooled, [0.1, 0.9], w)
    assert weighted["m-lo-80"].tolist() == pytest.approx([10.0 + lo * 2.0] * 3)
    assert weighted["m-hi-80"].tolist() == pytest.approx([10.0 + hi * 2.0] * 3)
    assert lo > conformal_quantile(pooled, 0.1)[0]  # the old, lower errors count less
    # the registered calibration weighs from the last error's date the same way
    calibration = Calibration.from_errors(errors, horizon=3, half_life=14.0)
    assert calibration.quantile(2, 0.9) == pytest.approx(hi, abs=0.02)


def test_the_shops_forecasts_weigh_by_recency_and_the_library_by_default_does_not(tmp_path):
    """ecomm train forecast (ForecastConfig, from the settings too) calibrates the product and
    category levels with HALF_LIFE_DAYS and CATEGORY_HALF_LIFE_DAYS (the category's errors over the
    forecast, the others' over the spread), the one total series with equal weights; a backtest of
    any other frame with equal weights and the spread unless asked."""
    from ecomm.ml.forecast.backtest import BacktestSettings
    from ecomm.ml.forecast.conformal import CATEGORY_HALF_LIFE_DAYS, HALF_LIFE_DAYS
    from ecomm.ml.forecast.shop import LEVELS
    from ecomm.ml.forecast.train import ForecastConfig
    from ecomm.settings import Settings

    assert BacktestSettings().half_life is None and BacktestSettings().for_level("product").half_life is None
    shop = ForecastConfig.from_settings(Settings(_env_file=None, home=tmp_path))
    for config in (shop, ForecastConfig()):
        half_lives = {level: config.backtest.for_level(level).half_life for level in LEVELS}
        assert half_lives == {"product": HALF_LIFE_DAYS, "category": CATEGORY_HALF_LIFE_DAYS, "total": None}
        scales = {level: config.backtest.for_level(level).interval_scale for level in LEVELS}
        assert scales == {"product": "spread", "category": "point", "total": "spread"}
    assert (HALF_LIFE_DAYS, CATEGORY_HALF_LIFE_DAYS) == (14.0, 28.0)
    assert BacktestSettings().for_level("category").interval_scale == "spread"


def relative_errors_of(values, steps=(1, 2, 3)) -> pd.DataFrame:
    return errors_of(values, steps).assign(relative=lambda e: e["error"], error=np.nan)


def test_the_point_scale_multiplies_the_relative_error_quantiles_by_the_forecast():
    """scale "point": errors over max(point, spread), so the bounds grow with the forecast."""
    values = np.linspace(-1.0, 3.0, 101)  # the 10th and 92nd values: -0.64 and 2.64 (first test)
    got = calibrate_backtest(rows_at(CUTOFF), relative_errors_of(values), "m", (80,), 3, scale="point")
    assert got["m-lo-80"].tolist() == pytest.approx([10.0 - 0.64 * 10.0] * 3)
    assert got["m-hi-80"].tolist() == pytest.approx([10.0 + 2.64 * 10.0] * 3)
    # a forecast below its spread: the spread
    small = calibrate_backtest(
        rows_at(CUTOFF, point=1.0), relative_errors_of(values), "m", (80,), 3, scale="point"
    )
    assert small["m-hi-80"].tolist() == pytest.approx([1.0 + 2.64 * 2.0] * 3)
    calibration = Calibration.from_errors(relative_errors_of(values), horizon=3, scale="point")
    restored = Calibration.from_dict(calibration.to_dict(spread_days=28))
    lo, hi = restored.bounds(np.array([10.0, 1.0]), spread=2.0, level=80)
    assert restored.scale == "point"
    assert lo.tolist() == pytest.approx([10.0 - 0.64 * 10.0, 0.0])
    assert hi.tolist() == pytest.approx([10.0 + 2.64 * 10.0, 1.0 + 2.64 * 2.0])


def test_an_unknown_interval_scale_is_refused_by_name():
    with pytest.raises(ValueError, match="interval scale: 'level'"):
        Calibration.from_errors(relative_errors_of([0.0] * 40), horizon=3, scale="level")
    from ecomm.ml.forecast.backtest import BacktestSettings

    with pytest.raises(ValueError, match="interval scale: 'units'"):
        BacktestSettings(interval_scales=(("category", "units"),))


def test_the_served_bounds_follow_the_calibrations_scale():
    """ecomm.ml.serving.conformal_bounds (the registered pyfunc's) agrees with Calibration.bounds,
    over the forecast for a "point" calibration and over the spread for one stored without a scale."""
    from ecomm.ml.serving import conformal_bounds

    values = np.linspace(-1.0, 3.0, 101)
    stored = Calibration.from_errors(relative_errors_of(values), horizon=3, scale="point").to_dict(28)
    out = pd.DataFrame(
        {
            "series_id": "a",
            "date": pd.date_range(CUTOFF, periods=2),
            "point": [10.0, 1.0],
            **{f"{side}_{level}": np.nan for side in ("lo", "hi") for level in (80, 95)},
        }
    )
    spreads = pd.Series({"a": 2.0})
    got = conformal_bounds(out, spreads, stored)
    lo, hi = Calibration.from_dict(stored).bounds(np.array([10.0, 1.0]), spread=2.0, level=80)
    assert got["lo_80"].tolist() == pytest.approx(lo.tolist())
    assert got["hi_80"].tolist() == pytest.approx(hi.tolist())
    older = {k: v for k, v in stored.items() if k != "scale"}  # stored before the scale: the spread
    assert conformal_bounds(out, spreads, older)["hi_80"].tolist() == pytest.approx(
        [10.0 + 2.64 * 2.0, 1.0 + 2.64 * 2.0]
    )
