"""Stock policy from a product's forecast distribution over its lead time, and a replay of history.

Reorder point (base-stock level): the service-level quantile of the demand over the lead time, i.e.
the forecast's mean demand over the lead time plus a safety stock. Calibrated (`conformal_reorder_point`,
what the backtest replay and the stored reorder points use when the model has conformal errors):
the quantile is sum(point) + q x spread, q from the earlier out-of-sample errors of the lead-time
sum (conformal.lead_time_quantile: the days' errors of one origin are correlated, which a sum of
independent days' variances misses; and a window whose last day has no demand cannot be short) and
spread the series' recent seasonal-naive error; safety stock max(q x spread, 0). Gaussian (`reorder_point`, for forecasts without errors):
z(service level) x sd, the sd over the lead time from the daily forecasts' 95% upper bounds
(sd_t = (hi_95 - point) / 1.96; the upper side, as the lower one is cut at 0 for sales), days taken
as independent: sd_L = sqrt(sum sd_t^2).

Replay (`replay_base_stock`): review every day; at the end of day t an order raises the inventory
position (on hand + on order) to that day's level and arrives at the start of day t + lead_time.
Unmet demand is lost. So day t + L is short only when it has demand and the demand of days
t+1..t+L exceeds the level set at the end of day t: a level at the q-quantile of that event serves
at least q of the days (the "service level": the share of days with every unit of demand met; lost
sales on the days before absorb part of an excess, so somewhat more). In a backtest replay the
origins are a week apart, and each origin's forecasts set the levels of the days until the next
(day k after it: the forecast of days k+1..k+L, the errors of such windows), as a daily forecast
would. The naive policy's level is the last 28 days' mean x the lead time (no safety stock).

Comparing stock: a policy without safety stock serves far fewer days (about 80% on the shop, the
expected P(lead-time demand <= its mean) plus what lost sales give back), and the stock a policy
holds grows with the days it serves, so "less stock than the naive policy" at different service
levels says nothing about the forecast. compare_policies therefore also replays the naive forecast
with a safety stock (naive_safety_levels: mean x L + k x sd x sqrt(L) from the same 28 days): with
the textbook k = z(service level), and with the k that, found in hindsight on the replayed days,
serves as many days as ours (matched_naive): the like-for-like comparison, at equal service.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ecomm.ml.forecast.conformal import lead_time_quantile

Z_95 = float(norm.ppf(0.975))  # the half-width of a two-sided 95% interval, in sd
NAIVE_WINDOW = 28


@dataclass(frozen=True)
class StockPoint:
    lead_time_days: int
    service_level: float
    lead_time_demand: float  # the forecast's mean demand over the lead time
    lead_time_sd: float
    safety_stock: float
    reorder_point: float


def reorder_point(point, hi_95, lead_time: int, service_level: float) -> StockPoint:
    """Reorder point of one product from its daily forecasts (days 1.. after the forecast date)."""
    point = _lead_time_days(point, lead_time, service_level)
    hi_95 = np.asarray(hi_95, float)
    mean = float(point.sum())
    sd_days = np.clip(hi_95[:lead_time] - point, 0.0, None) / Z_95
    sd = float(np.sqrt((sd_days**2).sum()))
    safety = float(norm.ppf(service_level)) * sd
    return StockPoint(lead_time, service_level, mean, sd, safety, mean + safety)


def conformal_reorder_point(
    point, spread: float, error_quantile: float, lead_time: int, service_level: float
) -> StockPoint:
    """Reorder point of one product from its daily forecasts, its spread and the service-level
    quantile of its level's scaled lead-time errors (module docstring). lead_time_sd: the sd a
    Gaussian reading of that safety stock gives (safety / z), for display."""
    point = _lead_time_days(point, lead_time, service_level)
    mean = float(point.sum())
    # a product without spread (flat or new) holds no safety stock; -inf x 0 would be NaN
    safety = max(float(error_quantile) * float(spread), 0.0) if float(spread) > 0 else 0.0
    sd = safety / float(norm.ppf(service_level)) if service_level > 0.5 else 0.0
    return StockPoint(lead_time, service_level, mean, sd, safety, mean + safety)


def _lead_time_days(point, lead_time: int, service_level: float) -> np.ndarray:
    if lead_time < 1:
        raise ValueError(f"lead_time: must be at least 1 day, got {lead_time}")
    if not 0.5 <= service_level < 1:
        raise ValueError(f"service_level: must be in [0.5, 1), got {service_level}")
    point = np.asarray(point, float)
    if len(point) < lead_time:
        raise ValueError(f"lead_time: {lead_time} days, but only {len(point)} days of forecast")
    return point[:lead_time]


def naive_levels(demand, lead_time: int, window: int = NAIVE_WINDOW) -> np.ndarray:
    """The naive policy's level at the end of each day: mean demand of the last `window` days
    (fewer at the start) x lead time."""
    return naive_safety_levels(demand, lead_time, 0.0, window)


def naive_safety_levels(demand, lead_time: int, k: float, window: int = NAIVE_WINDOW) -> np.ndarray:
    """The naive policy with the textbook safety stock: (mean + k x sd / sqrt(lead_time)) x lead
    time, i.e. mean x L + k x sd x sqrt(L), mean and sd (population) of the last `window` days'
    demand (fewer at the start), the days of a lead time taken as independent."""
    demand = np.asarray(demand, float)
    days = np.arange(1, len(demand) + 1)
    start = np.maximum(days - window, 0)

    def window_sum(values: np.ndarray) -> np.ndarray:
        sums = np.cumsum(values)
        return sums - np.concatenate([[0.0], sums])[start]

    n = days - start
    mean = window_sum(demand) / n
    sd = np.sqrt(np.clip(window_sum(demand**2) / n - mean**2, 0.0, None))
    return mean * lead_time + k * sd * np.sqrt(lead_time)


@dataclass(frozen=True)
class Replay:
    service_level: float  # share of scored days whose demand was met in full
    fill_rate: float  # share of the scored days' units sold
    average_stock: float  # mean units on hand at the end of a scored day
    days: int


def replay_base_stock(demand, levels, lead_time: int, start: int | None = None) -> Replay:
    """Replay a daily-review base-stock policy (module doc) on a demand history.

    demand[t]: units wanted on day t; levels[t]: the level set at the end of day t (from what was
    known then). Stock starts at levels[0] on hand. Days from `start` (default: lead_time + 1, once
    the first orders have arrived) are scored."""
    demand, levels = np.asarray(demand, float), np.asarray(levels, float)
    if len(demand) != len(levels):
        raise ValueError(f"levels: {len(levels)} values for {len(demand)} days of demand")
    start = lead_time + 1 if start is None else start
    on_hand = float(levels[0])
    arriving = np.zeros(len(demand) + lead_time + 1)
    pipeline = 0.0
    met = sold = wanted = stock = 0.0
    for t, want in enumerate(demand):
        on_hand += arriving[t]
        pipeline -= arriving[t]
        sale = min(on_hand, want)
        on_hand -= sale
        if t >= start:
            met += sale >= want
            sold += sale
            wanted += want
            stock += on_hand
        order = max(0.0, levels[t] - (on_hand + pipeline))
        arriving[t + lead_time] += order
        pipeline += order
    days = max(len(demand) - start, 0)
    return Replay(
        service_level=met / days if days else float("nan"),
        fill_rate=sold / wanted if wanted else 1.0,
        average_stock=stock / days if days else float("nan"),
        days=days,
    )


def policy_replay(
    demand: pd.Series, origin_levels: pd.Series, lead_time: int, until=None, naive_k: float = 0.0
) -> tuple[Replay, Replay]:
    """(ours, naive) replays of one product's daily demand (indexed by date, complete) from its first
    level's day to `until` (default: its last day). Ours: `origin_levels` (date -> the level set at
    the end of that day), each held until the next; naive: naive_safety_levels (k = `naive_k`; 0:
    naive_levels, no safety stock) of the whole history up to each day."""
    days = replay_days(demand, origin_levels, until)
    ours = origin_levels.reindex(days).ffill()
    return (
        replay_base_stock(demand.loc[days], ours, lead_time),
        naive_replay(demand, days, lead_time, naive_k),
    )


def replay_days(demand: pd.Series, origin_levels: pd.Series, until=None) -> pd.Index:
    return demand.loc[origin_levels.index.min() : until].index


def naive_replay(demand: pd.Series, days: pd.Index, lead_time: int, k: float) -> Replay:
    """The naive policy (safety factor k) replayed on `days`, its levels from the whole history."""
    levels = pd.Series(naive_safety_levels(demand.to_numpy(), lead_time, k), index=demand.index)
    return replay_base_stock(demand.loc[days], levels.loc[days], lead_time)


def matched_naive(
    histories: list[tuple[pd.Series, pd.Index]], lead_time: int, service_level: float, k_max: float = 8.0
) -> tuple[float, list[Replay]]:
    """(k, replays) of the naive policy with the smallest safety factor k (naive_safety_levels) whose
    mean service level over the series (histories: each one's demand and replayed days) reaches
    `service_level`: what the naive forecast needs to serve as well, found in hindsight on the very
    days replayed (so generous to it). Bisection, taking the service level to rise with k (higher
    levels keep more on hand; with lost sales and levels that change from day to day this is not
    guaranteed day by day, but it holds for the mean over many days). k_max and its replays when
    even that falls short."""
    parts = []  # per series: its demand, mean x L and sd x sqrt(L) on the replayed days
    for demand, days in histories:
        base = pd.Series(naive_safety_levels(demand.to_numpy(), lead_time, 0.0), index=demand.index)
        unit = pd.Series(naive_safety_levels(demand.to_numpy(), lead_time, 1.0), index=demand.index) - base
        parts.append((demand.loc[days].to_numpy(), base.loc[days].to_numpy(), unit.loc[days].to_numpy()))

    def replays(k: float) -> list[Replay]:
        return [replay_base_stock(d, base + k * unit, lead_time) for d, base, unit in parts]

    def service(rs: list[Replay]) -> float:
        return float(np.mean([r.service_level for r in rs]))

    high = replays(k_max)
    if service(high) < service_level:
        return k_max, high
    low_k, high_k = 0.0, k_max
    for _ in range(20):  # k to within k_max / 2^20
        middle = (low_k + high_k) / 2
        tried = replays(middle)
        if service(tried) >= service_level:
            high_k, high = middle, tried
        else:
            low_k = middle
    return high_k, high


def cutoff_quantiles(errors: pd.DataFrame, cutoffs, lead_time: int, service_level: float, hold: int) -> dict:
    """(cutoff, k) -> the service-level quantile (conformal.lead_time_quantile) of the scaled errors of
    the demand over days k+1..k+lead_time after an origin, from the errors dated on or before the
    cutoff, for k = 0..hold-1 (errors: one level's conformal.scaled_errors of one model, every series
    pooled)."""
    out = {}
    for cutoff in cutoffs:
        seen = errors[errors["date"] <= cutoff]
        out |= {(cutoff, k): lead_time_quantile(seen, lead_time, service_level, shift=k) for k in range(hold)}
    return out


def origin_levels(
    forecasts: pd.DataFrame,
    method: str,
    lead_time: int,
    service_level: float,
    quantiles: dict | None,
    hold: int = 1,
) -> pd.Series:
    """One series' reorder point on each day (date -> level) of a rolling backtest whose origins
    are `hold` days apart: on day cutoff + k (k < hold) the level for the demand of days k+1..k+L
    after the cutoff, from that origin's forecasts of those days: conformal with the (cutoff, k)
    error quantile (cutoff_quantiles) when there is one, else the Gaussian reading of the 95% bounds.
    Why not the cutoff's level (days 1..L) held for the week: the demand it then faces runs up to
    day hold - 1 + L, further ahead than it was set for, and the days served fall short of the
    service level (91-92% of days where 95% was set, before this)."""
    levels = {}
    for cutoff, o in forecasts.sort_values("date").groupby("cutoff"):
        for k in range(hold):
            day = cutoff + pd.Timedelta(days=k)
            quantile = (quantiles or {}).get((cutoff, k), np.nan)
            if np.isnan(quantile):
                stock = reorder_point(
                    o[method].iloc[k:], o[f"{method}-hi-95"].iloc[k:], lead_time, service_level
                )
            else:
                spread = float(o["spread"].iloc[0])
                stock = conformal_reorder_point(
                    o[method].iloc[k:], spread, quantile, lead_time, service_level
                )
            levels[day] = stock.reorder_point
    return pd.Series(levels).sort_index()


def compare_policies(
    forecasts: pd.DataFrame,
    method: str,
    grid: pd.DataFrame,
    lead_time: int,
    service_level: float,
    step: int,
    errors: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Replay both policies on every series of a rolling backtest (`forecasts`: rolling_forecasts'
    rows; `grid`: the series' daily sales, series_id, date, y; `errors`: the backtest's scaled errors,
    rolling_backtest's, for conformal reorder points), each origin's forecasts used for `step` days
    (until the next origin; origin_levels). Service level: the mean over series; average stock: the
    sum over series. Beside the naive policy (no safety stock), the naive forecast with the textbook
    safety stock (naive_safety_*) and with the one that serves as many days as ours (matched_naive_*:
    the module docstring)."""
    quantiles = None
    if errors is not None and len(errors):
        own = errors[errors["model"] == method] if "model" in errors.columns else errors
        quantiles = cutoff_quantiles(own, forecasts["cutoff"].unique(), lead_time, service_level, step)
    replays, histories = [], []
    for series_id, part in forecasts.groupby("series_id"):
        levels = origin_levels(part, method, lead_time, service_level, quantiles, step)
        demand = grid[grid["series_id"] == series_id].set_index("date")["y"].sort_index()
        replays.append(policy_replay(demand, levels, lead_time, until=levels.index.max()))
        histories.append((demand, replay_days(demand, levels, levels.index.max())))
    ours, naive = zip(*replays, strict=True) if replays else ((), ())
    textbook = [naive_replay(d, days, lead_time, float(norm.ppf(service_level))) for d, days in histories]
    achieved = float(np.mean([r.service_level for r in ours]))
    k, matched = matched_naive(histories, lead_time, achieved) if histories else (np.nan, [])
    return {
        "service_level": achieved,
        "average_stock": float(np.sum([r.average_stock for r in ours])),
        "naive_service_level": float(np.mean([r.service_level for r in naive])),
        "naive_average_stock": float(np.sum([r.average_stock for r in naive])),
        # the naive forecast with a safety stock: z(service level) x its 28 days' sd x sqrt(L) ...
        "naive_safety_service_level": float(np.mean([r.service_level for r in textbook])),
        "naive_safety_average_stock": float(np.sum([r.average_stock for r in textbook])),
        # ... and with the safety factor that, in hindsight, serves as many days as ours (matched_naive)
        "matched_naive_k": float(k),
        "matched_naive_service_level": float(np.mean([r.service_level for r in matched])),
        "matched_naive_average_stock": float(np.sum([r.average_stock for r in matched])),
        "series": len(replays),
        "days": int(ours[0].days) if ours else 0,
    }
