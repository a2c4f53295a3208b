"""Demand & stock: actuals vs the stored forecasts with their 80%/95% bands (per category or the total,
and for a chosen product), the champion's backtest beside seasonal naive and the oracle, and the
products whose stock runs out first.

Everything shown is what `ecomm train forecast` (or the demand_forecast DAG) stored: the latest
forecast date of marts.demand_forecast and marts.product_stock, and the backtest tables the
registered version's training run logged (evaluation/backtest_<level>.json in MLflow).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ecomm.dashboard import charts
from ecomm.dashboard import layout as L
from ecomm.dashboard import queries as Q
from ecomm.dashboard.models import RegistryUnavailable, forecast_backtests
from ecomm.dashboard.source import Warehouse, cached, read
from ecomm.ml import registry

TITLE = "Demand & stock"
NEEDS_ORDERS = True  # an imported rating or event log: layout.show says what it holds instead
APPLIES = (
    "forecasts are of the latest forecast date stored, over the whole shop (countries do not apply); "
    "the chosen categories narrow the category and product choices; actuals: the weeks before it"
)
NO_FORECASTS = (
    "No demand forecast is stored yet: `ecomm train forecast` backtests the models, registers "
    "`demand_forecast_model` and stores every product's, category's and the total's forecasts in "
    "marts.demand_forecast (the demand_forecast DAG refreshes them after each load)."
)
HISTORY_DAYS = 56  # actuals shown before the forecast date
RUNNING_OUT = 15  # rows of the stock table
TOTAL = "All categories (total)"
TABLE_MODELS = ("seasonal_naive", "oracle")  # shown beside the level's chosen model


# ------------------------------------------------------------------------------------------ data
@cached
def latest_forecast(wh: Warehouse) -> pd.DataFrame:
    """forecast_date, model_version, series of the latest stored forecasts (no row: none stored)."""
    return read(
        wh.url,
        """SELECT forecast_date, model_version, count(DISTINCT (series_level, series_id)) AS series
           FROM marts.demand_forecast
           WHERE forecast_date = (SELECT max(forecast_date) FROM marts.demand_forecast)
           GROUP BY 1, 2 ORDER BY 2 DESC LIMIT 1""",
    )


@cached
def stored_methods(wh: Warehouse, forecast_date) -> dict[str, str]:
    """level -> the method whose forecasts are stored (each level's model chosen by its backtest)."""
    found = read(
        wh.url,
        "SELECT DISTINCT series_level, method FROM marts.demand_forecast WHERE forecast_date = %(d)s",
        {"d": forecast_date},
    )
    return dict(zip(found["series_level"], found["method"], strict=True))


@cached
def series_forecast(wh: Warehouse, forecast_date, level: str, series_id: str) -> pd.DataFrame:
    """target_date, point, lo_80, hi_80, lo_95, hi_95, method of one series' stored forecast."""
    return read(
        wh.url,
        """SELECT target_date, point, lo_80, hi_80, lo_95, hi_95, method FROM marts.demand_forecast
           WHERE forecast_date = %(d)s AND series_level = %(level)s AND series_id = %(id)s
           ORDER BY target_date""",
        {"d": forecast_date, "level": level, "id": series_id},
    )


@cached
def series_actuals(wh: Warehouse, forecast_date, level: str, series_id: str, days: int) -> pd.DataFrame:
    """date, units (non-cancelled lines, as the forecasts count them) of the `days` up to the forecast
    date, days without a sale 0."""
    where = {
        "product": "p.product_id::text = %(id)s",
        "category": "p.category = %(id)s",
        "total": "TRUE",
    }[level]
    return read(
        wh.url,
        f"""SELECT d.day::date AS date, coalesce(s.units, 0)::float8 AS units
            FROM generate_series(%(d)s::date - (%(days)s - 1), %(d)s::date, interval '1 day') AS d(day)
            LEFT JOIN (
                SELECT f.order_date, sum(f.quantity) AS units
                FROM warehouse.fact_order_items f JOIN warehouse.dim_product p USING (product_id)
                WHERE f.status <> 'cancelled' AND {where}
                  AND f.order_date BETWEEN %(d)s::date - (%(days)s - 1) AND %(d)s
                GROUP BY 1
            ) s ON s.order_date = d.day::date
            ORDER BY 1""",
        {"d": forecast_date, "id": series_id, "days": days},
    )


@cached
def forecast_products(wh: Warehouse, forecast_date, categories: tuple[str, ...]) -> pd.DataFrame:
    """product_id, label, category of the products forecast that day (the chosen categories; () all),
    the best sellers over the forecast first."""
    return read(
        wh.url,
        """SELECT p.product_id, '#' || p.product_id || ' ' || p.product_name AS label, p.category,
                  sum(f.point) AS demand
           FROM marts.demand_forecast f JOIN warehouse.dim_product p ON p.product_id::text = f.series_id
           WHERE f.forecast_date = %(d)s AND f.series_level = 'product'
             AND (cardinality(%(categories)s::text[]) = 0 OR p.category = ANY(%(categories)s::text[]))
           GROUP BY 1, 2, 3 ORDER BY demand DESC, p.product_id""",
        {"d": forecast_date, "categories": list(categories)},
    )


@cached
def stock_and_demand(wh: Warehouse, forecast_date, categories: tuple[str, ...]) -> pd.DataFrame:
    """Per product of the chosen categories: its stored reorder point and daily point forecasts
    (product_id, product_name, category, lead_time_days, service_level, lead_time_demand,
    safety_stock, reorder_point, target_date, point)."""
    return read(
        wh.url,
        """SELECT s.product_id, p.product_name, p.category, s.lead_time_days, s.service_level,
                  s.lead_time_demand, s.safety_stock, s.reorder_point, f.target_date, f.point
           FROM marts.product_stock s
           JOIN warehouse.dim_product p USING (product_id)
           JOIN marts.demand_forecast f ON f.series_level = 'product'
                AND f.series_id = s.product_id::text AND f.forecast_date = s.forecast_date
           WHERE s.forecast_date = %(d)s
             AND (cardinality(%(categories)s::text[]) = 0 OR p.category = ANY(%(categories)s::text[]))
           ORDER BY s.product_id, f.target_date""",
        {"d": forecast_date, "categories": list(categories)},
    )


def days_of_cover(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per product: the days until its forecast demand uses up a stock held at its reorder
    point on the forecast date (the first target day the cumulative forecast reaches it; NaN: not
    within the forecast), soonest first."""
    rows = rows.sort_values(["product_id", "target_date"])
    used = rows.groupby("product_id")["point"].cumsum()
    day = rows.groupby("product_id").cumcount() + 1
    runs_out = rows.assign(day=day.where(used >= rows["reorder_point"])).groupby("product_id")["day"].min()
    first = rows.groupby("product_id", as_index=False).first().drop(columns=["target_date", "point"])
    out = first.assign(
        days_of_cover=first["product_id"].map(runs_out),
        daily_demand=first["product_id"].map(rows.groupby("product_id")["point"].mean()),
    )
    return out.sort_values(["days_of_cover", "daily_demand"], ascending=[True, False], na_position="last")


def error_rows(table: pd.DataFrame, chosen: str) -> pd.DataFrame:
    """The chosen model's, seasonal naive's and the oracle's rows (when stored), by horizon."""
    models = [chosen, *(m for m in TABLE_MODELS if m != chosen)]
    shown = table[table["model"].isin(models)].copy()
    shown["model"] = pd.Categorical(shown["model"], models, ordered=True)
    columns = ["model", "horizon", "mase", "mase_vs_naive", "smape", "bias", "coverage_80", "coverage_95"]
    return shown.sort_values(["horizon", "model"])[[c for c in columns if c in shown.columns]]


# ------------------------------------------------------------------------------------------- view
def band_chart(actuals: pd.DataFrame, forecast: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    x = list(forecast["target_date"])
    for level, fill in ((95, "rgba(31,119,180,0.15)"), (80, "rgba(31,119,180,0.30)")):
        fig.add_scatter(
            x=x + x[::-1],
            y=list(forecast[f"hi_{level}"]) + list(forecast[f"lo_{level}"])[::-1],
            fill="toself",
            fillcolor=fill,
            line={"width": 0},
            name=f"{level}% interval",
            hoverinfo="skip",
        )
    fig.add_scatter(
        x=actuals["date"], y=actuals["units"], mode="lines", name="actual units", line={"color": "#333"}
    )
    fig.add_scatter(x=x, y=forecast["point"], mode="lines", name="forecast", line={"color": "#1f77b4"})
    fig.update_layout(yaxis_title="units per day", legend={"orientation": "h", "y": 1.15})
    return fig


def show_series(wh: Warehouse, forecast_date, level: str, series_id: str, what: str) -> None:
    forecast = series_forecast(wh, forecast_date, level, series_id)
    if forecast.empty:
        st.info(f"No forecast is stored for {what} on {forecast_date:%d %b %Y}.")
        return
    actuals = series_actuals(wh, forecast_date, level, series_id, HISTORY_DAYS)
    st.caption(f"{what}: `{forecast['method'].iloc[0]}`, {len(forecast)} days after {forecast_date:%d %b %Y}")
    charts.show(band_chart(actuals, forecast), height=320, key=f"forecast:{level}:{series_id}")


def render(ctx: L.PageContext) -> None:
    wh, flt = ctx.warehouse, ctx.filters
    latest = latest_forecast(wh)
    if latest.empty:
        st.info(NO_FORECASTS)
        return
    forecast_date, version = latest["forecast_date"].iloc[0], str(latest["model_version"].iloc[0])
    st.caption(
        f"`{registry.DEMAND_FORECAST_MODEL}` v{version}, forecast on {forecast_date:%d %b %Y} "
        f"({int(latest['series'].iloc[0]):,} series; the levels are reconciled: categories add up to "
        "the total, products to their category)"
    )

    st.subheader("Category demand")
    categories = list(flt.categories) or Q.choices(wh)["categories"]
    choice = st.selectbox("Series", [TOTAL, *categories], key="demand_category")
    if choice not in (TOTAL, *categories):  # the filters changed under a previous pick
        choice = TOTAL
    if choice == TOTAL:
        show_series(wh, forecast_date, "total", "total", "the whole shop")
    else:
        show_series(wh, forecast_date, "category", choice, choice)

    st.subheader("Product demand")
    products = forecast_products(wh, forecast_date, flt.categories)
    if products.empty:
        st.info("No product of the chosen categories is forecast.")
    else:
        labels = dict(zip(products["product_id"].astype(int), products["label"], strict=True))
        product_id = st.selectbox(
            "Product (best sellers first)", list(labels), format_func=labels.get, key="demand_product"
        )
        if product_id not in labels:  # the filters changed under a previous pick
            product_id = next(iter(labels))
        show_series(wh, forecast_date, "product", str(product_id), labels[product_id])

    st.subheader("Backtest: errors beside seasonal naive and the oracle")
    show_backtests(ctx, version, forecast_date)

    st.subheader("Stock that runs out first")
    show_running_out(wh, forecast_date, flt.categories)


def show_backtests(ctx: L.PageContext, version: str, forecast_date) -> None:
    try:
        tables = forecast_backtests(ctx.settings, version)
    except RegistryUnavailable as exc:
        L.registry_down(exc)
        return
    if not tables:
        st.info(f"Version {version} logged no backtest table: retrain with `ecomm train forecast`.")
        return
    st.caption(
        "Rolling-origin backtest of the registered version's training run: each level's chosen model, "
        "seasonal naive and (on the simulated shop) the planted expected demand scored as a forecast "
        "(the oracle). MASE below 1: better than the in-sample seasonal naive; mase_vs_naive: over the "
        "seasonal naive's MASE on the same days; coverage: share of actuals inside the 80%/95% intervals."
    )
    methods = stored_methods(ctx.warehouse, forecast_date)
    for level, table in tables.items():
        model = methods.get(level, "seasonal_naive")
        st.markdown(f"**{level}** (stored forecasts: `{model}`)")
        st.dataframe(error_rows(table, model), hide_index=True)


def show_running_out(wh: Warehouse, forecast_date, categories: tuple[str, ...]) -> None:
    rows = stock_and_demand(wh, forecast_date, categories)
    if rows.empty:
        st.info("No reorder point is stored for the chosen categories.")
        return
    cover = days_of_cover(rows).head(RUNNING_OUT)
    first = cover.iloc[0]
    st.caption(
        "The warehouse records no stock on hand, so each product is taken to hold its reorder point "
        f"({int(first['lead_time_days'])}-day lead time, {first['service_level']:.0%} service level) on the "
        "forecast date; days of cover: until its forecast demand uses that up (blank: not within the forecast)."
    )
    st.dataframe(
        cover[
            [
                "product_id",
                "product_name",
                "category",
                "days_of_cover",
                "daily_demand",
                "lead_time_demand",
                "safety_stock",
                "reorder_point",
            ]
        ],
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.1f")
            for c in ("daily_demand", "lead_time_demand", "safety_stock", "reorder_point")
        },
    )
