"""The Assets our DAGs publish and schedule on (imported by DAG files: it imports Airflow)."""

from __future__ import annotations

from airflow.sdk import Asset

WAREHOUSE_MARTS_URI = "ecomm://warehouse/marts"

# Updated by `ecommerce_data_pipeline` each time a business date is loaded, checked and the marts
# are refreshed; `ml_training_pipeline` is scheduled on it.
WAREHOUSE_MARTS = Asset(name="warehouse_marts", uri=WAREHOUSE_MARTS_URI, group="warehouse")
