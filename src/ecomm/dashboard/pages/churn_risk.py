"""Churn risk: the champion model's scores of today's customers, the most at risk with their reasons
and their purchase propensity (when `ecomm predict purchase` stored it), churn against purchase, and a
CSV export."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard.churn import (
    HISTOGRAM_BINS,
    ScoringError,
    at_risk,
    current_scores,
    explain,
    score_summary,
)
from ecomm.dashboard.purchase import SCATTER_POINTS, churn_and_purchase, purchase_scoring
from ecomm.features import columns as C
from ecomm.ml import registry
from ecomm.ml.serving import CHURN_PROBABILITY, PURCHASE_PROBABILITY

TITLE = "Churn risk"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = (
    "customers of the chosen countries with an order in the date range and categories, scored as of today"
)

TABLE_COLUMNS = {
    C.CUSTOMER_ID: "customer",
    "name": "name",
    C.COUNTRY: "country",
    CHURN_PROBABILITY: "churn probability",
    PURCHASE_PROBABILITY: "purchase probability (30 days)",
    C.DAYS_SINCE_LAST_ORDER: "days since last order",
    C.TOTAL_ORDERS: "orders",
    C.TOTAL_SPENT: "spent ($)",
    "reasons": "what raises the risk most",
}
# Rows tall enough that Streamlit wraps a cell's text (it does above 4rem), and columns narrow enough
# that the reasons (three short phrases, up to three lines) fit beside them in the main column of a
# 1400-pixel window instead of being cut off: pixels per column, short labels on screen (the CSV keeps
# the long names).
TABLE_ROW_HEIGHT = 80
COLUMN_LAYOUT = {  # column of TABLE_COLUMNS: (label on screen, width in pixels)
    C.CUSTOMER_ID: ("id", 55),
    "name": ("name", 110),
    C.COUNTRY: ("country", 90),
    CHURN_PROBABILITY: ("churn risk", 90),
    PURCHASE_PROBABILITY: ("buys in 30d", 90),
    C.DAYS_SINCE_LAST_ORDER: ("idle days", 65),
    C.TOTAL_ORDERS: ("orders", 55),
    C.TOTAL_SPENT: ("spent", 70),
    "reasons": ("what raises the risk most", 300),
}


def render(ctx: L.PageContext) -> None:
    model = L.champion_or_explain(ctx.settings, registry.CHURN_MODEL, "ecomm train churn")
    if model is None:
        return
    try:
        scoring = current_scores(ctx.warehouse, model)
    except ScoringError as exc:
        st.warning(f"The champion churn model v{model.version} cannot score today's customers: {exc}.")
        return

    bins = score_summary(ctx.warehouse, scoring, ctx.filters)
    horizon = ctx.settings.churn_horizon_days
    st.caption(
        f"Champion `{registry.CHURN_MODEL}` v{model.version} (registered {model.registered_at:%Y-%m-%d}), "
        f"scores stored {scoring.scored_at:%Y-%m-%d %H:%M %Z} in `marts.churn_scores`. Churn = no "
        f"completed order in the {horizon} days from {scoring.cutoff:%d %b %Y}; features use the data "
        f"before that day."
    )
    customers = int(bins["customers"].sum()) if len(bins) else 0
    if customers == 0:
        st.info("No scored customer matches the filters: widen the date range or the selection.")
        return

    cols = st.columns(3)
    cols[0].metric("Customers scored", L.count(customers))
    cols[1].metric(
        "Expected to churn",
        L.count(bins["expected"].sum()),
        help="The sum of the churn probabilities: how many of these customers the model expects to lose.",
    )
    cols[2].metric("Probability ≥ 50%", L.percent(bins["at_least_half"].sum() / customers))

    st.subheader("Score distribution")
    width = 1 / HISTOGRAM_BINS
    fig = go.Figure(
        go.Bar(x=(bins["bin"] + 0.5) * width, y=bins["customers"], width=width * 0.95, name="customers")
    )
    fig.update_layout(xaxis_title="churn probability", yaxis_title="customers", xaxis_range=[0, 1])
    charts.show(fig, height=300)

    purchase = purchase_scoring(ctx.warehouse, scoring)
    show_churn_against_purchase(ctx, scoring, purchase)

    st.subheader("Most at risk")
    top_n = st.number_input(
        "Customers to list", min_value=10, max_value=1000, value=50, step=10, key="churn_top_n"
    )
    table = at_risk_table(ctx, model, scoring, int(top_n), purchase)
    st.dataframe(
        table,
        hide_index=True,
        row_height=TABLE_ROW_HEIGHT,
        column_config=table_columns(),
    )
    st.caption(
        "Reasons: the customer's features that push this score up the most (their log-odds contributions "
        "in the champion: SHAP values of XGBoost, or coefficient x value of the logistic regression). They "
        "describe what the model saw, not proven causes."
    )
    st.download_button(
        "Download CSV",
        table.to_csv(index=False).encode(),
        file_name=f"churn_risk_{scoring.cutoff:%Y-%m-%d}.csv",
        mime="text/csv",
        key="churn_csv",
    )


def table_columns() -> dict:
    """Streamlit column configs of the at-risk table: short labels, widths that leave the reasons room."""
    config = {}
    for column, (label, width) in COLUMN_LAYOUT.items():
        if column in (CHURN_PROBABILITY, PURCHASE_PROBABILITY):
            kind = st.column_config.ProgressColumn(
                label, width=width, format="percent", min_value=0, max_value=1
            )
        elif column == C.TOTAL_SPENT:
            kind = st.column_config.NumberColumn(label, width=width, format="dollar")
        else:
            kind = st.column_config.Column(label, width=width)
        config[TABLE_COLUMNS[column]] = kind
    return config


def at_risk_table(ctx: L.PageContext, model, scoring, top_n: int, purchase=None):
    top = at_risk(ctx.warehouse, scoring, ctx.filters, top_n, purchase)
    ids = tuple(int(i) for i in top[C.CUSTOMER_ID])
    table = top.merge(explain(ctx.warehouse, scoring, model, ids), on=C.CUSTOMER_ID)
    return table[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)


def show_churn_against_purchase(ctx: L.PageContext, scoring, purchase) -> None:
    """Each customer in scope at (churn risk, purchase propensity), or which commands store the
    purchase scores of this day."""
    st.subheader("Churn risk against purchase propensity")
    if purchase is None:
        st.info(
            f"No purchase scores of {scoring.cutoff:%d %b %Y} are stored: train the purchase model with "
            "`ecomm train purchase`, then store its scores with `ecomm predict purchase`."
        )
        return
    points = churn_and_purchase(ctx.warehouse, scoring, purchase, ctx.filters)
    fig = go.Figure(
        go.Scattergl(
            x=points[CHURN_PROBABILITY],
            y=points[PURCHASE_PROBABILITY],
            mode="markers",
            marker={"size": 5, "opacity": 0.5},
            customdata=points[C.CUSTOMER_ID],
            hovertemplate="customer %{customdata}<br>churn %{x:.0%}<br>buys in 30 days %{y:.0%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="churn probability",
        yaxis_title="purchase probability, next 30 days",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1],
    )
    charts.show(fig, height=360)
    st.caption(
        f"`{registry.PURCHASE_MODEL}` v{purchase.model.version}, scores stored "
        f"{purchase.scored_at:%Y-%m-%d %H:%M %Z} in `marts.purchase_scores`: P(at least one completed "
        f"order in the 30 days from {purchase.cutoff:%d %b %Y}), {len(points):,} customers in the filters "
        f"scored by both models{' (a random sample)' if len(points) == SCATTER_POINTS else ''}. Customers "
        "without a completed order have a purchase score only: churn is scored for buyers."
    )
