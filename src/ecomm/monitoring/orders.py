"""The retraining trigger of model_monitoring: drift of the recent orders against the weeks before.

Per order (all lines, whatever their later status): order value = sum of quantity x unit price
(before discounts: a campaign's discount is a planned price action, and the week after Black
Friday's sale drifted the discounted value on stable worlds - README "Model drift"), basket size =
sum of line quantities. On business date D the current sample pools the orders of the
WINDOW_DAYS days ending on D (every weekday once), the reference the REFERENCE_DAYS days before
that window. Each feature is compared by PSI (quantile bins of the reference) and the two-sample
KS test, and is **drifted** when both say so (`RetrainRule`):
* KS p-value < alpha / 2 (Bonferroni over the two features), so a day's chance of a false flag
  stays <= alpha at any volume - PSI alone does not: its noise grows as the samples shrink (about
  (bins - 1) x (1/n + 1/m) on unchanged data, 0.8-1.7 on one day of a few dozen orders);
* PSI >= a minimum effect, so a large sample's negligible shift does not retrain;
* at least `min_orders` orders in each sample, or nothing is tested (the report says so).
Retraining fires once per drifted episode, on the day it has lasted `persist_days` consecutive
days (D and the days before it drifted, the day before them not; `episode_reached`): the pooled
windows of consecutive days overlap, so one lasting shift (or one noisy week) stays drifted for
days and would otherwise retrain every day of it, and a one-day blip does not retrain at all when
`persist_days` > 1.
`order_drift` reads the orders from the warehouse; `window_drift` and `trigger` are pure, so
benchmarks/bench_drift.py measures the same rule on raw files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ecomm import db
from ecomm.monitoring.drift import compare
from ecomm.settings import Settings

WINDOW_DAYS = 7
REFERENCE_DAYS = 28
FEATURES = ("order_value", "basket_size")

_ORDERS = """
    SELECT order_date, sum(quantity * unit_price)::float8 AS order_value,
           sum(quantity)::float8 AS basket_size
    FROM warehouse.fact_order_items
    WHERE order_date BETWEEN %(first)s AND %(day)s
    GROUP BY order_id, order_date
"""


class NoOrders(RuntimeError):
    """The warehouse has no orders for the date to compare."""


@dataclass(frozen=True)
class RetrainRule:
    alpha: float  # family-wise significance of one day's two tests
    min_psi: float  # minimum effect
    min_orders: int  # in each of the current and reference samples
    persist_days: int = 1  # consecutive drifted days before an episode retrains

    def __post_init__(self):
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.min_psi < 0:
            raise ValueError(f"min_psi must be >= 0, got {self.min_psi}")
        if self.min_orders < 1:
            raise ValueError(f"min_orders must be >= 1, got {self.min_orders}")
        if self.persist_days < 1:
            raise ValueError(f"persist_days must be >= 1, got {self.persist_days}")

    @classmethod
    def of(cls, settings: Settings) -> RetrainRule:
        return cls(
            settings.drift_retrain_alpha,
            settings.drift_retrain_psi,
            settings.drift_retrain_min_orders,
            settings.drift_retrain_days,
        )


def drifted_run(drifted) -> int:
    """How many days at the end of `drifted` (one flag per day, oldest first) are drifted in a row."""
    return next((n for n, d in enumerate(reversed(drifted)) if not d), len(drifted))


def episode_reached(drifted: list[bool], persist_days: int) -> bool:
    """Whether the last day of `drifted` (one flag per day, oldest first) is the day a drifted
    episode reaches `persist_days` consecutive days: the last `persist_days` drifted and the day
    before them not (days before the list count as not drifted)."""
    if persist_days < 1:
        raise ValueError(f"persist_days must be >= 1, got {persist_days}")
    return drifted_run(drifted) == persist_days


def windows(day: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """(reference first, last), (current first, last) of business date `day`."""
    current_first = day - timedelta(days=WINDOW_DAYS - 1)
    reference_last = current_first - timedelta(days=1)
    return (reference_last - timedelta(days=REFERENCE_DAYS - 1), reference_last), (current_first, day)


def window_drift(orders: pd.DataFrame, day: date, rule: RetrainRule) -> dict:
    """The comparison of `day` (JSON-able): `orders` has one row per order with order_date (a date),
    order_value and basket_size, at least for the days the windows cover."""
    (ref_first, ref_last), (cur_first, _) = windows(day)
    dates = orders["order_date"]
    current = orders[(dates >= cur_first) & (dates <= day)]
    reference = orders[(dates >= ref_first) & (dates <= ref_last)]
    report = {
        "business_date": day.isoformat(),
        "window": [cur_first.isoformat(), day.isoformat()],
        "reference_window": [ref_first.isoformat(), ref_last.isoformat()],
        "n_current": len(current),
        "n_reference": len(reference),
        "tested": min(len(current), len(reference)) >= rule.min_orders,
        "drifted": [],
    }
    if not report["tested"]:
        return report
    cutoff = rule.alpha / len(FEATURES)
    for feature in FEATURES:
        drift = compare(reference[feature].to_numpy(), current[feature].to_numpy())
        flagged = drift.ks_pvalue < cutoff and drift.psi >= rule.min_psi
        report[feature] = drift.to_json() | {"drifted": flagged}
        if flagged:
            report["drifted"].append(feature)
    return report


def trigger(reports: list[dict], rule: RetrainRule) -> tuple[bool, str]:
    """Whether to retrain on the last day of `reports` (window_drift of D - rule.persist_days .. D,
    oldest first): the day its drifted episode reaches rule.persist_days days; and why, in one line."""
    today = reports[-1]
    if not today["tested"]:
        return False, (
            f"not tested: {today['n_current']} orders in {today['window'][0]} .. {today['window'][1]}, "
            f"{today['n_reference']} in the reference; at least {rule.min_orders} each are needed"
        )
    tests = ", ".join(f"{f} PSI {today[f]['psi']:.3f} KS p={today[f]['ks_pvalue']:.2g}" for f in FEATURES)
    rule_text = f"(drifted: p < {rule.alpha:g}/{len(FEATURES)} and PSI >= {rule.min_psi:g})"
    if not today["drifted"]:
        return False, f"no drift: {tests} {rule_text}"
    drifted = [bool(r["drifted"]) for r in reports]
    if episode_reached(drifted, rule.persist_days):
        return True, f"drift: {', '.join(today['drifted'])} - {tests} {rule_text}"
    run = drifted_run(drifted)
    if run < rule.persist_days:
        return False, (
            f"drift on {run} consecutive day(s) ({', '.join(today['drifted'])}), {rule.persist_days} "
            f"needed to retrain: {tests}"
        )
    return False, (
        f"drift continues ({', '.join(today['drifted'])}; drifted on each of the {run} days to "
        f"{today['business_date']}: the episode's retraining was due before): {tests}"
    )


def read_orders(settings: Settings, first: date, day: date) -> pd.DataFrame:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(_ORDERS, {"day": day, "first": first})
        rows = cur.fetchall()
    return pd.DataFrame(rows, columns=["order_date", *FEATURES])


def order_drift(settings: Settings, day: date) -> dict:
    """D's comparison, the drifted features of the rule's persist_days days before it (to tell an
    episode's retraining day from a continuing one) and the verdict: `retrain` and its one-line
    `reason` (JSON-able)."""
    rule = RetrainRule.of(settings)
    days = [day - timedelta(days=n) for n in range(rule.persist_days, -1, -1)]
    orders = read_orders(settings, windows(days[0])[0][0], day)
    if not (orders["order_date"] == day).any():
        raise NoOrders(f"no orders dated {day} in the warehouse (has the data pipeline loaded {day}?)")
    reports = [window_drift(orders, d, rule) for d in days]
    retrain, reason = trigger(reports, rule)
    rule_json = {
        "alpha": rule.alpha,
        "min_psi": rule.min_psi,
        "min_orders": rule.min_orders,
        "persist_days": rule.persist_days,
    }
    return reports[-1] | {
        "previous_days_drifted": [r["drifted"] for r in reports[:-1]],
        "retrain": retrain,
        "reason": reason,
        "rule": rule_json,
    }
