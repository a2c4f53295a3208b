"""The demand forecaster's monitored population: the products it forecast on a date and their recent sales.

The served pyfunc refits on the history it is given, so forecasting again for monitoring would cost
a second daily fit. The forecasts the demand_forecast DAG stored in marts.demand_forecast are read
instead: one row per product the monitored version forecast on date D (forecast_date, the
warehouse's last order date; rows of the version only - a run replaces the date's rows, so after a
new champion the date may hold another version's forecasts, which are not this version's population),
with as of D (its sales up to and including D, cancelled lines left out, as the forecast's history)
* `mean_daily_units`: its mean units a day over the WINDOW_DAYS up to D (fewer days for a product
  launched within them: from its launch or the first order day),
* `zero_day_share`: the share of those days without a sale (intermittent demand),
* `days_since_last_sale`: days from its last sale to D (null: never sold; left out of the summary),
* `category`,
and as the prediction its mean forecast units a day over the stored horizon. Per product only: the
category and total series are sums of the products' (reconciled) and their rows are not independent.
The reference is this population on the version's training end, the forecasts training stored
(ml.forecast.train); daily, on the business date. A date without the version's stored product
forecasts has no population: NoPopulation, with the reason.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomm.db import query_frame

WINDOW_DAYS = 28
CATEGORICAL = ["category"]
COLUMNS = ["mean_daily_units", "zero_day_share", "days_since_last_sale", "category"]


class NoPopulation(Exception):
    """No population to monitor on the date; the message says why (one line)."""


POPULATION_SQL = """
WITH stored AS (
    -- summed in target-date order: re-stored forecasts (the same values in other places on disk)
    -- give the same mean to the last bit, as a version's stored drift reference expects
    SELECT series_id::bigint AS product_id, avg(point ORDER BY target_date)::float8 AS forecast_mean_daily
    FROM marts.demand_forecast
    WHERE model_name = %(model)s AND model_version = %(version)s AND series_level = 'product'
      AND forecast_date = %(day)s
    GROUP BY 1
), first_order AS (
    SELECT min(order_date) AS first_day FROM warehouse.fact_order_items
), sold AS (
    SELECT f.product_id, f.order_date, sum(f.quantity) AS units
    FROM warehouse.fact_order_items f JOIN stored USING (product_id)
    WHERE f.status <> 'cancelled' AND f.order_date <= %(day)s
    GROUP BY 1, 2
), windowed AS (
    SELECT s.product_id, p.category,
           %(day)s::date - greatest(p.launch_date, o.first_day, %(day)s::date - %(window)s + 1) + 1 AS days
    FROM stored s JOIN warehouse.dim_product p USING (product_id) CROSS JOIN first_order o
)
SELECT w.product_id, w.category,
       (COALESCE(sum(d.units) FILTER (WHERE d.order_date > %(day)s::date - %(window)s), 0)
        / w.days)::float8 AS mean_daily_units,
       (1 - count(d.order_date) FILTER (WHERE d.order_date > %(day)s::date - %(window)s)::float8
        / w.days)::float8 AS zero_day_share,
       (%(day)s::date - max(d.order_date))::float8 AS days_since_last_sale,
       s.forecast_mean_daily
FROM windowed w JOIN stored s USING (product_id) LEFT JOIN sold d USING (product_id)
GROUP BY w.product_id, w.category, w.days, s.forecast_mean_daily
ORDER BY w.product_id
"""


def forecast_population(conn, day: dt.date, version: str) -> tuple[pd.DataFrame, pd.Series]:
    """The products `version` forecast on `day` (marts.demand_forecast): their COLUMNS and mean daily
    forecast."""
    from ecomm.ml.registry import DEMAND_FORECAST_MODEL

    params = {"model": DEMAND_FORECAST_MODEL, "version": str(version), "day": day, "window": WINDOW_DAYS}
    frame = query_frame(conn, POPULATION_SQL, params)
    if frame.empty:
        raise NoPopulation(missing_reason(conn, day, str(version)))
    return frame[COLUMNS].reset_index(drop=True), frame["forecast_mean_daily"].rename("forecast")


def missing_reason(conn, day: dt.date, version: str) -> str:
    """Why `version` has no population on `day`: nothing stored, or another version's forecasts."""
    from ecomm.ml.registry import DEMAND_FORECAST_MODEL

    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT model_version FROM marts.demand_forecast WHERE model_name = %s "
            "AND series_level = 'product' AND forecast_date = %s ORDER BY 1",
            (DEMAND_FORECAST_MODEL, day),
        )
        others = [row[0] for row in cur.fetchall()]
    where = f"for {day.isoformat()} in marts.demand_forecast"
    if not others:
        return f"no product forecasts stored {where}"
    return f"no product forecasts of v{version} stored {where} (they are v{', v'.join(others)}'s)"
