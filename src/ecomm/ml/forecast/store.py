"""The demand_forecast_model champion's forecasts into marts.demand_forecast, and each product's
reorder point into marts.product_stock (ecomm.ml.forecast.stock).

Forecast date: the last order date of the warehouse; every series (all products, categories, the
total) is forecast `horizon` days after it from its whole history. A product with fewer than two
weeks of history (a launch of the last days) is left out: no model, not even the seasonal naive,
has a week's season to go on. When the model forecasts products and a level above them, the levels
are reconciled (ecomm.ml.forecast.reconcile, WLS with variance scaling) before they are stored: each
day's category forecasts are the sums of their stored products', the total the sum of all of them
(so a launch too recent to forecast is in neither). A run replaces the rows of its forecast date.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ecomm import db
from ecomm.ml import registry
from ecomm.ml.forecast.conformal import Calibration
from ecomm.ml.forecast.frame import daily_grid
from ecomm.ml.forecast.reconcile import reconcile, shop_aggregates
from ecomm.ml.forecast.shop import at_level, shop_data
from ecomm.ml.forecast.stock import conformal_reorder_point, reorder_point
from ecomm.ml.serving import FORECAST_COLUMNS, SERIES_ID, SERIES_LEVEL, ForecastPyfunc, series_spreads

FORECAST_TABLE = "marts.demand_forecast"
STOCK_TABLE = "marts.product_stock"
MIN_HISTORY_DAYS = 14


def model_input(sales: pd.DataFrame, levels) -> pd.DataFrame:
    """The pyfunc's input: every series of the levels on its daily grid, products with fewer than
    MIN_HISTORY_DAYS days left out."""
    parts = []
    for level in levels:
        grid = daily_grid(at_level(sales, level))
        if level == "product":
            days = grid.groupby("series_id")["date"].transform("size")
            grid = grid[days >= MIN_HISTORY_DAYS]
        parts.append(grid.assign(**{SERIES_LEVEL: level, SERIES_ID: grid["series_id"].astype(str)}))
    return pd.concat(parts, ignore_index=True)[[SERIES_LEVEL, SERIES_ID, "date", "y"]]


def reconciled(forecasts: pd.DataFrame, sales: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's forecasts made coherent, when they hold two levels or more."""
    levels = set(forecasts[SERIES_LEVEL])
    if levels == {"category", "total"}:  # no products: the categories add up to the total
        categories = sorted(forecasts.loc[forecasts[SERIES_LEVEL] == "category", SERIES_ID].unique())
        return reconcile(forecasts, {"total": categories})
    if "product" not in levels or levels == {"product"}:
        return forecasts
    forecast_ids = set(forecasts.loc[forecasts[SERIES_LEVEL] == "product", SERIES_ID])
    products = sales[["product_id", "category"]].drop_duplicates()
    products = products[products["product_id"].astype(str).isin(forecast_ids)]
    return reconcile(forecasts, shop_aggregates(products, levels))


def stock_rows(
    forecasts: pd.DataFrame,
    lead_time: int,
    service_level: float,
    calibration: dict | None = None,
    spreads: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per product of the forecasts: reorder_point's fields; conformal
    (stock.conformal_reorder_point) with the product level's calibration (Calibration.to_dict) and
    each product's spread (serving.series_spreads of its history), when the model has one."""
    products = forecasts[forecasts[SERIES_LEVEL] == "product"].sort_values([SERIES_ID, "date"])
    quantile = float("nan")
    if calibration is not None:
        quantile = Calibration.from_dict(calibration).lead_time_quantile(lead_time, service_level)
    rows = []
    for product_id, part in products.groupby(SERIES_ID, sort=True):
        if np.isnan(quantile):
            stock = reorder_point(part["point"], part["hi_95"], lead_time, service_level)
        else:
            spread = float(spreads.get(product_id, 0.0))
            stock = conformal_reorder_point(part["point"], spread, quantile, lead_time, service_level)
        rows.append({"product_id": int(product_id)} | vars(stock))
    return pd.DataFrame(rows)


def _copy(cur, table: str, rows: pd.DataFrame) -> None:
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


@dataclass(frozen=True)
class Stored:
    model_version: str
    forecast_date: str
    forecast_rows: int
    products: int
    seconds: float


def forecast_and_store(settings, pyfunc: ForecastPyfunc, model, horizon: int | None = None) -> Stored:
    """Forecast every series of the model's levels after the last order date, store them and the
    products' reorder points (lead time and service level from the settings). `model`: a ModelRef."""
    started = time.perf_counter()
    horizon = horizon or int(pyfunc.info["horizon"])
    lead_time = settings.forecast_lead_time_days
    if lead_time > horizon:
        raise ValueError(f"forecast_lead_time_days: {lead_time} days is beyond the {horizon}-day forecast")
    sales, _ = shop_data(settings)
    forecast_date = sales["date"].max()
    history = model_input(sales, sorted(pyfunc.models))
    forecasts = pyfunc.predict(None, history, params={"horizon": horizon, "n_jobs": settings.forecast_jobs})
    forecasts = reconciled(forecasts, sales)
    calibration = getattr(pyfunc, "calibrations", {}).get("product")
    spreads = None
    if calibration is not None:
        products = history[history[SERIES_LEVEL] == "product"]
        spreads = series_spreads(products, int(pyfunc.info["season_length"]), int(calibration["spread_days"]))
    stock = stock_rows(forecasts, lead_time, settings.forecast_service_level, calibration, spreads)
    refs = {"model_name": model.name, "model_version": model.version}
    rows = forecasts.rename(columns={"date": "target_date"}).assign(forecast_date=forecast_date, **refs)
    rows = rows[[SERIES_LEVEL, SERIES_ID, "forecast_date", "target_date", *FORECAST_COLUMNS, "method", *refs]]
    day = forecast_date.date()
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(f"DELETE FROM {FORECAST_TABLE} WHERE forecast_date = %(d)s", {"d": day})
        cur.execute(f"DELETE FROM {STOCK_TABLE} WHERE forecast_date = %(d)s", {"d": day})
        _copy(cur, FORECAST_TABLE, rows)
        if len(stock):
            _copy(cur, STOCK_TABLE, stock.assign(forecast_date=forecast_date, **refs))
        conn.commit()
    return Stored(model.version, day.isoformat(), len(rows), len(stock), time.perf_counter() - started)


def load_version(client, version: str):
    """(ModelRef, the unwrapped ForecastPyfunc) of a registered version."""
    import mlflow

    from ecomm.ml.churn.scoring import ModelRef

    name = registry.DEMAND_FORECAST_MODEL
    ref = ModelRef(name, version, client.get_model_version_download_uri(name, version))
    return ref, mlflow.pyfunc.load_model(ref.source).unwrap_python_model()


def store_champion_forecasts(settings, client=None, version: str | None = None) -> Stored:
    """What a DAG calls after each load: the champion's (or `version`'s) forecasts and reorder points
    of the warehouse as it is now."""
    from ecomm.ml import tracking
    from ecomm.warehouse.migrate import migrate

    migrate(settings)
    client = client or tracking.configure(settings)
    version = version or registry.alias_version(client, registry.DEMAND_FORECAST_MODEL, registry.CHAMPION)
    if version is None:
        raise ValueError(f"{registry.DEMAND_FORECAST_MODEL}: no champion yet (run `ecomm train forecast`)")
    ref, pyfunc = load_version(client, version)
    return forecast_and_store(settings, pyfunc, ref)


@dataclass(frozen=True)
class StoreState:
    forecast_date: date | None  # the warehouse's last order date (None: no order yet)
    champion: str | None  # demand_forecast_model's champion version
    stored_version: str | None  # the version whose forecasts marts.demand_forecast holds for that date

    @property
    def up_to_date(self) -> bool:
        return self.champion is not None and self.stored_version == self.champion


def store_state(settings, client) -> StoreState:
    """Whether the champion's forecasts of the latest forecast date are stored already."""
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(order_date) FROM warehouse.fact_order_items")
        forecast_date = cur.fetchone()[0]
        cur.execute(
            f"SELECT max(model_version) FROM {FORECAST_TABLE} WHERE forecast_date = %(d)s AND model_name = %(m)s",
            {"d": forecast_date, "m": registry.DEMAND_FORECAST_MODEL},
        )
        stored = cur.fetchone()[0]
    champion = registry.alias_version(client, registry.DEMAND_FORECAST_MODEL, registry.CHAMPION)
    return StoreState(forecast_date, champion, stored)
