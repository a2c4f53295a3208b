"""The retraining trigger (monitoring.orders) on hand-made order histories with known answers: small
unchanged samples whose one-day PSI is large do not retrain, a real shift does, once per episode
(on its first drifted day, or on the day it has lasted persist_days)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ecomm.monitoring.drift import psi
from ecomm.monitoring.orders import (
    REFERENCE_DAYS,
    WINDOW_DAYS,
    RetrainRule,
    episode_reached,
    trigger,
    window_drift,
    windows,
)

RULE = RetrainRule(alpha=0.005, min_psi=0.1, min_orders=100)
DAY = date(2024, 9, 10)


def history(per_day: int, days: int, last: date, seed: int, shift_from: date | None = None, factor=1.0):
    """`per_day` orders a day for `days` days to `last`: lognormal order values, basket sizes
    1 + Poisson(1); from `shift_from` on, order values multiplied by `factor`."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in range(days):
        day = last - timedelta(days=n)
        value = rng.lognormal(3.5, 0.6, per_day)
        if shift_from is not None and day >= shift_from:
            value = value * factor
        rows.append(
            pd.DataFrame(
                {"order_date": day, "order_value": value, "basket_size": 1.0 + rng.poisson(1.0, per_day)}
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_windows_are_the_last_7_days_and_the_28_before():
    (ref_first, ref_last), (cur_first, cur_last) = windows(DAY)
    assert (cur_first, cur_last) == (date(2024, 9, 4), DAY)
    assert (ref_first, ref_last) == (date(2024, 8, 7), date(2024, 9, 3))
    assert (ref_last - ref_first).days + 1 == REFERENCE_DAYS
    assert (cur_last - cur_first).days + 1 == WINDOW_DAYS


def test_small_unchanged_samples_do_not_drift_though_one_days_psi_is_large():
    drifted_days, one_day_psi = 0, []
    for seed in range(40):
        orders = history(per_day=30, days=40, last=DAY, seed=seed)
        report = window_drift(orders, DAY, RULE)
        assert report["tested"] and report["n_current"] == 7 * 30 and report["n_reference"] == 28 * 30
        drifted_days += bool(report["drifted"])
        today = orders[orders.order_date == DAY]
        before = orders[(orders.order_date < DAY) & (orders.order_date >= DAY - timedelta(days=28))]
        one_day_psi.append(psi(before.order_value, today.order_value))
    assert drifted_days == 0  # alpha 0.005 a day: 40 unchanged histories, none expected to flag
    assert np.median(one_day_psi) > 0.25  # the old trigger (one day, PSI >= 0.25) would mostly fire


def test_a_real_shift_drifts_and_retrains_on_its_first_drifted_day_only():
    start = DAY - timedelta(days=3)  # 4 of the window's 7 days shifted
    orders = history(per_day=30, days=45, last=DAY + timedelta(days=3), seed=1, shift_from=start, factor=1.6)
    reports = {d: window_drift(orders, d, RULE) for d in (start + timedelta(days=n) for n in range(-1, 7))}
    assert reports[start - timedelta(days=1)]["drifted"] == []
    drifted = [d for d, r in reports.items() if r["drifted"]]
    assert drifted and drifted[0] <= DAY
    first = drifted[0]
    assert "order_value" in reports[first]["drifted"]
    assert "basket_size" not in reports[first]["drifted"]  # the shift left basket sizes alone
    fires, reason = trigger([reports[first - timedelta(days=1)], reports[first]], RULE)
    assert fires and reason.startswith("drift: order_value")
    later = first + timedelta(days=1)
    fires, reason = trigger([reports[first], reports[later]], RULE)
    assert not fires and reason.startswith("drift continues")

    # two days needed: the first drifted day waits, the second retrains, the third continues
    rule = RetrainRule(RULE.alpha, RULE.min_psi, RULE.min_orders, persist_days=2)
    day = [first + timedelta(days=n) for n in range(-2, 3)]
    assert all(reports[d]["drifted"] for d in day[2:])
    fires, reason = trigger([reports[d] for d in day[:3]], rule)
    assert not fires and reason.startswith("drift on 1 consecutive day(s) (order_value), 2 needed")
    fires, reason = trigger([reports[d] for d in day[1:4]], rule)
    assert fires and reason.startswith("drift: order_value")
    fires, reason = trigger([reports[d] for d in day[2:5]], rule)
    assert not fires and reason.startswith("drift continues (order_value; drifted on each of the 3 days")


@pytest.mark.parametrize(
    ("drifted", "days", "reached"),
    [
        ([False, True], 1, True),
        ([True, True], 1, False),
        ([True], 1, True),  # no earlier day known: counts as not drifted
        ([False, False, True], 2, False),
        ([False, True, True], 2, True),
        ([True, True, True], 2, False),
        ([True, False, True, True, True], 3, True),
        ([False, True, False, True], 2, False),  # a gap ends the episode
    ],
)
def test_an_episode_retrains_on_the_day_it_reaches_persist_days(drifted, days, reached):
    assert episode_reached(drifted, days) is reached


def test_a_large_sample_s_negligible_shift_is_not_a_trigger():
    orders = history(per_day=2000, days=36, last=DAY, seed=2, shift_from=DAY - timedelta(days=6), factor=1.03)
    report = window_drift(orders, DAY, RULE)
    assert report["order_value"]["ks_pvalue"] < RULE.alpha / 2  # significant at 14,000 orders
    assert report["order_value"]["psi"] < RULE.min_psi  # but a 3% shift is below the minimum effect
    assert report["drifted"] == []


def test_too_few_orders_are_not_tested_and_say_so():
    orders = history(per_day=10, days=40, last=DAY, seed=3, shift_from=DAY - timedelta(days=6), factor=3.0)
    report = window_drift(orders, DAY, RULE)
    assert (report["tested"], report["n_current"], report["drifted"]) == (False, 70, [])
    assert "order_value" not in report
    fires, reason = trigger([report, report], RULE)
    assert not fires
    assert reason == (
        "not tested: 70 orders in 2024-09-04 .. 2024-09-10, 280 in the reference; at least 100 each are needed"
    )


@pytest.mark.parametrize(
    ("alpha", "min_psi", "min_orders", "days", "message"),
    [
        (0.0, 0.1, 100, 1, "alpha must be in"),
        (1.5, 0.1, 100, 1, "alpha must be in"),
        (0.005, -0.1, 100, 1, "min_psi must be >= 0"),
        (0.005, 0.1, 0, 1, "min_orders must be >= 1"),
        (0.005, 0.1, 100, 0, "persist_days must be >= 1"),
    ],
)
def test_bad_rules_are_refused(alpha, min_psi, min_orders, days, message):
    with pytest.raises(ValueError, match=message):
        RetrainRule(alpha, min_psi, min_orders, days)
