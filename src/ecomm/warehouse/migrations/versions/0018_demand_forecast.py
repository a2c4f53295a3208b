"""marts.demand_forecast and marts.product_stock: the demand_forecast_model champion's daily forecasts
per series (product, category, total) with 80%/95% intervals, and each product's reorder point over
its lead time (`ecomm train forecast`, ecomm.ml.forecast.store).

Revision ID: 0018
"""

from alembic import op

revision = "0018"
down_revision = "0017"

DEMAND_FORECAST = """
CREATE TABLE marts.demand_forecast (
    series_level  text NOT NULL CHECK (series_level IN ('product', 'category', 'total')),
    series_id     text NOT NULL,
    forecast_date date NOT NULL,
    target_date   date NOT NULL CHECK (target_date > forecast_date),
    point         double precision NOT NULL CHECK (point >= 0),
    lo_80         double precision NOT NULL CHECK (lo_80 >= 0),
    hi_80         double precision NOT NULL CHECK (hi_80 >= lo_80),
    lo_95         double precision NOT NULL CHECK (lo_95 >= 0 AND lo_95 <= lo_80),
    hi_95         double precision NOT NULL CHECK (hi_95 >= hi_80),
    method        text NOT NULL,
    model_name    text NOT NULL,
    model_version text NOT NULL,
    forecast_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (series_level, series_id, forecast_date, target_date)
);
COMMENT ON TABLE marts.demand_forecast IS
    'Grain: one row per series level x series id x forecast date x target date: the '
    'demand_forecast_model champion''s expected units on target_date (point) and its 80%/95% '
    'prediction intervals, from the history up to and including forecast_date (the last loaded order '
    'date); method is the model chosen for the level. A run replaces its forecast date''s rows.';

CREATE TABLE marts.product_stock (
    product_id        bigint NOT NULL REFERENCES warehouse.dim_product (product_id),
    forecast_date     date NOT NULL,
    lead_time_days    integer NOT NULL CHECK (lead_time_days > 0),
    service_level     double precision NOT NULL CHECK (service_level > 0 AND service_level < 1),
    lead_time_demand  double precision NOT NULL CHECK (lead_time_demand >= 0),
    lead_time_sd      double precision NOT NULL CHECK (lead_time_sd >= 0),
    safety_stock      double precision NOT NULL CHECK (safety_stock >= 0),
    reorder_point     double precision NOT NULL CHECK (reorder_point >= 0),
    model_name        text NOT NULL,
    model_version     text NOT NULL,
    PRIMARY KEY (product_id, forecast_date)
);
COMMENT ON TABLE marts.product_stock IS
    'Grain: one row per product x forecast date: the reorder point (lead-time demand + safety stock '
    'for the service level) from the product''s rows of marts.demand_forecast of that date.';
"""


def upgrade() -> None:
    op.execute(DEMAND_FORECAST)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS marts.product_stock")
    op.execute("DROP TABLE IF EXISTS marts.demand_forecast")
