"""Stock policy from a product's forecast distribution over its lead time, and a replay of history.

Reorder point (base-stock level): the forecast's mean demand over the lead time plus a safety stock
z(service level) x sd, the sd over the lead time from the daily forecasts' 95% upper bounds (a
Gaussian reading of each day's interval: sd_t = (hi_95 - point) / 1.96; the upper side, as the lower
one is cut at 0 for sales), days taken as independent: sd_L = sqrt(sum sd_t^2).

Replay (`replay_base_stock`): review every day; at the end of day t an order raises the inventory
position (on hand + on order) to that day's level and arrives at the start of day t + lead_time.
Unmet demand is lost. So day t + L is served in full exactly when the demand of days t+1..t+L fits
within the level set at the end of day t: a level at the q-quantile of the lead-time demand serves
about q of the days (the "service level": the share of days with every unit of demand met). The
naive policy's level is the last 28 days' mean x the lead time (no safety stock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

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
    if lead_time < 1:
        raise ValueError(f"lead_time: must be at least 1 day, got {lead_time}")
    if not 0.5 <= service_level < 1:
        raise ValueError(f"service_level: must be in [0.5, 1), got {service_level}")
    point, hi_95 = np.asarray(point, float), np.asarray(hi_95, float)
    if len(point) < lead_time:
        raise ValueError(f"lead_time: {lead_time} days, but only {len(point)} days of forecast")
    mean = float(point[:lead_time].sum())
    sd_days = np.clip(hi_95[:lead_time] - point[:lead_time], 0.0, None) / Z_95
    sd = float(np.sqrt((sd_days**2).sum()))
    safety = float(norm.ppf(service_level)) * sd
    return StockPoint(lead_time, service_level, mean, sd, safety, mean + safety)


def naive_levels(demand, lead_time: int, window: int = NAIVE_WINDOW) -> np.ndarray:
    """The naive policy's level at the end of each day: mean demand of the last `window` days
    (fewer at the start) x lead time."""
    demand = np.asarray(demand, float)
    sums = np.cumsum(demand)
    days = np.arange(1, len(demand) + 1)
    start = np.maximum(days - window, 0)
    window_sums = sums - np.concatenate([[0.0], sums])[start]
    return window_sums / (days - start) * lead_time


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
    demand: pd.Series, origin_levels: pd.Series, lead_time: int, until=None
) -> tuple[Replay, Replay]:
    """(ours, naive) replays of one product's daily demand (indexed by date, complete) from its first
    forecast origin to `until` (default: its last day). Ours: the level set at each origin (the end
    of that day) held until the next one; naive: naive_levels of the whole history up to each day."""
    naive = pd.Series(naive_levels(demand.to_numpy(), lead_time), index=demand.index)
    first = origin_levels.index.min()
    days = demand.loc[first:until].index
    ours = origin_levels.reindex(days).ffill()
    return (
        replay_base_stock(demand.loc[days], ours, lead_time),
        replay_base_stock(demand.loc[days], naive.loc[days], lead_time),
    )


def compare_policies(
    forecasts: pd.DataFrame, method: str, grid: pd.DataFrame, lead_time: int, service_level: float, step: int
) -> dict[str, float]:
    """Replay both policies on every series of a rolling backtest (`forecasts`: rolling_forecasts'
    rows; `grid`: the series' daily sales, series_id, date, y), each origin's level held `step` days
    (the next origin). Service level: the mean over series; average stock: the sum over series."""
    replays = []
    for series_id, part in forecasts.sort_values(["series_id", "cutoff", "date"]).groupby("series_id"):
        levels = pd.Series(
            {
                cutoff: reorder_point(o[method], o[f"{method}-hi-95"], lead_time, service_level).reorder_point
                for cutoff, o in part.groupby("cutoff")
            }
        ).sort_index()
        demand = grid[grid["series_id"] == series_id].set_index("date")["y"].sort_index()
        replays.append(
            policy_replay(demand, levels, lead_time, until=levels.index.max() + pd.Timedelta(days=step - 1))
        )
    ours, naive = zip(*replays, strict=True) if replays else ((), ())
    return {
        "service_level": float(np.mean([r.service_level for r in ours])),
        "average_stock": float(np.sum([r.average_stock for r in ours])),
        "naive_service_level": float(np.mean([r.service_level for r in naive])),
        "naive_average_stock": float(np.sum([r.average_stock for r in naive])),
        "series": len(replays),
        "days": int(ours[0].days) if ours else 0,
    }
