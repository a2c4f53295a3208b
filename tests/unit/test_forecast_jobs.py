"""statsforecast's processes (ECOMM_FORECAST_JOBS): each series is fitted on its own, so two
processes give exactly the forecasts of one, in the backtest, ahead and through the pyfunc."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomm.ml.forecast.backtest import BacktestSettings, rolling_forecasts
from ecomm.ml.forecast.future import forecast_ahead
from ecomm.ml.forecast.models import ModelSettings
from ecomm.ml.forecast.train import ForecastConfig, build_pyfunc
from ecomm.ml.serving import SERIES_ID, SERIES_LEVEL
from ecomm.settings import Settings

DAYS = pd.date_range("2024-01-01", periods=120)
WEEK = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 14.0, 12.0])


def weekly_poisson(series: int) -> pd.DataFrame:
    """`series` sales series with a weekly pattern, a level of their own and Poisson noise; a few
    start late (recent launches) so the fallback and the short-history paths are in the set too."""
    rng = np.random.default_rng(3)
    parts = []
    for i in range(series):
        days = DAYS[(i % 5) * 20 :]
        y = rng.poisson((0.2 + i / 4) * WEEK[days.dayofweek]).astype(float)
        parts.append(pd.DataFrame({"series_id": f"p{i:02d}", "date": days, "y": y}))
    return pd.concat(parts, ignore_index=True)


def test_two_processes_forecast_exactly_what_one_does():
    frame = weekly_poisson(12)
    models = ("seasonal_naive", "auto_ets", "croston")
    one = rolling_forecasts(frame, models, BacktestSettings(windows=2))
    two = rolling_forecasts(frame, models, BacktestSettings(windows=2, models=ModelSettings(n_jobs=2)))
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(
        forecast_ahead(frame, models, horizon=14),
        forecast_ahead(frame, models, horizon=14, settings=ModelSettings(n_jobs=2)),
    )
    pyfunc = build_pyfunc({"product": "auto_ets"}, ForecastConfig())
    history = frame.assign(**{SERIES_LEVEL: "product"}).rename(columns={"series_id": SERIES_ID})
    pd.testing.assert_frame_equal(
        pyfunc.predict(None, history, params={"horizon": 30}),
        pyfunc.predict(None, history, params={"horizon": 30, "n_jobs": 2}),
    )


def test_training_uses_the_configured_processes_one_by_default(monkeypatch):
    monkeypatch.delenv("ECOMM_FORECAST_JOBS", raising=False)
    assert Settings(_env_file=None).forecast_jobs == 1  # a fork inside an Airflow task hung
    monkeypatch.setenv("ECOMM_FORECAST_JOBS", "3")
    settings = Settings(_env_file=None)
    assert ForecastConfig.from_settings(settings).backtest.models.n_jobs == 3
