"""Rolling-origin backtests: refit at each origin, forecast the next `max(horizons)` days, score.

Origins (cutoffs) are the last `windows` multiples of `step` days before the end that leave a full
horizon after them; a model fitted at a cutoff sees the series up to and including it, nothing after
(statsforecast's and mlforecast's cross-validation, which refit per window). The error at horizon H
is over the first H days after each cutoff (a forecast for the next H days), every series and
origin pooled; each series-and-origin's MASE is scaled by the seasonal-naive error of its own history
up to the cutoff.

Intervals of the statistical models: conformal (ecomm.ml.forecast.conformal), from the scaled errors
of the earlier origins' forecasts that had been observed by each cutoff; so the first windows have
errors to go on, `calibration_windows` more origins, `step` days apart before the first, are
forecast for their errors alone (series with too little history before them are left out of those).

Choosing a model (validation_table): the calibration origins are also the validation origins. The
reported origins' errors are not used to choose among the models (a choice on them would make the
chosen model's reported error optimistic): at horizon H, the origins before the first reported one
whose H days end by it are scored, so no actual they score is one the reported origins score.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ecomm.ml.forecast.conformal import calibrate_backtest, interval_scale, scaled_errors
from ecomm.ml.forecast.frame import daily_grid, from_nixtla, to_nixtla
from ecomm.ml.forecast.models import (
    BASELINE,
    DEFAULT_STATISTICAL,
    STATISTICAL,
    ModelSettings,
    check_models,
    lightgbm_forecaster,
    statistical_engine,
)
from ecomm.ml.metrics import forecast_metrics

HORIZONS = (1, 7, 14, 30)
LEVELS = (80, 95)
KEYS = ["series_id", "date", "cutoff"]
SPREAD_DAYS = 28  # the conformal scale's window: four weeks


@dataclass(frozen=True)
class BacktestSettings:
    horizons: tuple[int, ...] = HORIZONS
    windows: int = 4  # forecast origins
    step: int = 7  # days between origins
    levels: tuple[int, ...] = LEVELS
    nonnegative: bool = True  # sales: forecasts and interval bounds below 0 are cut to 0
    calibration_windows: int = 8  # earlier origins forecast for their errors (0: the models' own intervals)
    # conformal errors' weight halves every this many days their origin lies back (None: equal weights)
    half_life: float | None = None
    # (level, half-life): overrides half_life for the shop's levels (ForecastConfig: conformal.HALF_LIVES)
    half_lives: tuple[tuple[str, float | None], ...] = ()
    # what the conformal errors are divided by (conformal.interval_scale: "spread" or "point")
    interval_scale: str = "spread"
    # (level, scale): overrides interval_scale for the shop's levels (ForecastConfig: conformal.INTERVAL_SCALES)
    interval_scales: tuple[tuple[str, str], ...] = ()
    models: ModelSettings = field(default_factory=ModelSettings)

    def __post_init__(self) -> None:
        for scale in (self.interval_scale, *dict(self.interval_scales).values()):
            interval_scale(0.0, 0.0, scale)  # a ValueError naming an unknown scale

    @property
    def horizon(self) -> int:
        return max(self.horizons)

    def for_level(self, level: str) -> BacktestSettings:
        """These settings with the level's AutoETS search space (ModelSettings.for_level),
        half-life (half_lives, else half_life) and interval scale (interval_scales, else
        interval_scale)."""
        half_life = dict(self.half_lives).get(level, self.half_life)
        scale = dict(self.interval_scales).get(level, self.interval_scale)
        models = self.models.for_level(level)
        return replace(self, models=models, half_life=half_life, interval_scale=scale)


def rolling_forecasts(
    frame: pd.DataFrame, names: tuple[str, ...], settings: BacktestSettings
) -> pd.DataFrame:
    """One row per series x cutoff x target date: y, step (days ahead), scale, and per model its
    forecast and `<model>-lo-<level>` / `<model>-hi-<level>` columns."""
    return rolling_backtest(frame, names, settings)[0]


def rolling_backtest(
    frame: pd.DataFrame, names: tuple[str, ...], settings: BacktestSettings
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(rolling_forecasts' rows with conformal intervals for the statistical models, the scaled errors
    of every origin, calibration origins included: conformal.scaled_errors plus a model column, and
    the statistical models' validation_table on the calibration origins: what a model is chosen on)."""
    check_models(names)
    grid = daily_grid(frame)
    out = _forecasts_at_origins(grid, names, settings, settings.windows)
    statistical = tuple(n for n in names if n in STATISTICAL)
    if not settings.calibration_windows or not statistical:
        return out, pd.DataFrame(), validation_table(pd.DataFrame(), None, settings)
    earlier = _calibration_forecasts(grid, statistical, settings, out["cutoff"].min())
    validation = validation_table(earlier, out["cutoff"].min(), settings)
    both = pd.concat([earlier, out], ignore_index=True)
    errors = pd.concat([scaled_errors(both, m).assign(model=m) for m in statistical], ignore_index=True)
    for model in statistical:
        own = errors[errors["model"] == model]
        out = calibrate_backtest(
            out, own, model, settings.levels, settings.horizon, settings.half_life, settings.interval_scale
        )
    return out, errors, validation


def validation_table(earlier: pd.DataFrame, first_cutoff, settings: BacktestSettings) -> pd.DataFrame:
    """error_table of the forecasts at origins before `first_cutoff` (the first reported origin),
    per horizon H of only the origins whose H days end by it (the module docstring: a model chosen on
    it never saw a reported origin's actuals), with `origins`, how many origins each row pools. No
    such origin (too short a history, no calibration origins): no row at that horizon."""
    parts = []
    for horizon in settings.horizons:
        if earlier.empty:
            break
        scored = earlier[earlier["cutoff"] + pd.Timedelta(days=horizon) <= first_cutoff]
        if len(scored):
            table = error_table(scored, (horizon,), settings.levels)
            parts.append(table.assign(origins=scored["cutoff"].nunique()))
    if not parts:
        return pd.DataFrame(columns=["model", "horizon", "mase", "origins"])
    return pd.concat(parts, ignore_index=True)


def _forecasts_at_origins(
    grid: pd.DataFrame, names: tuple[str, ...], settings: BacktestSettings, windows: int
) -> pd.DataFrame:
    """The models' forecasts at the last `windows` origins of the grid (the module docstring)."""
    model_settings = replace(settings.models, horizon=settings.horizon)
    parts = []
    sf = statistical_engine(names, model_settings)
    if sf is not None:
        cv = sf.cross_validation(
            df=to_nixtla(grid)[["unique_id", "ds", "y"]],
            h=settings.horizon,
            n_windows=windows,
            step_size=settings.step,
            level=list(settings.levels),
        )
        parts.append(from_nixtla(cv))
    if "lightgbm" in names:
        parts.append(_lightgbm_forecasts(grid, model_settings, settings))
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part.drop(columns="y"), on=KEYS, how="inner")
    out = out.reset_index(drop=True)
    if settings.nonnegative:
        columns = [c for c in out.columns if c not in (*KEYS, "y")]
        out[columns] = out[columns].clip(lower=0.0)
    out["step"] = (out["date"] - out["cutoff"]).dt.days
    scales = seasonal_scales(grid, model_settings.season_length)
    return out.merge(
        scales, left_on=["series_id", "cutoff"], right_on=["series_id", "date"], suffixes=("", "_s")
    ).drop(columns="date_s")


def _calibration_forecasts(
    grid: pd.DataFrame, names: tuple[str, ...], settings: BacktestSettings, first_cutoff
) -> pd.DataFrame:
    """Forecasts at up to `calibration_windows` origins `step` days apart before the first cutoff, of
    the series with two seasons of history before the earliest of them (as many origins as the longest
    series allows; none: an empty frame). The grid ends `horizon` days after the last of them, so no
    model sees past its origin (cross-validation refits at each)."""
    history = 2 * settings.models.season_length
    firsts = grid.groupby("series_id")["date"].min()
    room = ((first_cutoff - firsts).dt.days - history) // settings.step  # origins each series allows
    windows = int(min(settings.calibration_windows, room.max())) if len(room) else 0
    if windows < 1:
        return pd.DataFrame()
    last_origin = first_cutoff - pd.Timedelta(days=settings.step)
    end = last_origin + pd.Timedelta(days=settings.horizon)
    keep = grid["series_id"].isin(room.index[room >= windows]) & (grid["date"] <= end)
    return _forecasts_at_origins(grid[keep], names, settings, windows)


def _lightgbm_forecasts(grid: pd.DataFrame, model_settings: ModelSettings, settings: BacktestSettings):
    from mlforecast.utils import PredictionIntervals

    exogenous = [c for c in grid.columns if c not in ("series_id", "date", "y")]
    mlf, exogenous = lightgbm_forecaster(model_settings, exogenous)
    cv = mlf.cross_validation(
        df=to_nixtla(grid),
        h=settings.horizon,
        n_windows=settings.windows,
        step_size=settings.step,
        static_features=[],  # every extra column is a dated regressor, not a constant of the series
        level=list(settings.levels),
        prediction_intervals=PredictionIntervals(
            n_windows=model_settings.conformal_windows, h=settings.horizon
        ),
    )
    return from_nixtla(cv)


def seasonal_scales(grid: pd.DataFrame, season: int) -> pd.DataFrame:
    """(series_id, date, scale, scale_sq, spread): mean |y_t - y_(t-season)| and mean
    (y_t - y_(t-season))^2 of the series up to and including date (the MASE and RMSSE denominators),
    and the mean |y_t - y_(t-season)| of the last SPREAD_DAYS days alone (scale where that is 0): the
    conformal intervals' scale, which follows a season's changing volatility."""
    g = grid.sort_values(["series_id", "date"])
    diff = g["y"] - g.groupby("series_id", sort=False)["y"].shift(season)
    by_series = g["series_id"]

    def running(values: pd.Series, window: int | None = None) -> pd.Series:
        def mean(d: pd.Series) -> pd.Series:
            return (d.expanding() if window is None else d.rolling(window, min_periods=1)).mean()

        return values.groupby(by_series, sort=False).transform(mean).fillna(0.0)

    scale = running(diff.abs())
    recent = running(diff.abs(), SPREAD_DAYS)
    return pd.DataFrame(
        {
            "series_id": by_series,
            "date": g["date"],
            "scale": scale,
            "scale_sq": running(diff**2),
            "spread": recent.where(recent > 0, scale),
        }
    )


def forecast_columns(forecasts: pd.DataFrame) -> list[str]:
    """The point-forecast columns (everything but keys, y, step, scales and interval bounds)."""
    fixed = {*KEYS, "y", "step", "scale", "scale_sq", "spread"}
    return [c for c in forecasts.columns if c not in fixed and "-lo-" not in c and "-hi-" not in c]


def with_origins(forecasts: pd.DataFrame) -> pd.DataFrame:
    """forecasts with an `origin` column, "series_id@cutoff": forecast_metrics' group (each series'
    forecasts from one origin are scored as one series)."""
    return forecasts.assign(origin=forecasts["series_id"].astype(str) + "@" + forecasts["cutoff"].astype(str))


def error_table(forecasts: pd.DataFrame, horizons: tuple[int, ...] = HORIZONS, levels=LEVELS) -> pd.DataFrame:
    """One row per model and horizon: mase, rmsse, smape, bias, coverage_<level> (nan without
    intervals), n,
    and mase_vs_naive (the model's MASE over the seasonal naive's, when that ran)."""
    frame = with_origins(forecasts)
    rows = []
    for name in forecast_columns(forecasts):
        have = tuple(level for level in levels if f"{name}-lo-{level}" in frame.columns)
        for horizon in horizons:
            part = frame[frame["step"] <= horizon]
            metrics = forecast_metrics(part, name, have, group="origin")
            rows.append({"model": name, "horizon": horizon} | metrics)
    table = pd.DataFrame(rows)
    for level in levels:
        if f"coverage_{level}" not in table.columns:
            table[f"coverage_{level}"] = np.nan
    if BASELINE in set(table["model"]):
        naive = table[table["model"] == BASELINE].set_index("horizon")["mase"]
        table["mase_vs_naive"] = table["mase"] / table["horizon"].map(naive)
    return table


def backtest(
    frame: pd.DataFrame,
    names: tuple[str, ...] = DEFAULT_STATISTICAL,
    settings: BacktestSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forecasts, error table) of a rolling-origin backtest of the named models on a long frame."""
    settings = settings or BacktestSettings()
    forecasts = rolling_backtest(frame, names, settings)[0]
    return forecasts, error_table(forecasts, settings.horizons, settings.levels)
