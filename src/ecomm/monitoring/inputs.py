"""Drift of the recent raw inputs the models are built from (pure: frames in, rows out).

A model's features summarise 90-180 days of the whole customer base, so a change that touches new
customers or new orders moves them slowly (README "Model drift"). This view looks where a shift
lands first, over the last WINDOW_DAYS business dates up to day D:
* `new_customer_age`, `new_customer_channel` - the customers who signed up in the window;
* `late_delivery` - late or on time, for the orders whose lateness is known by D: placed in the
  LATE_WINDOW_DAYS up to D - LATE_AFTER_DAYS (an on-time delivery takes at most that many days, so
  an order still undelivered then is late - no need to wait for its delivery). A shorter window:
  this view is already LATE_AFTER_DAYS behind, and 7 days of it would dilute a change's first days;
* `price_index[<category>]` - unit price / the product's catalog list price, per category, of the
  window's order lines (the catalog keeps the launch price, so a price rise shows as an index > 1);
* `delivered_by_now` (DELIVERED) - whether each order placed DELIVERED_AGES days before D is
  delivered by D, against the reference's share delivered within as many days (exact
  Poisson-binomial p-value; PSI of delivered / pending against the shares the reference expects at
  those ages): censored, but it moves on the first days of a delay, where lateness waits 5 days;
* `signups_per_channel` (SIGNUPS) - the window's signups per acquisition channel against the
  reference's daily rate (Poisson, Bonferroni over the channels): a new channel adds customers to
  one channel, where the shares of a handful of new customers move little.
The category mix of the lines was tried and left out: it moves with the seasons (a spring reference
against November), so it alarmed on stable worlds; the price index carries a price rise.
The reference pools the same values over the REFERENCE_DAYS before a reference cutoff. Each
feature gets a PSI and a p-value (KS against the reference's rows, which are kept beside its summary
as the reference is rebuilt each day and never stored, exact for a small window:
drift.ks_small_window; chi-squared for categories); drift.flag_features decides which are drifted
(Bonferroni over the day's features + minimum PSI).

Frames (the raw contract's columns): customers (customer_id, age, acquisition_channel,
signup_date), lines (order_id, order_ts, product_id, unit_price, status, delivery_days), products
(product_id, category, list_price).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats

from ecomm.monitoring.drift import (
    bin_shares,
    category_counts,
    flag_features,
    ks_small_window,
    poisson_binomial_pvalue,
    psi_of_shares,
    small_sample_chi2_pvalue,
)
from ecomm.monitoring.reference import (
    CATEGORICAL,
    NUMERIC,
    OTHER,
    FeatureDrift,
    categorical_summary,
    category_labels,
    finite,
    numeric_summary,
)

WINDOW_DAYS = 7
LATE_AFTER_DAYS = 5  # on-time deliveries take 1..5 days (datagen), late ones 6..12
LATE_WINDOW_DAYS = 3
DELIVERED = "delivered_by_now"
DELIVERED_AGES = (3, 4, 5, 6, 7)  # days since the order was placed (README "Model drift" says why)
DELIVERY = "delivery"  # the reference summary kind of DELIVERED
SIGNUPS = "signups_per_channel"
RATE = "rate"  # the reference summary kind of SIGNUPS
REFERENCE_DAYS = 90
PRICE_INDEX = "price_index[{}]"


def _between(moments, first: dt.date, last: dt.date) -> pd.Series:
    """Whether each timestamp or date falls on a business date first..last (vectorised: the frames
    are passed as they are read, and a daily loop over them calls this often)."""
    days = pd.to_datetime(moments).dt.normalize()
    return (days >= pd.Timestamp(first)) & (days <= pd.Timestamp(last))


def input_values(
    customers, lines, products, first: dt.date, last: dt.date, late_days: int | None = None
) -> dict[str, tuple[str, pd.Series]]:
    """Each input feature's (kind, values) over the business dates first..last; the lateness over
    the last `late_days` of them (None: all; the reference pools the whole period)."""
    new = customers[_between(customers["signup_date"], first, last)]
    placed = lines["order_ts"]
    shift = dt.timedelta(days=LATE_AFTER_DAYS)
    late_first = (first if late_days is None else max(first, last - dt.timedelta(days=late_days - 1))) - shift
    orders = lines[_between(placed, late_first, last - shift) & (lines["status"] != "cancelled")]
    orders = orders.drop_duplicates("order_id")
    late = np.where(orders["delivery_days"] > LATE_AFTER_DAYS, "late", "on_time")
    window = lines[_between(placed, first, last)].merge(
        products[["product_id", "category", "list_price"]], on="product_id"
    )
    values = {
        "new_customer_age": (NUMERIC, new["age"]),
        "new_customer_channel": (CATEGORICAL, new["acquisition_channel"]),
        "late_delivery": (CATEGORICAL, pd.Series(late, dtype=object)),
    }
    index = window["unit_price"] / window["list_price"]
    for category in sorted(products["category"].unique()):
        values[PRICE_INDEX.format(category)] = (NUMERIC, index[window["category"] == category])
    return values


def window_of(day: dt.date, days: int) -> tuple[dt.date, dt.date]:
    return day - dt.timedelta(days=days - 1), day


def inputs_reference(customers, lines, products, cutoff: dt.date, days: int = REFERENCE_DAYS) -> dict:
    """The summaries (monitoring.reference) of every input feature over the `days` up to `cutoff`,
    and DELIVERED's (`delivery_reference`)."""
    first, last = window_of(cutoff, days)
    shift = dt.timedelta(days=LATE_AFTER_DAYS)
    return {
        name: categorical_summary(v) if kind == CATEGORICAL else numeric_summary(v) | {"values": finite(v)}
        for name, (kind, v) in input_values(customers, lines, products, first, last).items()
    } | {
        DELIVERED: delivery_reference(lines, first - shift, last - shift),
        SIGNUPS: signup_reference(customers, max(first, _first_day(lines, first)), last),
    }


def _first_day(lines, default: dt.date) -> dt.date:
    """The first business date with an order in `lines` (a warehouse younger than the reference has
    signups on fewer days than the reference spans; their rate counts only those)."""
    if len(lines) == 0:
        return default
    return pd.to_datetime(lines["order_ts"]).min().date()


def signup_reference(customers, first: dt.date, last: dt.date) -> dict:
    """SIGNUPS' reference: the customers who signed up on first..last, counted per channel."""
    new = customers[_between(customers["signup_date"], first, last)]
    counts = new["acquisition_channel"].astype(str).value_counts()
    return {
        "kind": RATE,
        "rows": int(len(new)),
        "days": (last - first).days + 1,
        "counts": {str(c): int(n) for c, n in counts.items()},
    }


def signups_drift(summary: dict, channels) -> FeatureDrift:
    """The window's signups per channel against the reference's daily rate x WINDOW_DAYS: each
    channel's exact two-sided Poisson p-value, Bonferroni over the channels (the smallest x their
    number: one feature), and that channel's rate PSI (r - 1) ln r, r = count / expected (PSI's
    formula on one rate; a count of 0 counts as 0.5, a channel the reference never saw as 0.5
    signups in it, so both stay finite)."""
    counts = pd.Series(channels, dtype=object).astype(str).value_counts()
    names = sorted(set(summary["counts"]) | set(counts.index))
    if summary["days"] <= 0 or not names:
        return FeatureDrift(SIGNUPS, CATEGORICAL, 0.0, None, None, False, summary["rows"], int(counts.sum()))
    best = (1.0, 0.0)
    for name in names:
        expected = max(summary["counts"].get(name, 0), 0.5) * WINDOW_DAYS / summary["days"]
        k = int(counts.get(name, 0))
        pvalue = min(1.0, 2 * min(stats.poisson.cdf(k, expected), stats.poisson.sf(k - 1, expected)))
        ratio = max(k, 0.5) / expected
        best = min(best, (float(pvalue), float((ratio - 1) * np.log(ratio))))
    pvalue = min(1.0, best[0] * len(names))
    return FeatureDrift(
        SIGNUPS, CATEGORICAL, best[1], None, pvalue, False, summary["rows"], int(counts.sum())
    )


def _orders(lines, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The orders placed on first..last, not cancelled, one row each."""
    placed = _between(lines["order_ts"], first, last) & (lines["status"] != "cancelled")
    return lines[placed].drop_duplicates("order_id")


def delivery_reference(lines, first: dt.date, last: dt.date) -> dict:
    """DELIVERED's reference: of the orders placed first..last (the reference's lateness period, whose
    deliveries are all known), the share delivered within each of DELIVERED_AGES days."""
    days = _orders(lines, first, last)["delivery_days"].to_numpy(dtype=float)
    within = {str(a): float((days <= a).mean()) if days.size else 0.0 for a in DELIVERED_AGES}
    return {"kind": DELIVERY, "rows": int(days.size), "delivered": within}


def delivered_by(lines, day: dt.date) -> pd.DataFrame:
    """What the warehouse knows on `day` of the deliveries of the orders placed DELIVERED_AGES days
    before it: each order's age (days since placed) and whether it is delivered by `day` (within
    `age` days) - censored, but known at once, where lateness waits LATE_AFTER_DAYS."""
    ages = sorted(DELIVERED_AGES)
    orders = _orders(lines, day - dt.timedelta(days=ages[-1]), day - dt.timedelta(days=ages[0]))
    age = (pd.Timestamp(day) - pd.to_datetime(orders["order_ts"]).dt.normalize()).dt.days.to_numpy()
    keep = np.isin(age, ages)
    delivered = orders["delivery_days"].to_numpy(dtype=float)[keep] <= age[keep]
    return pd.DataFrame({"age": age[keep], "delivered": delivered})


def _numeric_test(name: str, summary: dict, values) -> FeatureDrift:
    x = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    if x.size == 0 or summary["rows"] == 0:
        return FeatureDrift(name, NUMERIC, 0.0, None, None, False, summary["rows"], int(x.size))
    psi = psi_of_shares(summary["shares"], bin_shares(x, np.asarray(summary["edges"], dtype=float)))
    statistic, pvalue = ks_small_window(summary["values"], x)
    # the KS p-value rides in chi2_p_value's place: FeatureDrift has one p-value slot
    return FeatureDrift(name, NUMERIC, psi, statistic, pvalue, False, summary["rows"], int(x.size))


def _categorical_test(name: str, summary: dict, values) -> FeatureDrift:
    labels = category_labels(values)
    if len(labels) == 0:
        return FeatureDrift(name, CATEGORICAL, 0.0, None, None, False, summary["rows"], 0)
    categories = list(summary["shares"])
    counts = category_counts(labels.tolist(), categories, OTHER)
    shares = [summary["shares"][c] for c in categories]
    psi = psi_of_shares(shares, counts / counts.sum())
    return FeatureDrift(
        name,
        CATEGORICAL,
        psi,
        None,
        small_sample_chi2_pvalue(counts, shares),
        False,
        summary["rows"],
        int(len(labels)),
    )


def delivered_drift(summary: dict, current: pd.DataFrame) -> FeatureDrift:
    """The orders delivered by D against the reference's share delivered within each order's age:
    the exact two-sided Poisson-binomial p-value of the count and the PSI of delivered / pending
    (the current shares against those the reference expects at these ages)."""
    if len(current) == 0 or summary["rows"] == 0:
        return FeatureDrift(DELIVERED, CATEGORICAL, 0.0, None, None, False, summary["rows"], len(current))
    expected = np.array([summary["delivered"][str(a)] for a in current["age"]], dtype=float)
    observed = int(current["delivered"].sum())
    share, expected_share = observed / len(current), float(expected.mean())
    psi = psi_of_shares([expected_share, 1 - expected_share], [share, 1 - share])
    pvalue = poisson_binomial_pvalue(observed, expected)
    return FeatureDrift(DELIVERED, CATEGORICAL, psi, None, pvalue, False, summary["rows"], len(current))


def inputs_drift(
    reference: dict, customers, lines, products, day: dt.date, alpha: float, min_psi: float
) -> list[FeatureDrift]:
    """The last WINDOW_DAYS up to `day` against the reference, flagged by drift.flag_features."""
    first, last = window_of(day, WINDOW_DAYS)
    current = input_values(customers, lines, products, first, last, LATE_WINDOW_DAYS)
    rows = [
        (_categorical_test if summary["kind"] == CATEGORICAL else _numeric_test)(
            name, summary, current[name][1]
        )
        for name, summary in reference.items()
        if name in current
    ]
    if DELIVERED in reference:
        rows.append(delivered_drift(reference[DELIVERED], delivered_by(lines, day)))
    if SIGNUPS in reference:
        rows.append(signups_drift(reference[SIGNUPS], current["new_customer_channel"][1]))
    flags = flag_features([r.chi2_p_value for r in rows], [r.psi for r in rows], alpha, min_psi)
    return [
        FeatureDrift(
            r.feature, r.kind, r.psi, r.ks_statistic, r.chi2_p_value, f, r.reference_rows, r.current_rows
        )
        for r, f in zip(rows, flags, strict=True)
    ]
