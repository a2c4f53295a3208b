"""The forecasting library on synthetic frames whose right answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.forecast.backtest import BacktestSettings, backtest, rolling_forecasts
from ecomm.ml.forecast.frame import FrameError, check_frame, daily_grid
from ecomm.ml.forecast.future import forecast_ahead

DAYS = pd.date_range("2024-01-01", periods=140)
WEEK = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 14.0, 12.0])


def frame_of(series: dict[str, np.ndarray], dates=DAYS) -> pd.DataFrame:
    return pd.concat(pd.DataFrame({"series_id": k, "date": dates, "y": v}) for k, v in series.items())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="y"), "y: missing column"),
        (lambda f: f.assign(y=f.y.astype(str)), "y: must be numeric"),
        (lambda f: pd.concat([f, f.head(1)]), "series_id, date: duplicated rows"),
        (lambda f: f.assign(date=["2024-01-01", "x", "y"]), "date: 2 values are not dates"),
        (lambda f: f.assign(price="cheap"), "price: exogenous columns must be numeric"),
    ],
)
def test_a_bad_frame_is_refused_naming_the_column(change, message):
    good = pd.DataFrame({"series_id": ["a", "a", "b"], "date": DAYS[:3], "y": [1.0, 2.0, 3.0]})
    assert check_frame(good) == []
    with pytest.raises(FrameError, match=message):
        check_frame(change(good))


def test_missing_days_are_no_sales_and_a_regressor_lasts_until_it_changes():
    frame = pd.DataFrame(
        {
            "series_id": ["a", "a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-03"]),
            "y": [2.0, 3.0, 1.0],
            "price": [9.5, 8.0, 4.0],
        }
    )
    grid = daily_grid(frame)
    assert grid.series_id.tolist() == ["a"] * 4 + ["b"] * 2  # each from its first day to the last
    assert grid.y.tolist() == [2.0, 0.0, 0.0, 3.0, 1.0, 0.0]
    assert grid.price.tolist() == [9.5, 9.5, 9.5, 8.0, 4.0, 4.0]


def test_seasonal_naive_errors_on_a_trending_week_are_known_exactly():
    """y = weekly pattern + c t: a seasonal naive forecast k days ahead is c * 7 * ceil(k / 7) short,
    and the in-sample seasonal-naive error is 7c, so MASE at horizon H = mean ceil(k / 7), k <= H,
    and RMSSE = sqrt(mean ceil(k / 7)^2)."""
    c = 0.25
    t = np.arange(len(DAYS))
    frame = frame_of({"a": WEEK[DAYS.dayofweek] + c * t, "b": 2 * WEEK[DAYS.dayofweek] + c * t})
    forecasts, table = backtest(frame, ("seasonal_naive",), BacktestSettings(windows=2, step=7))
    assert sorted(forecasts.cutoff.unique()) == [DAYS[-38], DAYS[-31]]
    assert forecasts.groupby("cutoff").size().tolist() == [60, 60]  # 2 series x 30 days
    mase = table.set_index("horizon")["mase"]
    assert mase[1] == pytest.approx(1.0)
    assert mase[7] == pytest.approx(1.0)
    assert mase[14] == pytest.approx(1.5)
    assert mase[30] == pytest.approx((7 * 1 + 7 * 2 + 7 * 3 + 7 * 4 + 2 * 5) / 30)
    rmsse = table.set_index("horizon")["rmsse"]
    assert rmsse[14] == pytest.approx(np.sqrt((7 * 1 + 7 * 4) / 14))
    assert rmsse[30] == pytest.approx(np.sqrt((7 * 1 + 7 * 4 + 7 * 9 + 7 * 16 + 2 * 25) / 30))
    shortfall = -c * 7 * np.ceil(forecasts.step / 7)
    assert np.allclose(forecasts.seasonal_naive - forecasts.y, shortfall)
    assert (table.bias < 0).all()


def test_seasonal_naive_is_exact_on_a_pure_weekly_pattern():
    frame = frame_of({"a": WEEK[DAYS.dayofweek], "b": 3 * WEEK[DAYS.dayofweek]})
    forecasts, table = backtest(frame, ("seasonal_naive",), BacktestSettings(windows=2))
    assert (forecasts.seasonal_naive == forecasts.y).all()
    assert (table.smape == 0).all() and (table.bias == 0).all()
    assert table.mase.isna().all()  # no scaled error for a series with no seasonal change


def test_intermittent_models_forecast_the_mean_rate_of_a_regular_intermittent_series():
    """4 units every 4th day: demand size 4, interval 4, so one unit a day on average."""
    y = np.where(np.arange(len(DAYS)) % 4 == 0, 4.0, 0.0)
    forecasts, _ = backtest(frame_of({"a": y}), ("croston", "adida", "imapa"), BacktestSettings(windows=1))
    for model in ("croston", "adida"):
        # the smoothing weights are fitted numerically: exact to the optimiser's tolerance
        assert forecasts[model].to_numpy() == pytest.approx(np.ones(30), abs=1e-3), model
    # IMAPA averages over aggregation levels 1..4 days; the 3-day blocks that end at the cutoff hold
    # 4 or 8 units depending on where the cycle falls, so it is a few percent off
    assert forecasts["imapa"].to_numpy() == pytest.approx(np.ones(30), rel=0.05)


@pytest.fixture(scope="module")
def gaussian():
    """40 series of independent N(50, 5^2) days: what a level model's intervals should cover."""
    rng = np.random.default_rng(1)
    series = {f"s{i}": 50.0 + 5.0 * rng.normal(size=len(DAYS)) for i in range(40)}
    return frame_of(series), backtest(frame_of(series), ("auto_ets", "croston"), BacktestSettings(windows=3))


def test_interval_coverage_on_a_gaussian_series_is_near_nominal(gaussian):
    """Conformal intervals (each origin's from the errors observed by its cutoff, 8 calibration
    origins before the first)."""
    _, (_, table) = gaussian
    ets = table[table.model == "auto_ets"].set_index("horizon")
    # 40 series x 3 origins x 30 days = 3,600 values (correlated within an origin)
    for horizon in (14, 30):
        assert 0.76 <= ets.loc[horizon, "coverage_80"] <= 0.84, horizon
        assert 0.92 <= ets.loc[horizon, "coverage_95"] <= 0.98, horizon


def test_intervals_widen_with_the_horizon(gaussian):
    _, (forecasts, _) = gaussian
    for model in ("auto_ets", "croston"):  # Gaussian and conformal intervals
        width = (forecasts[f"{model}-hi-95"] - forecasts[f"{model}-lo-95"]).groupby(forecasts.step).mean()
        assert width[30] > width[1], model
        if model == "auto_ets":  # week by week (conformal widths, from 3 windows, are noisier)
            assert width[24:].mean() > width[8:15].mean() > width[:7].mean()


def test_a_backtest_never_looks_ahead(gaussian):
    """Moving a value after the first cutoff changes no forecast made at that cutoff, nor its
    conformal bounds (the moved day is within the calibration origins' horizons: their error on it
    had not been observed by the first cutoff)."""
    frame, (forecasts, _) = gaussian
    first = forecasts.cutoff.min()
    moved = frame.copy()
    later = moved.date == first + pd.Timedelta(days=3)
    moved.loc[later, "y"] += 1000.0
    again = rolling_forecasts(moved, ("auto_ets", "croston"), BacktestSettings(windows=3))
    at_first = again.cutoff == first
    columns = [c for c in forecasts.columns if c not in ("y", "scale")]
    pd.testing.assert_frame_equal(
        again.loc[at_first, columns].reset_index(drop=True),
        forecasts.loc[forecasts.cutoff == first, columns].reset_index(drop=True),
    )
    assert not again.loc[~at_first, "auto_ets"].equals(forecasts.loc[forecasts.cutoff != first, "auto_ets"])


def test_the_global_lightgbm_model_learns_a_shared_weekly_pattern():
    # conformal intervals backtest inside each training window: 3 x 30 days more history
    days = pd.date_range("2024-01-01", periods=240)
    rng = np.random.default_rng(2)
    series = {f"s{i}": (1 + i / 10) * WEEK[days.dayofweek] + rng.normal(0, 1, len(days)) for i in range(8)}
    frame = frame_of(series, days)
    _, table = backtest(frame, ("seasonal_naive", "lightgbm"), BacktestSettings(windows=2))
    lgbm = table[table.model == "lightgbm"].set_index("horizon")
    assert (lgbm.mase_vs_naive < 1.0).all()
    assert lgbm[["coverage_80", "coverage_95"]].notna().all().all()


def test_forecasts_ahead_start_the_day_after_the_history_with_widening_intervals(gaussian):
    frame, _ = gaussian
    two = frame[frame.series_id.isin(["s0", "s1"])]
    ahead = forecast_ahead(two, ("seasonal_naive", "auto_ets", "auto_theta", "croston"), horizon=14)
    assert (
        ahead.groupby("series_id").date.agg(["min", "max", "count"]).values.tolist()
        == [[DAYS[-1] + pd.Timedelta(days=1), DAYS[-1] + pd.Timedelta(days=14), 14]] * 2
    )
    naive = ahead[ahead.series_id == "s0"].seasonal_naive.to_numpy()
    history = two[two.series_id == "s0"].y.to_numpy()
    assert np.allclose(naive, np.r_[history[-7:], history[-7:]])  # last week, twice
    for model in ("seasonal_naive", "auto_ets", "auto_theta"):
        width = (ahead[f"{model}-hi-80"] - ahead[f"{model}-lo-80"]).groupby(ahead.date).mean()
        # AutoTheta's own intervals need not widen (the backtests' conformal ones do: isotonic)
        assert model == "auto_theta" or width.iloc[-1] > width.iloc[0], model
        assert (ahead[f"{model}-lo-95"] <= ahead[f"{model}-lo-80"]).all()
        assert (ahead[f"{model}-lo-80"] <= ahead[model]).all() and (
            ahead[model] <= ahead[f"{model}-hi-80"]
        ).all()


def test_a_series_too_short_for_conformal_intervals_gets_the_seasonal_naive_instead():
    """A recent launch: 20 days, where Croston's conformal intervals need at least 2 x 14 + 1 and
    LightGBM's 3 x 14 + 1."""
    rng = np.random.default_rng(4)
    frame = pd.concat(
        [
            frame_of({"old": rng.poisson(2.0, len(DAYS)).astype(float)}),
            frame_of({"new": rng.poisson(2.0, 20).astype(float)}, DAYS[-20:]),
        ]
    )
    ahead = forecast_ahead(frame, ("seasonal_naive", "croston", "lightgbm"), horizon=14)
    new = ahead[ahead.series_id == "new"]
    for model in ("croston", "lightgbm"):
        assert np.allclose(new[model], new.seasonal_naive), model
        assert np.allclose(new[f"{model}-hi-95"], new["seasonal_naive-hi-95"]), model
    old = ahead[ahead.series_id == "old"]
    assert np.ptp(old.croston) == pytest.approx(0.0) and not np.allclose(old.croston, old.seasonal_naive)


def test_auto_ets_searches_the_configured_models_in_backtests_and_in_the_registered_pyfunc():
    """ModelSettings.ets_model (default: no trend) reaches statsforecast's AutoETS, and the registered
    pyfunc holds the backtests' search space, not a default one."""
    from ecomm.ml.forecast.models import ModelSettings, statistical_models
    from ecomm.ml.forecast.train import ForecastConfig, build_pyfunc

    (default,) = statistical_models(("auto_ets",), ModelSettings())
    assert default.model == "ZNZ" and default.season_length == 7
    config = ForecastConfig(backtest=BacktestSettings(models=ModelSettings(ets_model="AAA")))
    assert build_pyfunc({"product": "auto_ets"}, config).models["product"].model == "AAA"


def test_the_no_trend_search_still_follows_a_level_shift_and_the_weekly_pattern():
    """Known answer: a weekly pattern around a level that steps from 20 to 40 halfway; 30 days
    ahead the forecast is the new level's week (within the noise), not an extrapolated trend."""
    rng = np.random.default_rng(3)
    level = np.where(np.arange(len(DAYS)) < 70, 20.0, 40.0)
    pattern = np.tile(WEEK - WEEK.mean(), 30)[: len(DAYS)]
    frame = frame_of({"a": level + pattern + rng.normal(0.0, 1.0, len(DAYS))})
    ahead = forecast_ahead(frame, ("auto_ets",), horizon=30)
    expected = 40.0 + np.tile(WEEK - WEEK.mean(), 30)[len(DAYS) : len(DAYS) + 30]
    assert np.abs(ahead["auto_ets"].to_numpy() - expected).max() < 2.0
