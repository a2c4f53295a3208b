"""Two recent inputs (monitoring.inputs) on hand-made data with known answers: the early delivery
signal (DELIVERED: what the warehouse knows on D of the last days' deliveries, its exact
Poisson-binomial p-value, a delay spell flagged before the lateness - known LATE_AFTER_DAYS after
an order - can be) and the signups per channel against the reference's rate (SIGNUPS)."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ecomm.monitoring.drift import poisson_binomial_pvalue
from ecomm.monitoring.inputs import (
    DELIVERED,
    DELIVERED_AGES,
    SIGNUPS,
    delivered_by,
    delivery_reference,
    inputs_drift,
    inputs_reference,
    signup_reference,
    signups_drift,
)


def test_equal_probabilities_give_the_two_sided_binomial_pvalue():
    for observed in range(11):
        tails = stats.binom.cdf(observed, 10, 0.3), stats.binom.sf(observed - 1, 10, 0.3)
        assert poisson_binomial_pvalue(observed, [0.3] * 10) == pytest.approx(min(1.0, 2 * min(tails)))


def test_mixed_probabilities_match_the_enumerated_outcomes():
    probabilities = [0.2, 0.2, 0.7, 0.7, 0.7, 0.95]
    pmf = np.zeros(len(probabilities) + 1)
    for outcome in itertools.product([0, 1], repeat=len(probabilities)):
        pmf[sum(outcome)] += np.prod([p if o else 1 - p for p, o in zip(probabilities, outcome, strict=True)])
    for observed in range(len(probabilities) + 1):
        known = min(1.0, 2 * min(pmf[: observed + 1].sum(), pmf[observed:].sum()))
        assert poisson_binomial_pvalue(observed, probabilities) == pytest.approx(known, abs=1e-12)


@pytest.mark.parametrize(
    ("observed", "probabilities", "message"),
    [(0, [], "no trials"), (1, [1.5], r"in \[0, 1\]"), (3, [0.5, 0.5], "3 successes in 2 trials")],
)
def test_bad_inputs_are_refused(observed, probabilities, message):
    with pytest.raises(ValueError, match=message):
        poisson_binomial_pvalue(observed, probabilities)


def placed(d: int, hour: int = 10) -> pd.Timestamp:
    return pd.Timestamp(dt.date(2024, 3, d)) + pd.Timedelta(hours=hour)


def test_what_is_known_on_d_of_the_last_days_deliveries():
    assert DELIVERED_AGES == (3, 4, 5, 6, 7)
    lines = pd.DataFrame(
        {
            "order_id": [1, 1, 2, 3, 4, 5, 6, 7],
            "order_ts": [
                placed(7),
                placed(7),
                placed(8, 23),
                placed(3),
                placed(2),
                placed(9),
                placed(5),
                placed(6),
            ],
            "status": ["completed"] * 6 + ["cancelled", "completed"],
            "delivery_days": [3.0, 3.0, 4.0, 7.0, 1.0, 1.0, np.nan, 9.0],
        }
    )
    known = delivered_by(lines, dt.date(2024, 3, 10))
    # order 1 (two lines, age 3, delivered in 3 days: yes), 2 (age 2: too young), 3 (age 7, in 7:
    # yes), 4 (age 8: too old), 5 (age 1), 6 (cancelled), 7 (age 4, takes 9: not yet)
    assert sorted(map(tuple, known[["age", "delivered"]].to_numpy().tolist())) == [
        (3, True),
        (4, False),
        (7, True),
    ]
    reference = delivery_reference(lines, dt.date(2024, 3, 1), dt.date(2024, 3, 8))
    # orders 1, 2, 3, 4, 7 (6 cancelled): delivered in 3, 4, 7, 1, 9 days
    assert reference["rows"] == 5
    assert reference["delivered"] == {"3": 0.4, "4": 0.6, "5": 0.6, "6": 0.6, "7": 0.8}


def shop(days: int, per_day: int, delay_from: dt.date | None, seed: int) -> pd.DataFrame:
    """`per_day` orders a day to 2024-06-30: on time (1..5 days, 92%) or late (6..12); from
    `delay_from` on (a carrier's strike), late with probability 0.9."""
    rng = np.random.default_rng(seed)
    last = dt.date(2024, 6, 30)
    dates = np.repeat([last - dt.timedelta(days=n) for n in range(days)], per_day)
    late_rate = np.where(pd.to_datetime(dates) >= pd.Timestamp(delay_from or dt.date.max), 0.9, 0.08)
    late = rng.random(dates.size) < late_rate
    delivery = np.where(late, rng.integers(6, 13, dates.size), rng.integers(1, 6, dates.size))
    return pd.DataFrame(
        {
            "order_id": np.arange(dates.size),
            "order_ts": pd.to_datetime(dates) + pd.Timedelta(hours=12),
            "product_id": 1,
            "unit_price": 10.0,
            "status": "completed",
            "delivery_days": delivery.astype(float),
        }
    )


def test_a_delay_spell_is_flagged_by_the_early_signal_before_the_lateness_is_known():
    products = pd.DataFrame({"product_id": [1], "category": ["Books"], "list_price": [10.0]})
    customers = pd.DataFrame(
        {"customer_id": [], "age": [], "acquisition_channel": [], "signup_date": pd.to_datetime([])}
    )
    start = dt.date(2024, 6, 20)
    day = start + dt.timedelta(days=4)  # ages 3..7: orders of 17..21 June, 2 days of them delayed
    cutoff = day - dt.timedelta(days=7)

    def flagged(lines) -> list[str]:
        reference = inputs_reference(customers, lines, products, cutoff)
        return [
            r.feature
            for r in inputs_drift(reference, customers, lines, products, day, 0.01, 0.1)
            if r.drifted
        ]

    # on the 24th the lateness is known of the orders of 17..19 June: no delayed order among them
    assert flagged(shop(150, 30, start, seed=1)) == [DELIVERED]
    unchanged = [flagged(shop(150, 30, None, seed=s)) for s in range(10)]
    assert unchanged == [[]] * 10


def signups(per_channel: dict[str, int], first: dt.date, days: int) -> pd.DataFrame:
    """Customers signing up evenly over `days` from `first`, `per_channel` of each channel."""
    channels = [c for c, n in per_channel.items() for _ in range(n)]
    offsets = np.arange(len(channels)) % days
    return pd.DataFrame(
        {
            "customer_id": np.arange(len(channels)),
            "age": 40.0,
            "acquisition_channel": channels,
            "signup_date": pd.to_datetime(first) + pd.to_timedelta(offsets, unit="D"),
        }
    )


def test_signups_per_channel_against_the_reference_rate():
    # 90 reference days: email 45, social 9 -> 3.5 and 0.7 expected in a 7-day window
    reference = signup_reference(
        signups({"email": 45, "social": 9}, dt.date(2024, 1, 1), 90),
        dt.date(2024, 1, 1),
        dt.date(2024, 3, 30),
    )
    assert reference == {"kind": "rate", "rows": 54, "days": 90, "counts": {"email": 45, "social": 9}}
    # social 6 in a week: P(X >= 6 | 0.7) two-sided, times the 2 channels; its rate PSI (r-1) ln r
    row = signups_drift(reference, ["email"] * 3 + ["social"] * 6)
    assert row.feature == SIGNUPS and row.current_rows == 9
    assert row.chi2_p_value == pytest.approx(2 * 2 * stats.poisson.sf(5, 0.7))
    assert row.psi == pytest.approx((6 / 0.7 - 1) * np.log(6 / 0.7))
    # a week like the reference: the smallest p-value is far from any flag
    assert signups_drift(reference, ["email"] * 4 + ["social"]).chi2_p_value > 0.5
    # a channel the reference never saw counts as half a signup in its 90 days: 0.039 a week
    new = signups_drift(reference, ["email"] * 3 + ["tiktok"] * 2)
    assert new.chi2_p_value == pytest.approx(3 * 2 * stats.poisson.sf(1, 0.5 * 7 / 90))


def test_a_warehouse_younger_than_the_reference_counts_its_signups_over_its_own_days():
    products = pd.DataFrame({"product_id": [1], "category": ["Books"], "list_price": [10.0]})
    lines = shop(30, 5, None, seed=0)  # orders from 2024-06-01
    customers = signups({"email": 30}, dt.date(2024, 6, 1), 30)
    reference = inputs_reference(customers, lines, products, dt.date(2024, 6, 23))
    assert reference[SIGNUPS]["days"] == 23 and reference[SIGNUPS]["counts"] == {"email": 23}
    rows = inputs_drift(reference, customers, lines, products, dt.date(2024, 6, 30), 0.01, 0.1)
    assert [r.feature for r in rows if r.drifted] == []
