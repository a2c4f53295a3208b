"""Forecasts of the days after a long frame's last date, with prediction intervals, per model.

The same models as the backtests (`models`), fitted on the whole history: what a serving path or a
stock policy reads. Forecasts and interval bounds below 0 are cut to 0 (sales).
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ecomm.ml.forecast.backtest import LEVELS
from ecomm.ml.forecast.frame import daily_grid, from_nixtla, to_nixtla
from ecomm.ml.forecast.models import ModelSettings, check_models, lightgbm_forecaster, statistical_engine


def forecast_ahead(
    frame: pd.DataFrame,
    names: tuple[str, ...] = ("auto_ets",),
    horizon: int = 30,
    levels: tuple[int, ...] = LEVELS,
    settings: ModelSettings | None = None,
) -> pd.DataFrame:
    """One row per series and day 1..horizon after the frame's last date: per model its forecast and
    `<model>-lo-<level>` / `<model>-hi-<level>`."""
    check_models(names)
    settings = replace(settings or ModelSettings(), horizon=horizon)
    grid = daily_grid(frame)
    parts = []
    sf = statistical_engine(names, settings)
    if sf is not None:
        parts.append(sf.forecast(df=to_nixtla(grid)[["unique_id", "ds", "y"]], h=horizon, level=list(levels)))
    if "lightgbm" in names:
        parts.append(_lightgbm_ahead(grid, horizon, levels, settings))
    out = from_nixtla(parts[0])
    for part in parts[1:]:
        out = out.merge(from_nixtla(part), on=["series_id", "date"], how="inner")
    columns = [c for c in out.columns if c not in ("series_id", "date")]
    out[columns] = out[columns].clip(lower=0.0)
    return out.sort_values(["series_id", "date"]).reset_index(drop=True)


def _lightgbm_ahead(grid: pd.DataFrame, horizon: int, levels: tuple[int, ...], settings: ModelSettings):
    """LightGBM over the series with enough history for its conformal intervals (conformal_windows x
    horizon + 1 days: mlforecast uses the same windows for every series); the others (recent
    launches) get the seasonal naive's forecast and intervals under LightGBM's name."""
    from mlforecast.utils import PredictionIntervals

    exogenous = [c for c in grid.columns if c not in ("series_id", "date", "y")]
    if exogenous:
        raise ValueError(f"{', '.join(exogenous)}: future regressor values are needed to forecast ahead")
    lengths = grid.groupby("series_id")["date"].transform("size")
    long_enough = lengths > settings.conformal_windows * horizon
    parts = []
    if long_enough.any():
        mlf, _ = lightgbm_forecaster(settings, [])
        mlf.fit(
            to_nixtla(grid[long_enough]),
            static_features=[],
            prediction_intervals=PredictionIntervals(n_windows=settings.conformal_windows, h=horizon),
        )
        parts.append(mlf.predict(h=horizon, level=list(levels)))
    if not long_enough.all():
        naive = statistical_engine(("seasonal_naive",), settings)
        short = naive.forecast(
            df=to_nixtla(grid[~long_enough])[["unique_id", "ds", "y"]], h=horizon, level=list(levels)
        )
        parts.append(short.rename(columns=lambda c: c.replace("seasonal_naive", "lightgbm")))
    return pd.concat(parts, ignore_index=True)
