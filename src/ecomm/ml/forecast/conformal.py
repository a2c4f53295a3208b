"""Conformal prediction intervals from a rolling-origin backtest's out-of-sample errors.

Why: the models' own intervals are too narrow on the shop's series (they ignore the uncertainty of
choosing and fitting the model, and category sales are overdispersed): 80% intervals covered 69-70%
of category days. Split conformal replaces them with the empirical quantiles of the errors the same
model made earlier, out of sample, at the same step ahead.

Errors: per series, origin and step ahead, e = (y - point) / spread, spread the series' seasonal-naive
mean absolute error over the 4 weeks up to the origin (backtest.seasonal_scales: series of every size
are pooled, and a season whose sales and swings grow, the shop's November, widens the intervals as
it comes; the whole history's mean lags it and left the category intervals at 72%/90%);
and the error of the cumulative demand from day 1 to that step (what a stock policy over a lead time
needs: the days' errors of one origin are correlated, so their sum is not the sum of independent
days). A row with spread 0 (a series with no seasonal change yet) gives no error.

Quantiles of step s: the errors of steps s - POOLED_STEPS .. s + POOLED_STEPS, pooled over every
series of a level; then each quantile's sequence over the steps is replaced by its least-squares
monotone fit (isotonic regression: the upper quantiles non-decreasing, the lower non-increasing, so
an interval never narrows further ahead, without the upward drift a running maximum of noisy
quantiles has). Each quantile is split conformal's order statistic (conformal_quantile), not the
interpolated sample quantile, which covers a new error a little less often than asked (by up to
1/(n+1); at the 95% level's tails of the category level's few hundred errors, 1-2 points of
coverage). A step with fewer than MIN_ERRORS errors (the far steps of the first origins) takes
the nearest earlier step's; no step with enough: the model's own interval stays. Bounds: point + q x spread, the lower one cut at 0 (sales).

Recency weights (BacktestSettings.half_life and, per level, half_lives; the shop's ForecastConfig:
HALF_LIVES, HALF_LIFE_DAYS at product level, CATEGORY_HALF_LIFE_DAYS with the "point" scale below at
category level; the total, one series, and the library's
default: none, equal weights): an error weighs
0.5 ** (age / half_life), age the days its origin lies before the forecast's cutoff (for the
registered model's calibration, before the last error's date), and the quantiles are weighted
conformal ones (conformal_quantile's `weights`; Barber, Candes, Ramdas & Tibshirani 2023,
"Conformal prediction beyond exchangeability"). Why: the shop's errors are not exchangeable over the
season. In the planted November-December rise the forecasts lag more than at the calibration origins
before it (the benchmark's category bias -0.20 to -0.24), and equal weights left the category 80%
intervals at 74-76%; weighting the latest origins, already in the rise, lets the intervals follow
the drift as it comes. Half-life chosen on development worlds
(2,000 customers, 300 products, 2025; seeds 4-8, not the benchmark's 1-3; 2026-12-07), category
level, 14 days, 80% / 95% coverage per seed, equal weights: 76/93, 78/94, 74/93, 76/91, 69/90;
half-life 28 days: 76/95, 79/96, 74/93, 76/93, 72/93; 14: 77/96, 81/97, 76/94, 77/96, 74/96; 10:
80/98, 82/98, 78/95, 78/97, 76/98; 7: 84-85/97-99. 14 days centres the 95% intervals; the 80% ones
stay a little low where the rise's bias is largest (their misses are above the interval). At
product level it moved coverage by under 1 point (seeds 4-6). Not the library's default: on one
series (CDNOW, benchmarks/bench_forecast_real.py) the weighted quantiles rest on few effective
errors, beside which the new error's own weight of 1 pushes them out (80% intervals covered 91-97%
against 79-90% with equal weights); the shop's total, one series, is left with equal weights for the same reason (in a test world
its weighted 80% and 95% bounds were the same, both the largest error). The product and category
levels pool 8 to 100s of series. The cost: fewer effective errors, so noisier quantiles. The
stock's shortfall quantiles (lead_time_quantile, Calibration.shortfall) stay unweighted.

Scale (BacktestSettings.interval_scale and, per level, interval_scales; the shop's ForecastConfig:
INTERVAL_SCALES, "point" at category level with half-life CATEGORY_HALF_LIFE_DAYS; elsewhere
"spread"): a daily error can instead be divided by the forecast itself, max(point, spread)
(interval_scale; scaled_errors' `relative`), and the bounds are then point + q x max(point, spread):
scale-free relative to the level the forecast expects, so an origin forecasting a higher level (the
rise, as it is caught) gets a proportionally wider interval, where the spread, the last 4 weeks'
swings, still reflects the quieter weeks before. The stock's cumulative errors stay over the spread.
Chosen on the development worlds (seeds 4-8, not the benchmark's 1-3; 2026-12-07), category level,
AutoETS, 14 days, 8 calibration origins, 80% / 95% coverage per seed 4..8: spread, half-life 14 (the
former setting): 77/96, 81/97, 76/94, 77/96, 74/96 (2 of 5 within 77-83 / 92-98); point, half-life
14: 82/97, 82/98, 82/95, 79/96, 76/97 (4 of 5); point, 28: 81/96, 79/96, 80/94, 79/95, 75/95 (4 of
5, the closest to 80/95 on average, so chosen); point, equal weights: 81/96, 78/96, 80/93, 80/93,
75/94. 12 or 16 calibration origins instead of 8 moved the mean coverage over seeds 5-8 by about 1
point or less, so the 8 stay. At
product level (100 best sellers, seeds 4-8) max(point, spread) over-covered at 95% (97-98%
against 94-97% over the spread), so the products keep the spread.

No look-ahead: the interval of a forecast made at cutoff c uses only errors whose target date is on
or before c (what had been observed at c), from earlier origins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

POOLED_STEPS = 2
MIN_ERRORS = 30
HALF_LIFE_DAYS = 14.0  # recency weights (module docstring): an error two weekly origins back weighs half
CATEGORY_HALF_LIFE_DAYS = 28.0  # with the category level's "point" scale (module docstring)
HALF_LIVES = (("product", HALF_LIFE_DAYS), ("category", CATEGORY_HALF_LIFE_DAYS))  # the shop's; total: none
INTERVAL_SCALES = (("category", "point"),)  # the shop's levels' scale (module docstring); the others: spread
SCALES = ("spread", "point")  # what a daily error is divided by (interval_scale, module docstring)
SCORES = {"spread": "error", "point": "relative"}  # scaled_errors' column of each
PROBABILITIES = np.round(np.linspace(0.0, 1.0, 201), 4)  # the stored quantile grid (0.5% apart)


def interval_scale(point, spread, scale: str = "spread"):
    """What a daily error is divided by (SCALES, module docstring): the spread, or for "point" the
    forecast itself where it is above the spread (max(point, spread))."""
    if scale not in SCALES:
        raise ValueError(f"interval scale: {scale!r} is not one of {', '.join(SCALES)}")
    return spread if scale == "spread" else np.maximum(point, spread)


def scaled_errors(forecasts: pd.DataFrame, model: str) -> pd.DataFrame:
    """(series_id, cutoff, date, step, error, relative, cumulative, demand) of a model's backtest rows
    (rolling_forecasts' columns: y, step, spread and the model's point column; error: over the spread,
    relative: over max(point, spread), interval_scale; demand: y > 0 that day); rows with spread 0
    left out."""
    rows = forecasts.sort_values(["series_id", "cutoff", "step"])
    miss = rows["y"] - rows[model]
    cumulative = miss.groupby([rows["series_id"], rows["cutoff"]], sort=False).cumsum()
    out = pd.DataFrame(
        {
            "series_id": rows["series_id"],
            "cutoff": rows["cutoff"],
            "date": rows["date"],
            "step": rows["step"],
            "error": miss / rows["spread"],
            "relative": miss / interval_scale(rows[model], rows["spread"], "point"),
            "cumulative": cumulative / rows["spread"],
            "demand": rows["y"] > 0,
        }
    )
    return out[rows["spread"] > 0].reset_index(drop=True)


def conformal_quantile(values, probabilities, weights=None) -> np.ndarray:
    """Split conformal's quantiles of n errors: for p >= 0.5 the ceil((n+1)p)-th smallest (the
    largest when that is beyond n), for p < 0.5 the floor((n+1)p)-th (the smallest when that is 0).
    Why: a new error exchangeable with the n falls at or below their k-th smallest with probability
    k/(n+1), so [floor((n+1)a)-th, ceil((n+1)(1-a))-th] covers it with probability at least 1 - 2a
    (less than 1/(n+1) more); the plain p-quantile (near the pn-th) covers it less often than p.
    `weights` (one per error, > 0): the weighted form (nonexchangeable conformal, Barber, Candes,
    Ramdas & Tibshirani 2023): the new error weighs 1, and for p >= 0.5 the quantile is the smallest
    error whose errors at or below it weigh at least p of the total (the new one's included), for
    p < 0.5 the mirror image; equal weights of 1 give the order statistics above."""
    if weights is not None:
        return _weighted_quantile(values, weights, probabilities)
    ordered = np.sort(np.asarray(values, float))
    n = len(ordered)
    probabilities = np.atleast_1d(np.asarray(probabilities, float))
    k = np.where(
        probabilities >= 0.5,
        np.ceil((n + 1) * probabilities - 1e-9),
        np.floor((n + 1) * probabilities + 1e-9),
    )
    return ordered[np.clip(k.astype(int), 1, n) - 1]


def _weighted_quantile(values, weights, probabilities) -> np.ndarray:
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    probabilities = np.atleast_1d(np.asarray(probabilities, float))

    def upper(v: np.ndarray, p: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        share = np.cumsum(weights[order]) / (weights.sum() + 1.0)  # the new error's weight: 1
        k = np.searchsorted(share, p - 1e-9, side="left")
        return v[order][np.clip(k, 0, len(v) - 1)]

    high = probabilities >= 0.5
    out = np.empty(len(probabilities))
    out[high] = upper(values, probabilities[high])
    out[~high] = -upper(-values, 1.0 - probabilities[~high])
    return out


def recency_weights(origins: pd.Series, now, half_life: float | None) -> np.ndarray | None:
    """Each error's weight, halved every `half_life` days its origin lies before `now` (None: no
    weights, the errors exchangeable)."""
    if half_life is None:
        return None
    age = (pd.Timestamp(now) - pd.to_datetime(origins)).dt.days.to_numpy(float)
    return 0.5 ** (np.clip(age, 0.0, None) / half_life)


def step_quantiles(
    errors: pd.DataFrame,
    column: str,
    probabilities,
    horizon: int,
    pooled: int = POOLED_STEPS,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """(horizon x probabilities) quantiles of the errors' `column` per step (module docstring), the
    errors of `pooled` steps either side pooled (0 for cumulative errors: their spread grows with
    every step); `weights`: one per error row (conformal_quantile's weighted form)."""
    probabilities = np.atleast_1d(np.asarray(probabilities, float))
    steps = errors["step"].to_numpy()
    values = errors[column].to_numpy(float)
    out = np.full((horizon, len(probabilities)), np.nan)
    for step in range(1, horizon + 1):
        near = (steps >= step - pooled) & (steps <= step + pooled)
        if near.sum() >= MIN_ERRORS:
            w = None if weights is None else np.asarray(weights, float)[near]
            out[step - 1] = conformal_quantile(values[near], probabilities, w)
    return monotone_in_step(out, probabilities >= 0.5)


def monotone_in_step(quantiles: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Each column's isotonic fit over the steps with values (non-decreasing where `upper`, else
    non-increasing), the steps after the last value filled with it."""
    from sklearn.isotonic import isotonic_regression

    out = quantiles.copy()
    have = ~np.isnan(out[:, 0])
    if not have.any():
        return out
    for j, increasing in enumerate(upper):
        out[have, j] = isotonic_regression(out[have, j], increasing=bool(increasing))
    return pd.DataFrame(out).ffill().to_numpy()  # the steps before the first value stay nan


def interval_probabilities(level: int) -> tuple[float, float]:
    """The (lower, upper) probabilities of a central `level`% interval."""
    tail = (1.0 - level / 100.0) / 2.0
    return tail, 1.0 - tail


def with_intervals(
    rows: pd.DataFrame, model: str, errors: pd.DataFrame, levels, horizon: int, weights=None, scale="spread"
) -> pd.DataFrame:
    """One origin's rows with the model's interval columns replaced by conformal ones from `errors`
    (already cut to what the origin may see; `weights`: one per error; `scale`: interval_scale's);
    a step without enough errors keeps its own."""
    out = rows.copy()
    steps = out["step"].to_numpy() - 1
    column_of_errors = SCORES[scale]
    multiplier = interval_scale(out[model], out["spread"], scale)
    for level in levels:
        probabilities = interval_probabilities(level)
        quantiles = step_quantiles(errors, column_of_errors, probabilities, horizon, weights=weights)[steps]
        for side, q in (("lo", quantiles[:, 0]), ("hi", quantiles[:, 1])):
            column = f"{model}-{side}-{level}"
            bound = (out[model] + q * multiplier).clip(lower=0.0)
            out[column] = bound.where(~np.isnan(q), out[column])
    return out


def calibrate_backtest(
    forecasts: pd.DataFrame,
    errors: pd.DataFrame,
    model: str,
    levels,
    horizon: int,
    half_life: float | None = None,
    scale: str = "spread",
):
    """The backtest's rows with the model's intervals made conformal, each origin's from the errors
    dated on or before its cutoff (`errors`: scaled_errors of every origin, earlier calibration
    origins included), weighted by recency_weights from that cutoff with `half_life`, scaled by
    `scale` (interval_scale)."""
    parts = []
    for cutoff, rows in forecasts.groupby("cutoff", sort=True):
        seen = errors[errors["date"] <= cutoff]
        weights = recency_weights(seen["cutoff"], cutoff, half_life)
        parts.append(with_intervals(rows, model, seen, levels, horizon, weights, scale))
    return pd.concat(parts).loc[forecasts.index] if parts else forecasts


def lead_time_quantile(errors: pd.DataFrame, lead_time: int, service_level: float, shift: int = 0) -> float:
    """The scaled lead-time error q such that a level of sum(point) + q x spread leaves at most a
    share 1 - service_level of days short (errors: scaled_errors already cut to what an origin may see).

    The service level counts the days with all demand met (stock.replay_base_stock), and a day
    without demand is always met: a day L days after the level was set is short when the demand of
    days 1..L exceeds the level and day L has demand. So q is the service-level quantile, over every
    window, of its cumulative error where its last day has demand and -inf where it has none (never
    short; conformal_quantile's order statistic); -inf: no safety stock needed; nan with fewer than
    MIN_ERRORS windows. `shift`: of the
    windows of days shift+1..shift+lead_time after the origin instead (a level held `shift` days
    after its forecast was made faces those)."""
    at = shifted_windows(errors, lead_time, shift)
    if len(at) < MIN_ERRORS:
        return float("nan")
    return float(conformal_quantile(shortfall_errors(at), service_level)[0])


def shifted_windows(errors: pd.DataFrame, lead_time: int, shift: int) -> pd.DataFrame:
    """The rows of step shift + lead_time with `cumulative` the error of days shift+1..shift+lead_time
    alone (its cumulative error less that of step shift of the same series and origin)."""
    end = errors[errors["step"] == shift + lead_time]
    if shift == 0:
        return end
    start = errors[errors["step"] == shift].set_index(["series_id", "cutoff"])["cumulative"]
    before = pd.MultiIndex.from_frame(end[["series_id", "cutoff"]]).map(start.to_dict().get)
    return end.assign(cumulative=end["cumulative"].to_numpy() - np.asarray(before, float)).dropna(
        subset=["cumulative"]
    )


def shortfall_errors(errors: pd.DataFrame) -> np.ndarray:
    """The cumulative errors, -inf where the window's last day had no demand (it cannot be short)."""
    return np.where(errors["demand"].to_numpy(bool), errors["cumulative"].to_numpy(float), -np.inf)


@dataclass(frozen=True)
class Calibration:
    """A level's conformal error distribution for forecasts made after its errors (what a registered
    model keeps): per step (rows: steps 1..horizon) the quantiles at PROBABILITIES of the daily
    errors and of the shortfall errors (shortfall_errors: -inf for a window without demand on that
    step; conformal_quantile's order statistics)."""

    daily: np.ndarray
    shortfall: np.ndarray
    scale: str = "spread"  # what the daily errors are over (interval_scale); the shortfall's: the spread

    @classmethod
    def from_errors(
        cls, errors: pd.DataFrame, horizon: int, half_life: float | None = None, scale: str = "spread"
    ) -> Calibration:
        """The daily errors (over `scale`, interval_scale) weighted by recency_weights from the last
        error's date (the end of the history the forecasts are made from) with `half_life`; the
        shortfall errors unweighted."""
        interval_scale(0.0, 0.0, scale)  # a ValueError naming an unknown scale
        weights = recency_weights(errors["cutoff"], errors["date"].max(), half_life) if len(errors) else None
        shortfall = np.full((horizon, len(PROBABILITIES)), np.nan)
        for step, at in errors.groupby("step"):
            if 1 <= step <= horizon and len(at) >= MIN_ERRORS:
                shortfall[step - 1] = conformal_quantile(shortfall_errors(at), PROBABILITIES)
        daily = step_quantiles(errors, SCORES[scale], PROBABILITIES, horizon, weights=weights)
        return cls(daily, shortfall, scale)

    @property
    def horizon(self) -> int:
        return len(self.daily)

    def to_dict(self, spread_days: int) -> dict:
        """Plain lists (what ecomm.ml.serving.ForecastPyfunc keeps: it must not import ecomm)."""
        return {
            "probabilities": PROBABILITIES.tolist(),
            "daily": self.daily.tolist(),
            "shortfall": self.shortfall.tolist(),
            "spread_days": spread_days,
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, values: dict) -> Calibration:
        """(a calibration stored before the scale was: over the spread)"""
        daily, shortfall = np.asarray(values["daily"], float), np.asarray(values["shortfall"], float)
        return cls(daily, shortfall, values.get("scale", "spread"))

    def quantile(self, step: int, probability: float) -> float:
        """The `probability` quantile of the daily error `step` days ahead (linear between the stored
        grid's points; nan without enough errors)."""
        return float(np.interp(probability, PROBABILITIES, self.daily[step - 1]))

    def lead_time_quantile(self, lead_time: int, service_level: float) -> float:
        """conformal.lead_time_quantile from the stored grid (its first probability >= the level)."""
        column = int(np.searchsorted(PROBABILITIES, service_level - 1e-9))
        return float(self.shortfall[lead_time - 1, column])

    def bounds(self, point: np.ndarray, spread: float, level: int) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) of one series' daily forecasts (days 1..len(point)) at `level`%."""
        low, high = interval_probabilities(level)
        steps = range(1, len(point) + 1)
        q_lo = np.array([self.quantile(s, low) for s in steps])
        q_hi = np.array([self.quantile(s, high) for s in steps])
        multiplier = interval_scale(np.asarray(point, float), spread, self.scale)
        return np.clip(point + q_lo * multiplier, 0.0, None), np.clip(point + q_hi * multiplier, 0.0, None)
