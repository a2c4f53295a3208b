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
  window's order lines (the catalog keeps the launch price, so a price rise shows as an index > 1).
The category mix of the lines was tried and left out: it moves with the seasons (a spring reference
against November), so it alarmed on stable worlds; the price index carries a price rise.
The reference pools the same values over the REFERENCE_DAYS before a reference cutoff. Each
feature gets a PSI and a p-value (KS against the reference sketch, chi-squared for categories);
drift.flag_features decides which are drifted (Bonferroni over the day's features + minimum PSI).

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
    ks_pvalue,
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
    numeric_summary,
)

WINDOW_DAYS = 7
LATE_AFTER_DAYS = 5  # on-time deliveries take 1..5 days (datagen), late ones 6..12
LATE_WINDOW_DAYS = 3
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
    """The summaries (monitoring.reference) of every input feature over the `days` up to `cutoff`."""
    first, last = window_of(cutoff, days)
    return {
        name: categorical_summary(v) if kind == CATEGORICAL else numeric_summary(v)
        for name, (kind, v) in input_values(customers, lines, products, first, last).items()
    }


def _numeric_test(name: str, summary: dict, values) -> FeatureDrift:
    x = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    if x.size == 0 or summary["rows"] == 0:
        return FeatureDrift(name, NUMERIC, 0.0, None, None, False, summary["rows"], int(x.size))
    psi = psi_of_shares(summary["shares"], bin_shares(x, np.asarray(summary["edges"], dtype=float)))
    statistic = float(stats.ks_2samp(np.asarray(summary["sketch"]), x).statistic)
    pvalue = ks_pvalue(statistic, summary["rows"], int(x.size))
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
    flags = flag_features([r.chi2_p_value for r in rows], [r.psi for r in rows], alpha, min_psi)
    return [
        FeatureDrift(
            r.feature, r.kind, r.psi, r.ks_statistic, r.chi2_p_value, f, r.reference_rows, r.current_rows
        )
        for r, f in zip(rows, flags, strict=True)
    ]
