"""Customers: cohort retention, value distribution, RFM segments, new vs returning customers, and
the lifetime-value model's stored values (top customers, value by segment)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q
from ecomm.dashboard.filters import Filters

# Fewer cohorts than this say little about retention (one month: a single 100% cell), so a shorter
# range shows the cohorts of this many months up to its end.
MIN_COHORT_MONTHS = 6

TITLE = "Customers"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = (
    "customers of the chosen countries who ordered in the chosen categories; cohorts start "
    f"in the date range (or in the {MIN_COHORT_MONTHS} months up to its end, when it is shorter) and are "
    "followed up to its end; value and segments are of the customers who ordered in the range; "
    "the modelled customer value is of the chosen countries' customers at the month start it was scored"
)
NO_VALUES = (
    "No customer values are stored yet: `ecomm train clv` fits the lifetime-value model and stores "
    "every buyer's expected value in marts.customer_value."
)


def retention_grid(activity: pd.DataFrame, first_cohort) -> pd.DataFrame:
    """cohort month x months since first order -> share of the cohort active, cohorts from `first_cohort`."""
    sizes = activity[activity["months_since_first_order"] == 0].set_index("cohort_month")["active_customers"]
    shown = activity[activity["cohort_month"] >= first_cohort]
    grid = shown.pivot_table(
        index="cohort_month", columns="months_since_first_order", values="active_customers", aggfunc="sum"
    )
    return grid.div(sizes.reindex(grid.index), axis=0)


def first_cohort_month(flt: Filters) -> dt.date:
    """The first cohort shown: the range's first month, or MIN_COHORT_MONTHS before its last month."""
    widened = (pd.Timestamp(flt.end.replace(day=1)) - pd.DateOffset(months=MIN_COHORT_MONTHS - 1)).date()
    return min(flt.start.replace(day=1), widened)


def new_and_returning(activity: pd.DataFrame, first_month) -> pd.DataFrame:
    """month, new (first order that month), returning (ordered that month, first order earlier)."""
    months = activity.assign(
        month=[
            (pd.Timestamp(c) + pd.DateOffset(months=int(m))).date()
            for c, m in zip(activity["cohort_month"], activity["months_since_first_order"], strict=True)
        ]
    )
    months["kind"] = months["months_since_first_order"].map(lambda m: "new" if m == 0 else "returning")
    out = months.pivot_table(index="month", columns="kind", values="active_customers", aggfunc="sum")
    out = out.reindex(columns=["new", "returning"], fill_value=0).fillna(0).astype("int64")
    return out[out.index >= first_month].reset_index()


def render(ctx: L.PageContext) -> None:
    wh, flt = ctx.warehouse, ctx.filters
    first_month = flt.start.replace(day=1)
    first_cohort = first_cohort_month(flt)
    activity = Q.cohort_activity(wh, flt)

    st.subheader("Cohort retention")
    grid = retention_grid(activity, first_cohort)
    if grid.empty:
        st.info("No customer placed a first order in the date range.")
    else:
        fig = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=[str(c) for c in grid.columns],
                y=[f"{m:%b %Y}" for m in grid.index],
                colorscale="Blues",
                zmin=0,
                zmax=1,
                text=[[f"{v:.0%}" if pd.notna(v) else "" for v in row] for row in grid.to_numpy()],
                texttemplate="%{text}",
                hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>",
            )
        )
        fig.update_layout(
            yaxis={"autorange": "reversed"}, xaxis={"title": "months since first order", "type": "category"}
        )
        charts.show(fig, height=80 + 28 * len(grid))
        widened = (
            f" The range covers fewer than {MIN_COHORT_MONTHS} months: the cohorts from {first_cohort:%b %Y} "
            "are shown."
            if first_cohort < first_month
            else ""
        )
        st.caption(
            "Share of each first-order month's customers who ordered again n months later (whole "
            f"calendar months, up to the range's end).{widened}"
        )

    left, right = st.columns(2)
    with left:
        st.subheader("Customer value (12-month run rate)")
        bins = Q.clv_histogram(wh, flt)
        if bins.empty:  # no customer with an order in the filters
            st.info("No customer with an order matches the filters: no value to show.")
        else:
            fig = go.Figure(
                go.Bar(
                    x=(bins["bin_low"] + bins["bin_high"]) / 2,
                    y=bins["customers"],
                    width=(bins["bin_high"] - bins["bin_low"]) * 0.95,
                )
            )
            fig.update_layout(xaxis_title="net revenue per year of tenure ($)", yaxis_title="customers")
            charts.show(fig)
            st.caption(
                "The top 1% are in the last bar. A naive run-rate value (marts.customer_360), not a model."
            )
    with right:
        st.subheader("RFM segments")
        segments = Q.segments(wh, flt)
        charts.show(charts.hbar(segments, "customers", "rfm_segment", title="customers"))

    st.subheader("New and returning customers per month")
    months = new_and_returning(activity, first_month)
    fig = go.Figure()
    for kind in ("new", "returning"):
        fig.add_bar(x=[f"{m:%b %Y}" for m in months["month"]], y=months[kind], name=kind)
    fig.update_layout(barmode="stack", yaxis_title="customers with an order", legend={"orientation": "h"})
    charts.show(fig)

    render_customer_value(wh, flt)


def render_customer_value(wh, flt: Filters) -> None:
    st.subheader("Customer value (model)")
    summary = Q.value_summary(wh)
    if summary.empty:
        st.info(NO_VALUES)
        return
    as_of, horizon, version, _ = summary.iloc[0]
    left, right = st.columns(2)
    with left:
        st.markdown("**Top customers by expected value**")
        top = Q.top_value_customers(wh, flt)
        st.dataframe(
            top,
            hide_index=True,
            column_config={
                "expected_value": st.column_config.NumberColumn("expected value", format="$%.0f"),
                "p_alive": st.column_config.NumberColumn("P(alive)", format="%.2f"),
                "expected_orders": st.column_config.NumberColumn("expected orders", format="%.1f"),
                "expected_order_value": st.column_config.NumberColumn("per order", format="$%.0f"),
            },
        )
    with right:
        st.markdown("**Expected value by segment**")
        by_segment = Q.value_by_segment(wh, flt)
        charts.show(charts.hbar(by_segment, "expected_value", "segment", title="expected value ($)"))
    st.caption(
        f"clv_model v{version} (BG/NBD + Gamma-Gamma): expected revenue in the {horizon} days from "
        f"{as_of:%d %b %Y}, before returns, of the customers with a purchase before it; segments of the "
        "segment model at the same month start."
    )
