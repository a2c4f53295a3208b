"""The shop's demand series from the warehouse, backtested beside the planted demand.

Series: units of completed order lines (cancelled lines left out, returned ones counted: the demand
truth is before returns) per product and order date, from the later of the product's launch and the
first order date to the last order date, days without a sale 0; category and total series are
their sums. On the simulated shop `truth.product_demand` (read for evaluation only) gives each
product and day its expected units given the state at the start of the day: scored as a forecast
("oracle"), its error is the noise no forecast can remove. It knows each day's state, which a
forecast made days ahead does not, so it is a floor rather than an attainable target, and a floor
of the squared error (RMSSE): on slow sellers a forecast biased low can beat it on MASE (see
ecomm.ml.metrics).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ecomm import db
from ecomm.ml.forecast.backtest import BacktestSettings, error_table, rolling_backtest

LEVELS = ("product", "category", "total")
ORACLE = "oracle"

SALES_SQL = """
WITH span AS (
    SELECT min(order_date) AS first_day, max(order_date) AS last_day FROM warehouse.fact_order_items
), sold AS (
    SELECT product_id, order_date, sum(quantity) AS units
    FROM warehouse.fact_order_items WHERE status <> 'cancelled' GROUP BY product_id, order_date
)
SELECT p.product_id, p.category, d.day::date AS date, COALESCE(s.units, 0)::float8 AS y
FROM warehouse.dim_product p
CROSS JOIN span
CROSS JOIN LATERAL generate_series(greatest(p.launch_date, span.first_day), span.last_day, interval '1 day') AS d(day)
LEFT JOIN sold s ON s.product_id = p.product_id AND s.order_date = d.day::date
ORDER BY p.product_id, date
"""


def product_sales(conn) -> pd.DataFrame:
    """(product_id, category, date, y) for every product and day of the warehouse's span."""
    frame = db.query_frame(conn, SALES_SQL)
    return frame.assign(date=pd.to_datetime(frame["date"]))


def planted_demand(conn) -> pd.DataFrame | None:
    """(product_id, date, oracle) from truth.product_demand; None without that truth (imported data)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('truth.product_demand') IS NOT NULL")
        present = cur.fetchone()[0]
    if not present:
        conn.rollback()
        return None
    frame = db.query_frame(
        conn, "SELECT product_id, business_date AS date, expected_units AS oracle FROM truth.product_demand"
    )
    conn.rollback()
    return frame.assign(date=pd.to_datetime(frame["date"])) if len(frame) else None


def at_level(frame: pd.DataFrame, level: str, value: str = "y") -> pd.DataFrame:
    """A product frame (product_id, category, date, value) summed to the level's series."""
    if level not in LEVELS:
        raise ValueError(f"level: {level!r} is not one of {', '.join(LEVELS)}")
    key = {"product": "product_id", "category": "category"}.get(level)
    series = frame[key] if key else pd.Series("total", index=frame.index)
    summed = frame.assign(series_id=series).groupby(["series_id", "date"], as_index=False)[value].sum()
    return summed


def top_products(sales: pd.DataFrame, before: pd.Timestamp, n: int) -> pd.Index:
    """The n best sellers in the days before `before` (the first cutoff: no look-ahead in the choice)."""
    past = sales[sales["date"] <= before].groupby("product_id")["y"].sum()
    return past.sort_values(ascending=False, kind="stable").index[:n]


@dataclass(frozen=True)
class ShopBacktest:
    level: str
    series: int
    first_day: str
    last_day: str
    cutoffs: list[str]
    table: pd.DataFrame  # error_table, plus mase_vs_oracle and rmsse_vs_oracle with the truth
    has_truth: bool
    seconds: float
    forecasts: pd.DataFrame | None = None  # rolling_forecasts' rows (for the stock replay)
    frame: pd.DataFrame | None = None  # the level's daily series (series_id, date, y)
    errors: pd.DataFrame | None = None  # rolling_backtest's scaled errors (conformal intervals, stock)
    # backtest.validation_table: the origins before `cutoffs` the model is chosen on (train.choose_method)
    validation: pd.DataFrame | None = None


def shop_data(settings) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(product sales, planted demand or None) of the warehouse; FeatureError (not trainable here)
    for a warehouse without order lines: empty, or an imported log of interactions or ratings."""
    from ecomm.features.churn import FeatureError

    with db.connection(settings) as conn:
        sales = product_sales(conn)
        truth = planted_demand(conn)
    if sales.empty:
        raise FeatureError("the warehouse holds no order lines: the demand forecast is of units sold")
    return sales, truth


NO_CATEGORIES = (
    "the warehouse has no product categories (an imported log without a category column): "
    "the category forecast needs them"
)


def supported_levels(sales: pd.DataFrame, levels: tuple[str, ...]) -> tuple[str, ...]:
    """The levels the warehouse's data can be forecast at: the category level needs products with a
    category (an imported log without one has none), so without any it is left out and the product
    and total levels are forecast alone. FeatureError when none of the levels is left."""
    from ecomm.features.churn import FeatureError

    has_categories = bool(sales["category"].notna().any())
    kept = tuple(level for level in levels if level != "category" or has_categories)
    if not kept:
        raise FeatureError(NO_CATEGORIES)
    return kept


def level_series(sales: pd.DataFrame, level: str, backtest: BacktestSettings, products: int | None):
    """(the product rows kept, the level's long frame): at product level the `products` best sellers
    before the backtest's first cutoff (None: all). FeatureError for the category level of a
    warehouse without categories (its series would be empty)."""
    from ecomm.features.churn import FeatureError

    if level == "category" and not sales["category"].notna().any():
        raise FeatureError(NO_CATEGORIES)
    last = sales["date"].max()
    first_cutoff = last - pd.Timedelta(days=backtest.horizon + (backtest.windows - 1) * backtest.step)
    if level == "product" and products is not None:
        keep = top_products(sales, first_cutoff, products)
        sales = sales[sales["product_id"].isin(keep)]
    return sales, at_level(sales, level)


def shop_backtest(
    settings,
    level: str = "category",
    models: tuple[str, ...] = ("seasonal_naive", "auto_ets"),
    backtest: BacktestSettings | None = None,
    products: int | None = 100,
    data: tuple[pd.DataFrame, pd.DataFrame | None] | None = None,
) -> ShopBacktest:
    """Rolling-origin backtest of the shop's series at one level; product level: the `products` best
    sellers before the first cutoff (None: all). `data`: shop_data's answer, read once by a caller
    backtesting several levels. AutoETS searches the level's space and the conformal errors are
    weighted with the level's half-life (BacktestSettings.for_level)."""
    started = time.perf_counter()
    backtest = (backtest or BacktestSettings()).for_level(level)
    sales, truth = data or shop_data(settings)
    last = sales["date"].max()
    sales, frame = level_series(sales, level, backtest, products)
    forecasts, errors, validation = rolling_backtest(frame, models, backtest)
    if truth is not None:
        truth = truth.merge(sales[["product_id", "category"]].drop_duplicates(), on="product_id")
        oracle = at_level(truth, level, ORACLE)
        forecasts = forecasts.merge(oracle, on=["series_id", "date"], how="left")
    table = error_table(forecasts, backtest.horizons, backtest.levels)
    if truth is not None:
        floor = table[table["model"] == ORACLE].set_index("horizon")
        for metric in ("mase", "rmsse"):
            table[f"{metric}_vs_oracle"] = table[metric] / table["horizon"].map(floor[metric])
    return ShopBacktest(
        level=level,
        series=int(frame["series_id"].nunique()),
        first_day=sales["date"].min().date().isoformat(),
        last_day=last.date().isoformat(),
        cutoffs=sorted(c.date().isoformat() for c in forecasts["cutoff"].unique()),
        table=table,
        has_truth=truth is not None,
        seconds=time.perf_counter() - started,
        forecasts=forecasts,
        frame=frame,
        errors=errors,
        validation=validation,
    )
