"""Segments: the segment champion's customer segments (`ecomm train segments`): their sizes at the
latest month start, their profiles, their value, and how customers moved between them month over
month."""

from __future__ import annotations

import itertools

import pandas as pd
import plotly.graph_objects as go
import psycopg2
import streamlit as st

from ecomm.dashboard import charts, interactions
from ecomm.dashboard import layout as L
from ecomm.dashboard import segments as S
from ecomm.ml.segment.naming import readable

TITLE = "Segments"
APPLIES = (
    "customers of the chosen countries; dates and categories do not apply (a segment is of the "
    f"customer's whole history before the month start; value is of the last {S.VALUE_DAYS} loaded days)"
)
NO_SEGMENTS = (
    "No segments yet: run `ecomm train segments` (it stores every customer's segment at each month "
    "start in `marts.customer_segments`)."
)
PROFILE_COLUMNS = {
    "segment": "segment",
    "feature": "feature",
    "mean": "segment mean",
    "overall_mean": "everyone's mean",
    "z": "z-score",
}
VALUE_COLUMNS = {
    "segment": "segment",
    "customers": "customers",
    "buyers": "with an order",
    "orders": "orders",
    "revenue": "revenue ($)",
    "avg_order_value": "avg order value ($)",
    "revenue_per_customer": "revenue per customer ($)",
}


def no_segments(wh) -> str:
    """Why there is no segment: not trained yet, or an imported rating log (no order, no web session:
    nothing a segment is made of, so the training skips it)."""
    if not wh.has_orders:
        log = interactions.summary(wh)
        if not log.total_events:
            return (
                f"No segments: a segment is of a customer's orders and web sessions, and the imported data "
                f"holds neither (it holds {log.describe()}), so `ecomm train segments` skips it."
            )
    return NO_SEGMENTS


def label(segment_id: int, name: str) -> str:
    return f"{int(segment_id)} · {name}"


def labels(frame: pd.DataFrame, ids: str = "segment_id", names: str = "segment_name") -> list[str]:
    return [label(i, n) for i, n in zip(frame[ids], frame[names], strict=True)]


def bar_height(bars: int) -> int:
    return 80 + 40 * bars


def render(ctx: L.PageContext) -> None:
    wh, countries = ctx.warehouse, ctx.filters.countries
    try:
        months = S.cached_months(wh)
    except psycopg2.errors.UndefinedTable:
        st.info("The warehouse has no `marts.customer_segments`: run `ecomm db migrate`, then " + NO_SEGMENTS)
        return
    if not months:
        st.info(no_segments(wh))
        return
    latest = months[-1]
    sizes = S.cached_sizes(wh, latest, countries)
    st.caption(
        f"Segments as of {latest:%d %b %Y} (`marts.customer_segments`: the segment champion's assignment "
        f"of every customer with an order or a web session before each month start; "
        f"{len(months)} month start{'s' if len(months) > 1 else ''} from {months[0]:%b %Y})."
    )
    if sizes.empty:
        st.info("No segmented customer is in the chosen countries: widen the selection.")
        return

    cols = st.columns(3)
    cols[0].metric("Customers segmented", L.count(int(sizes["customers"].sum())))
    cols[1].metric("Segments", L.count(len(sizes)))
    cols[2].metric("Largest segment", L.percent(float(sizes["share"].max())))

    st.subheader(f"Sizes on {latest:%d %b %Y}")
    shown = sizes.assign(segment=labels(sizes))
    fig = charts.hbar(shown, "customers", "segment", title="customers")
    fig.update_traces(text=[L.percent(s) for s in shown["share"]], textposition="auto")
    charts.show(fig, height=bar_height(len(shown)))

    st.subheader("Profiles")
    show_profiles(S.cached_profiles(wh))

    start, end = S.value_window(wh.last_day)
    st.subheader(f"Value by segment ({start:%d %b} – {end:%d %b %Y})")
    show_value(S.cached_value(wh, latest, countries))

    st.subheader("Movement between segments")
    show_movement(wh, months, countries)


def show_profiles(profiles: pd.DataFrame) -> None:
    table = profiles.dropna(subset=["feature"]).assign(
        segment=labels,
        feature=lambda f: f["feature"].map(readable),
    )
    st.dataframe(table[list(PROFILE_COLUMNS)].rename(columns=PROFILE_COLUMNS), hide_index=True)
    st.caption(
        "Each segment's most distinctive features, from its centroid when the model was trained: the "
        "segment's mean beside everyone's, and how many standard deviations apart (z-score, after the "
        "log of the skewed features). The names are made from the largest, never by hand."
    )


def show_value(value: pd.DataFrame) -> None:
    table = value.assign(segment=labels(value))
    money = {
        c: st.column_config.NumberColumn(VALUE_COLUMNS[c], format="dollar")
        for c in ("revenue", "avg_order_value", "revenue_per_customer")
    }
    st.dataframe(
        table[list(VALUE_COLUMNS)].rename(columns=VALUE_COLUMNS),
        hide_index=True,
        column_config={VALUE_COLUMNS[c]: cfg for c, cfg in money.items()},
    )
    fig = charts.hbar(table, "revenue_per_customer", "segment", title="revenue per customer ($)")
    charts.show(fig, height=bar_height(len(table)))
    st.caption(
        "Net revenue of completed lines; an order counts once. Customers are those in each segment at "
        "the latest month start."
    )


def show_movement(wh, months: list, countries: tuple[str, ...]) -> None:
    if len(months) < 2:
        st.info("One month start only: movement needs two (train segments again after a month).")
        return
    pairs = list(itertools.pairwise(months))
    after = pairs[-1][1]
    if len(pairs) > 1:
        after = st.selectbox(
            "Month", [b for _, b in pairs][::-1], format_func=lambda m: f"{m:%b %Y}", key="segments_month"
        )
    before = dict((b, a) for a, b in pairs)[after]
    moves = S.cached_transitions(wh, before, after, countries)
    if moves.empty:
        st.info(
            f"No customer in the chosen countries is segmented on both {before:%d %b} and {after:%d %b %Y}."
        )
        return
    grid = transition_grid(moves)
    both = int(moves["customers"].sum())
    stayed = int(moves.loc[moves["from_id"] == moves["to_id"], "customers"].sum())
    cols = st.columns(2)
    cols[0].metric("Segmented both months", L.count(both))
    cols[1].metric("Changed segment", L.percent(1 - stayed / both))
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=list(grid.columns),
            y=list(grid.index),
            colorscale="Blues",
            text=grid.to_numpy(),
            texttemplate="%{text:,}",
            hovertemplate="%{y} → %{x}: %{z:,} customers<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"autorange": "reversed", "title": f"segment on {before:%d %b %Y}", "type": "category"},
        xaxis={"title": f"segment on {after:%d %b %Y}", "type": "category"},
    )
    # room for the slanted segment names under the columns
    charts.show(fig, height=260 + 50 * len(grid))
    st.caption(
        f"Customers segmented on both {before:%d %b %Y} and {after:%d %b %Y}, by their segment on each: "
        "the diagonal stayed. Customers new on the later date are not counted."
    )


def transition_grid(moves: pd.DataFrame) -> pd.DataFrame:
    """from segment x to segment -> customers (0 where none moved), segments in id order."""
    ids = sorted(set(moves["from_id"]) | set(moves["to_id"]))
    names = dict(zip(moves["from_id"], moves["from_name"], strict=True))
    names |= dict(zip(moves["to_id"], moves["to_name"], strict=True))
    grid = moves.pivot_table(index="from_id", columns="to_id", values="customers", aggfunc="sum")
    grid = grid.reindex(index=ids, columns=ids, fill_value=0).fillna(0).astype("int64")
    labels = [label(i, names[i]) for i in ids]
    grid.index, grid.columns = labels, labels
    return grid
