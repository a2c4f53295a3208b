"""Campaigns: who was exposed, what the campaign orders brought, and the measured causal effect beside
the naive comparison (and the planted truth)."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ecomm.causal.cli import SHORT_NAMES
from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q

TITLE = "Campaigns"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = (
    "exposures of the campaigns live during the range, of customers in the chosen countries; campaign orders "
    "honour every filter; the causal estimates cover each campaign's whole population"
)

NAIVE_METHODS = ("naive_difference", "naive_post_difference")


def render(ctx: L.PageContext) -> None:
    wh, flt = ctx.warehouse, ctx.filters
    st.dataframe(Q.campaigns(wh), hide_index=True)

    left, right = st.columns(2)
    with left:
        st.subheader("Exposure")
        exposed = Q.exposures(wh, flt)
        if exposed.empty:
            st.info(
                "No campaign with exposed customers in the chosen countries is live during the range "
                "(the campaigns' dates are in the table above)."
            )
        else:
            fig = go.Figure()
            for group in ("treated", "control"):
                fig.add_bar(x=exposed["campaign_name"], y=exposed[group], name=group)
            fig.update_layout(barmode="group", yaxis_title="customers", legend={"orientation": "h"})
            charts.show(fig)
            st.caption(
                "The campaigns live during the range, all their customers (each campaign assigns them "
                "when it starts). Treated: exposed to the campaign; control: eligible but not exposed."
            )
    with right:
        st.subheader("Campaign orders")
        orders = Q.campaign_orders(wh, flt)
        if orders.empty:
            st.info("No order in the filters came from a campaign.")
        else:
            st.dataframe(
                orders.drop(columns="campaign_id"),
                hide_index=True,
                column_config={
                    "net_revenue": st.column_config.NumberColumn("net revenue", format="dollar"),
                    "discount": st.column_config.NumberColumn(format="dollar"),
                },
            )
            st.caption("Orders that carry the campaign: what it touched, not what it caused.")

    st.subheader("Measured impact")
    estimates = Q.causal_estimates(wh)
    if estimates.empty:
        st.info(
            "No causal estimate has been computed yet. Run `ecomm causal report` to estimate each campaign's effect."
        )
        return
    st.caption(
        f"From `ecomm causal report` at {estimates['computed_at'].max():%Y-%m-%d %H:%M} UTC. The naive "
        "comparison is the plain difference between treated and control; the other methods adjust for "
        "who was targeted. The truth is the effect the simulator planted."
    )
    for campaign, rows in estimates.groupby("campaign", sort=False):
        overall = rows[rows["estimand"] != "CATE"]
        st.markdown(f"**{campaign}** — outcome: {rows['outcome'].iloc[0]}")
        charts.show(estimate_figure(overall), height=60 + 34 * len(overall))
        st.dataframe(
            rows.assign(method=rows["method"].map(lambda m: SHORT_NAMES.get(m, m))).drop(
                columns=["campaign_id", "campaign", "outcome", "std_error", "computed_at"]
            ),
            hide_index=True,
            column_config={
                "relative_error": st.column_config.NumberColumn("error vs truth", format="percent")
            },
        )


def estimate_figure(rows) -> go.Figure:
    """Each ATE/ATT estimate with its 95% interval; naive in grey, the planted truth as a diamond."""
    labels = [f"{SHORT_NAMES.get(m, m)} · {e}" for m, e in zip(rows["method"], rows["estimand"], strict=True)]
    naive = rows["method"].isin(NAIVE_METHODS)
    fig = go.Figure(
        go.Scatter(
            x=rows["estimate"],
            y=labels,
            mode="markers",
            marker={"color": ["#9e9e9e" if n else "#1565c0" for n in naive], "size": 10},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": rows["ci_high"] - rows["estimate"],
                "arrayminus": rows["estimate"] - rows["ci_low"],
            },
            name="estimate (95% CI)",
        )
    )
    fig.add_scatter(
        x=rows["true_effect"],
        y=labels,
        mode="markers",
        name="planted truth",
        marker={"symbol": "diamond", "size": 9},
    )
    fig.add_vline(x=0, line={"color": "#bdbdbd"})
    fig.update_layout(yaxis={"autorange": "reversed"}, legend={"orientation": "h"}, xaxis_title="effect")
    return fig
