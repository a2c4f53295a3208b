"""Models: champion and challenger of each registered model, and every version's metrics over time."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard.models import RegistryUnavailable, versions
from ecomm.ml import registry

TITLE = "Models"
APPLIES = "the registry is not filtered by dates, countries or categories"

# The metrics worth following per model (training-run metrics on its holdout), as logged by training.
HEADLINE_METRICS = {
    registry.CHURN_MODEL: ("xgboost_roc_auc", "logreg_roc_auc", "oracle_roc_auc", "xgboost_pr_auc"),
    registry.RECOMMENDER_MODEL: (
        "model_ndcg_at_10",
        "popularity_ndcg_at_10",
        "oracle_ndcg_at_10",
        "model_coverage_at_10",
    ),
    registry.SEGMENT_MODEL: (
        "silhouette",
        "stability",
        "restart_stability",
        "persona_ari",
        "persona_rfm_ari",
    ),
    registry.PURCHASE_MODEL: ("served_roc_auc", "recency_rule_roc_auc", "truth_roc_auc", "served_accuracy"),
    registry.CLV_MODEL: ("spearman_realised", "baseline_spearman_realised", "spearman_truth", "total_ratio"),
    # the chosen model's backtest MASE at 14 days per level, and the gate's latest-window MASE
    registry.DEMAND_FORECAST_MODEL: (
        "category_mase_h14",
        "product_mase_h14",
        "total_mase_h14",
        "latest_window_mase",
    ),
}
TRAIN_COMMANDS = {
    registry.CHURN_MODEL: "ecomm train churn",
    registry.RECOMMENDER_MODEL: "ecomm train recommender",
    registry.SEGMENT_MODEL: "ecomm train segments",
    registry.PURCHASE_MODEL: "ecomm train purchase",
    registry.CLV_MODEL: "ecomm train clv",
    registry.DEMAND_FORECAST_MODEL: "ecomm train forecast",
}


def no_version(settings, name: str) -> str:
    """Why a model has no version: not trained yet, or (imported data) the data could not train it."""
    command = TRAIN_COMMANDS[name]
    if settings.imported:
        return (
            f"No version registered: not trained on the imported data (the bootstrap skipped it; "
            f"`{command}` says why in one line)."
        )
    return f"No version registered yet: train one with `{command}`."


def render(ctx: L.PageContext) -> None:
    for name in registry.MODEL_NAMES:
        st.subheader(f"`{name}`")
        try:
            table = versions(ctx.settings, name)
        except RegistryUnavailable as exc:
            L.registry_down(exc)
            return
        if table.empty:
            st.info(no_version(ctx.settings, name))
            continue
        show_model(name, table)


def _alias_row(table, alias: str):
    rows = table[table["aliases"].str.split(", ").map(lambda a: alias in a)]
    return rows.iloc[0] if len(rows) else None


def show_model(name: str, table) -> None:
    cards = st.columns(3)
    for column, alias in zip(cards, (registry.CHAMPION, registry.CHALLENGER), strict=False):
        row = _alias_row(table, alias)
        if row is None:
            column.metric(alias, "none")
        else:
            column.metric(
                alias,
                f"v{row['version']}",
                help=f"registered {row['registered_at']:%Y-%m-%d %H:%M} UTC",
            )
            column.caption(f"{row['gate_metric']} {row['gate_score']:.4f}" if row["gate_score"] else "")
    cards[2].metric("versions", len(table))

    metrics = [m for m in HEADLINE_METRICS[name] if f"metric.{m}" in table]
    # one point per version, in registration order (its date on the axis): "over time"
    versions_axis = [
        f"v{v} · {t:%d %b %Y}" for v, t in zip(table["version"], table["registered_at"], strict=True)
    ]
    fig = go.Figure()
    for metric in metrics:
        fig.add_scatter(
            x=versions_axis,
            y=table[f"metric.{metric}"],
            mode="lines+markers",
            name=metric,
            hovertemplate="%{x}: %{y:.4f}<extra>" + metric + "</extra>",
        )
    fig.update_layout(
        xaxis={"type": "category", "title": "version (registered)"},
        yaxis_title="holdout metric",
        legend={"orientation": "h", "y": 1.15},
    )
    charts.show(fig, height=300)
    shown = ["version", "registered_at", "aliases", "gate_metric", "gate_score", "promoted", "gate_reason"]
    st.dataframe(
        table[shown + [f"metric.{m}" for m in metrics]].rename(columns=lambda c: c.removeprefix("metric.")),
        hide_index=True,
    )
