"""Overview: the headline KPIs of the filtered period, each against the period just before it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q
from ecomm.dashboard.filters import Filters
from ecomm.entities import RETURN_WINDOW_DAYS
from ecomm.settings import Settings

TITLE = "Overview"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = (
    "every figure honours the dates, countries and categories; deltas compare with the "
    "same number of days just before"
)

# (KPI, label, format, help, a rise is good)
CARDS = (
    (
        "net_revenue",
        "Net revenue",
        L.money,
        f"Revenue of completed order lines (returns and cancellations excluded); lines of orders younger "
        f"than {RETURN_WINDOW_DAYS} days may still be returned.",
        True,
    ),
    ("orders", "Orders", L.count, "Orders with at least one line that was not cancelled.", True),
    (
        "avg_order_value",
        "Average order value",
        L.money_cents,
        "Net revenue / orders with a completed line.",
        True,
    ),
    (
        "active_customers",
        "Active customers",
        L.count,
        "Customers with an order that was not cancelled.",
        True,
    ),
    (
        "returns_rate",
        "Returns rate",
        L.percent,
        f"Returned lines / lines not cancelled, of orders at least {RETURN_WINDOW_DAYS} days old: returns "
        f"arrive up to {RETURN_WINDOW_DAYS} days after the order, so newer orders would look better than "
        "they are.",
        False,
    ),
)
NOT_MATURED = "not yet matured"


def delta_text(name: str, current, previous) -> str | None:
    if previous is None or current.get(name) is None or previous.get(name) in (None, 0):
        return None
    now, before = current[name], previous[name]
    if name == "returns_rate":  # a rate: the change in percentage points
        return f"{(now - before) * 100:+.1f} pp"
    return f"{(now - before) / before:+.1%}"


def render(ctx: L.PageContext) -> None:
    values = Q.kpis(ctx.warehouse, ctx.filters)
    current, previous = values["current"], values["previous"]
    matured_end = Q.matured_end(ctx.warehouse)
    for column, (name, label, fmt, help_text, rise_is_good) in zip(
        st.columns(len(CARDS)), CARDS, strict=True
    ):
        if name == "returns_rate" and ctx.filters.start > matured_end:
            column.metric(label, "–", delta=NOT_MATURED, delta_color="off", delta_arrow="off", help=help_text)
            continue
        column.metric(
            label,
            fmt(current[name]),
            delta=delta_text(name, current, previous),
            delta_color="normal" if rise_is_good else "inverse",
            help=help_text,
        )
    prev = ctx.filters.previous
    if previous is None:
        st.caption(
            f"No delta: the warehouse does not hold the whole previous period ({prev.start} – {prev.end})."
        )
    else:
        st.caption(f"Deltas against {prev.start:%d %b %Y} – {prev.end:%d %b %Y}.")
    st.caption(maturity_note(ctx.filters, matured_end))

    left, right = st.columns([2, 1])
    with left:
        st.subheader("Net revenue per day")
        charts.show(trend_figure(ctx))
    with right:
        st.subheader("By category")
        by_category = Q.revenue_by(ctx.warehouse, ctx.filters, "category")
        charts.show(charts.hbar(by_category, "net_revenue", "category", title="net revenue ($)"))
    st.caption(stream_caption(Q.stream_health(ctx.warehouse, ctx.settings.shop_timezone), ctx.settings))


def stream_caption(health, settings: Settings) -> str:
    """One line on the real-time path (`ecomm stream` into POST /events): how far behind the clock
    its newest event is, and how fast events arrive; none yet: who would stream, for this source."""
    if health.newest_event is None:
        return f"Live stream: no events streamed ({who_streams(settings)})."
    return (
        f"Live stream: lag {health.lag_text()} (newest event {health.newest_event:%Y-%m-%d %H:%M:%S}), "
        f"{health.events_per_second:.2f} events/s over the last minute."
    )


def who_streams(settings: Settings) -> str:
    """Who runs the live shop with these settings (ecomm.platform.services.streams decides for make up;
    Compose's `stream` service always runs, and on imported data exits at once saying why)."""
    if settings.imported:
        return (
            "the live shop replays the simulated shop: on imported data (ECOMM_SOURCE=imported) neither "
            "`make up` nor Compose streams"
        )
    if not settings.stream_service:
        return "ECOMM_STREAM_SERVICE=false: `make up` does not run it; `ecomm stream` replays the next date"
    return "`make up` and Compose run `ecomm stream --follow` as their stream service; or run `ecomm stream`"


def maturity_note(flt: Filters, matured_end: dt.date) -> str:
    """What the returns still to come do to the figures of this range."""
    window = f"Returns arrive up to {RETURN_WINDOW_DAYS} days after the order"
    if flt.end <= matured_end:
        return f"{window}: every order of the range is old enough for its returns to have arrived."
    if flt.start > matured_end:
        return (
            f"{window}: no order of the range is {RETURN_WINDOW_DAYS} days old yet, so its returns rate is "
            f"{NOT_MATURED} (orders up to {matured_end:%d %b %Y} are); its net revenue will still fall as "
            "returns arrive."
        )
    return (
        f"{window}: the returns rate and its delta count orders up to {matured_end:%d %b %Y}; net revenue "
        f"of later orders (shaded) will still fall as their returns arrive."
    )


def trend_figure(ctx: L.PageContext) -> go.Figure:
    """This period's daily net revenue, and the previous period's laid over it (same day offsets)."""
    flt = ctx.filters
    days = pd.date_range(flt.start, flt.end, freq="D")
    current = Q.daily_revenue(ctx.warehouse, flt).set_index("order_date")["net_revenue"]
    fig = go.Figure()
    fig.add_scatter(x=days, y=[current.get(d.date(), 0.0) for d in days], name="this period", mode="lines")
    prev = flt.previous
    if ctx.warehouse.first_day is not None and prev.start >= ctx.warehouse.first_day:
        before = Q.daily_revenue(ctx.warehouse, prev).set_index("order_date")["net_revenue"]
        prev_days = pd.date_range(prev.start, prev.end, freq="D")
        fig.add_scatter(
            x=days,
            y=[before.get(d.date(), 0.0) for d in prev_days],
            name="previous period",
            mode="lines",
            line={"dash": "dot"},
            customdata=[d.strftime("%Y-%m-%d") for d in prev_days],
            hovertemplate="%{customdata}: $%{y:,.0f}<extra>previous period</extra>",
        )
    immature_from = max(flt.start, Q.matured_end(ctx.warehouse) + dt.timedelta(days=1))
    if immature_from <= flt.end:
        fig.add_vrect(
            x0=immature_from,
            x1=flt.end,
            fillcolor="#9e9e9e",
            opacity=0.15,
            line_width=0,
            annotation_text="returns still arriving",
            annotation_position="top left",
        )
    fig.update_layout(yaxis_title="net revenue ($)", yaxis_rangemode="tozero", legend={"orientation": "h"})
    return fig
