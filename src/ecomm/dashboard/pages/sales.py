"""Sales: revenue over time, by category and country, the top products, weekday and season."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q

TITLE = "Sales"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = "every chart honours the dates, countries and categories"

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def render(ctx: L.PageContext) -> None:
    wh, flt = ctx.warehouse, ctx.filters

    grain = st.segmented_control("Revenue per", Q.GRAINS, default="week", key="sales_grain") or "week"
    over_time = Q.revenue_over_time(wh, flt, grain)
    fig = go.Figure(go.Scatter(x=over_time["period"], y=over_time["net_revenue"], mode="lines+markers"))
    fig.update_layout(
        yaxis_title="net revenue ($)", yaxis_rangemode="tozero", xaxis_title=f"{grain} starting"
    )
    charts.show(fig)
    st.caption(f"The first and last {grain} may be partly outside the date range.")

    st.subheader("By category")
    by_category = Q.revenue_by(wh, flt, "category")
    charts.show(charts.hbar(by_category, "net_revenue", "category", title="net revenue ($)"), height=300)

    st.subheader("By country")
    region = (
        st.segmented_control("Map", list(charts.MAP_REGIONS), default="World", key="sales_map") or "World"
    )
    by_country = Q.revenue_by(wh, flt, "country")
    fig = charts.country_map(by_country, "net_revenue", title="net revenue ($)", region=region)
    charts.show(fig, height=charts.MAP_HEIGHT)

    st.subheader("Top products")
    st.dataframe(
        Q.top_products(wh, flt),
        hide_index=True,
        column_config={
            "product_id": "product",
            "product_name": "name",
            "net_revenue": st.column_config.NumberColumn("net revenue", format="dollar"),
        },
    )

    st.subheader("Weekday and season")
    days = Q.calendar_revenue(wh, flt)
    left, right = st.columns([1, 2])
    with left:
        by_weekday = days.groupby("day_name")["net_revenue"].mean().reindex(WEEKDAYS)
        fig = go.Figure(go.Bar(x=list(by_weekday.index), y=by_weekday.to_numpy()))
        fig.update_layout(yaxis_title="average net revenue per day ($)")
        charts.show(fig)
    with right:
        charts.show(calendar_heatmap(days))
        holidays = days.dropna(subset=["holiday_name"])
        if len(holidays):
            st.caption(
                "Holidays in the range: "
                + ", ".join(f"{r.holiday_name} ({r.date_day:%d %b})" for r in holidays.itertuples())
            )


def calendar_heatmap(days) -> go.Figure:
    """Net revenue per day: weekday (rows) x ISO week (columns) shows the weekly rhythm and the season."""
    days = days.assign(week=days["iso_year"].astype(str) + "-W" + days["iso_week"].astype(str).str.zfill(2))
    grid = days.pivot_table(index="iso_weekday", columns="week", values="net_revenue", aggfunc="sum")
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=list(grid.columns),
            y=[WEEKDAYS[i - 1][:3] for i in grid.index],
            colorscale="Blues",
            colorbar_title="$",
            hovertemplate="%{x} %{y}: $%{z:,.0f}<extra></extra>",
        )
    )
    fig.update_layout(yaxis={"autorange": "reversed"}, xaxis_title="ISO week")
    return fig
