"""Monitoring: each served model's drift against the training reference stored with its version, per
feature and over the business dates monitored, and the recent-inputs view (the pseudo-model
`inputs`) - both in marts.model_monitoring, written daily by the model_monitoring DAG's
`model_drift` task, which also writes each champion's realised quality once its labels matured
(marts.model_quality); see README "Model drift"."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard.source import Warehouse, cached, read
from ecomm.monitoring.recent_inputs import INPUTS
from ecomm.monitoring.reference import PREDICTION
from ecomm.monitoring.report import latest_reports

TITLE = "Monitoring"
APPLIES = "drift of every monitored business date and model version (the filters do not apply)"
NO_MONITORING = (
    "No model has been monitored yet: the model_monitoring DAG's `model_drift` task compares each "
    "served model (churn_model, purchase_model, clv_model, segment_model, recommender_model, "
    "demand_forecast_model) with its training reference every day and writes marts.model_monitoring."
)
NO_SERVED_MODEL = (
    "No served model has been monitored yet (no champion with a training reference): only the recent "
    "inputs below."
)
TABLE_COLUMNS = ["feature", "kind", "psi", "ks_statistic", "chi2_p_value", "drifted", "current_rows"]
# the inputs view keeps its test's p-value (KS for numeric inputs) in chi2_p_value
INPUT_COLUMNS = ["feature", "kind", "psi", "p_value", "drifted", "reference_rows", "current_rows"]


@cached
def monitored(wh: Warehouse) -> pd.DataFrame:
    """Every row of marts.model_monitoring (one per model, version, date and feature)."""
    return read(
        wh.url,
        """SELECT model_name, model_version, business_date, feature, kind, psi, ks_statistic,
                  chi2_p_value, drifted, reference_rows, current_rows
           FROM marts.model_monitoring ORDER BY model_name, model_version, business_date, feature""",
    )


@cached
def realised(wh: Warehouse) -> pd.DataFrame:
    """Every row of marts.model_quality (one per model, version, date and metric)."""
    return read(
        wh.url,
        """SELECT model_name, model_version, business_date, metric, cutoff_date, horizon_days, value,
                  truth_value, rows, positives, held_out
           FROM marts.model_quality ORDER BY model_name, model_version, business_date, metric""",
    )


def quality_over_time(rows: pd.DataFrame) -> go.Figure:
    """Each model version's realised ROC-AUC by the date its labels matured, and the truth's (where
    the truth has the cutoff) as markers."""
    fig = go.Figure()
    for (model, version), part in rows.groupby(["model_name", "model_version"], sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["business_date"], y=part["value"], name=f"{model} v{version}", mode="lines+markers"
            )
        )
        truth = part.dropna(subset=["truth_value"])
        if not truth.empty:
            fig.add_trace(
                go.Scatter(
                    x=truth["business_date"],
                    y=truth["truth_value"],
                    name=f"{model} v{version}: planted truth",
                    mode="markers",
                    marker={"symbol": "star", "size": 11},
                )
            )
    fig.update_layout(yaxis_title="realised ROC-AUC", xaxis_title="labels matured on")
    return fig


def drift_over_time(
    rows: pd.DataFrame, threshold: float, axis: str = "PSI vs the training reference"
) -> go.Figure:
    """PSI per feature over the business dates (the prediction bold), with the drift threshold."""
    fig = go.Figure()
    for feature, part in rows.groupby("feature", sort=True):
        fig.add_trace(
            go.Scatter(
                x=part["business_date"],
                y=part["psi"],
                name=feature,
                mode="lines+markers",
                line={"width": 4 if feature == PREDICTION else 1.5},
            )
        )
    fig.add_hline(y=threshold, line_dash="dash", annotation_text=f"threshold {threshold:g}")
    fig.update_layout(yaxis_title=axis, xaxis_title=None)
    return fig


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model version and date: features monitored and drifted, the prediction's PSI."""
    grouped = rows.groupby(["model_name", "model_version", "business_date"])
    out = grouped.agg(features=("feature", "size"), drifted=("drifted", "sum")).reset_index()
    prediction = rows[rows["feature"] == PREDICTION].set_index(
        ["model_name", "model_version", "business_date"]
    )
    out["prediction_psi"] = out.set_index(["model_name", "model_version", "business_date"]).index.map(
        prediction["psi"]
    )
    return out.sort_values(["model_name", "business_date"], ascending=[True, False], ignore_index=True)


def render(ctx: L.PageContext) -> None:
    rows = monitored(ctx.warehouse)
    if rows.empty:
        st.info(NO_MONITORING)
        return
    served = rows[rows["model_name"] != INPUTS]
    if served.empty:
        st.info(NO_SERVED_MODEL)
    else:
        render_models(ctx, served)
    inputs = rows[rows["model_name"] == INPUTS]
    if not inputs.empty:
        render_inputs(ctx, inputs)
    quality = realised(ctx.warehouse)
    if not quality.empty:
        render_quality(quality)


def render_models(ctx: L.PageContext, rows: pd.DataFrame) -> None:
    threshold = ctx.settings.drift_psi_threshold
    st.caption(
        f"PSI of each input feature and of the prediction (`{PREDICTION}`) against the version's training "
        f"reference; drifted = PSI > {threshold:g} (ECOMM_DRIFT_PSI_THRESHOLD) and a KS/chi² p-value below "
        f"{ctx.settings.drift_alpha:g} (ECOMM_DRIFT_ALPHA) / the model's features."
    )
    st.subheader("Latest run per model")
    st.dataframe(summary(rows).groupby(["model_name"]).head(1), hide_index=True)
    render_reports(ctx)

    models = sorted(rows["model_name"].unique())
    model = st.selectbox("Model", models, key="monitoring_model")
    versions = sorted(rows.loc[rows["model_name"] == model, "model_version"].unique(), reverse=True)
    version = st.selectbox("Version", versions, key="monitoring_version")
    chosen = rows[(rows["model_name"] == model) & (rows["model_version"] == version)]

    st.subheader("Drift over time")
    charts.show(drift_over_time(chosen, threshold))

    latest = chosen["business_date"].max()
    st.subheader(f"Features on {latest:%d %b %Y}")
    day = chosen[chosen["business_date"] == latest].sort_values("psi", ascending=False)
    st.dataframe(day[TABLE_COLUMNS], hide_index=True)


def render_reports(ctx: L.PageContext) -> None:
    """A download of each model's latest HTML drift report. A download rather than a link: Streamlit
    serves no file by URL except its static folder, and that one as text/plain."""
    directory = ctx.settings.drift_reports_dir
    reports = latest_reports(directory)
    st.subheader("Drift reports")
    if not reports:
        st.caption(
            f"No HTML drift report in {directory} yet: the `model_drift` task writes one per model and day."
        )
        return
    st.caption(
        "Each model's latest daily report: every feature's reference and current distributions with "
        "its PSI, test and flag (self-contained HTML, opens offline)."
    )
    for r in reports:
        st.download_button(
            f"{r.model} v{r.version}, {r.day:%d %b %Y}",
            data=r.path.read_bytes(),
            file_name=r.path.name,
            mime="text/html",
            key=f"drift_report_{r.model}",
        )


def render_inputs(ctx: L.PageContext, rows: pd.DataFrame) -> None:
    """The recent-inputs view: its latest date's features (flagged first) and PSI over time."""
    min_psi = ctx.settings.drift_min_psi
    latest = rows["business_date"].max()
    day = rows[rows["business_date"] == latest].rename(columns={"chi2_p_value": "p_value"})
    flagged = day.loc[day["drifted"], "feature"].tolist()
    st.subheader(f"Recent inputs on {latest:%d %b %Y}: {', '.join(flagged) if flagged else 'no drift'}")
    st.caption(
        "The last 7 days' new customers (age, channel), late deliveries and each category's price index "
        "against the 90 days before them; drifted = a KS/chi² p-value below "
        f"{ctx.settings.drift_alpha:g} (ECOMM_DRIFT_ALPHA) / the features and PSI > {min_psi:g} "
        "(ECOMM_DRIFT_MIN_PSI)."
    )
    st.dataframe(
        day.sort_values(["drifted", "psi"], ascending=[False, False])[INPUT_COLUMNS], hide_index=True
    )
    charts.show(drift_over_time(rows, min_psi, "PSI vs the 90 days before"), key="inputs_drift")


def render_quality(rows: pd.DataFrame) -> None:
    st.subheader("Realised quality")
    st.caption(
        "ROC-AUC of each champion's predictions as of the cutoff whose label window closed on the date "
        "(recomputed point-in-time), against the labels loaded since; stars: the planted truth's "
        "probabilities on the same customers (the truth has month starts only). held_out = after the "
        "version's evaluation cutoff (before it the version learnt from those labels)."
    )
    charts.show(quality_over_time(rows), key="realised_quality")
    latest = rows.sort_values("business_date").groupby(["model_name"]).tail(1)
    st.dataframe(latest.drop(columns=["metric"]), hide_index=True)
