"""A session-wide loaded warehouse with champion models in a real MLflow registry, shared by the API
and dashboard tests (a pytest plugin: conftest lists it in `pytest_plugins`).

World: 900 customers, 120 products, 210 days to 2025-03-01, 60-day churn horizon, seed 11. Churn and
recommender are trained once with few tuning trials, segments with k 3..5, purchase_model with few
trees and epochs, lifetime value on a 90-day holdout (version 1 of each, all champions). The MLflow
store is its own database on the session's PostgreSQL, artifacts under the session's tmp home.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.ml import tracking
from ecomm.ml.churn.train import ChurnConfig, train_churn
from ecomm.ml.clv.train import ClvConfig, train_clv
from ecomm.ml.forecast.backtest import BacktestSettings
from ecomm.ml.forecast.train import ForecastConfig, train_forecast
from ecomm.ml.purchase.train import PurchaseConfig, train_purchase
from ecomm.ml.recommend.train import RecConfig, train_recommender
from ecomm.ml.segment.train import SegmentConfig, train_segments
from ecomm.warehouse.run import load_path

WORLD_AS_OF = date(2025, 3, 1)
WORLD_HORIZON = 60
WORLD_CLV = {"holdout_days": 90, "min_history_days": 90}  # 210 days hold no year-long holdout
# seasonal naive only, one origin: seconds (the API reads what it stores, not how good it is)
WORLD_FAST_FORECAST = ForecastConfig(
    models=("seasonal_naive",), backtest=BacktestSettings(windows=1), products=20
)
WORLD_FAST_CHURN = {"n_trials": 4, "n_trials_api": 2, "n_trials_logreg": 2, "min_history_days": 45}


@pytest.fixture(scope="session")
def loaded_world(template_warehouse, tmp_path_factory):
    """Settings of a loaded warehouse (own database) and an empty MLflow database; both dropped at the end."""
    raw = tmp_path_factory.mktemp("shared-world")
    generate_history(
        GeneratorConfig(
            seed=11,
            as_of=WORLD_AS_OF,
            days=210,
            customers=900,
            products=120,
            churn_horizon_days=WORLD_HORIZON,
        ),
        raw,
    )
    suffix = uuid.uuid4().hex[:8]
    warehouse, mlflow_db = f"world_{suffix}", f"world_mlflow_{suffix}"
    db.create_database(template_warehouse, warehouse, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(
        update={
            "warehouse_db": warehouse,
            "mlflow_db": mlflow_db,
            "churn_horizon_days": WORLD_HORIZON,
            "seed": 11,
        }
    )
    report = load_path(settings, raw)
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    db.drop_database(template_warehouse, warehouse)
    db.drop_database(template_warehouse, mlflow_db)


@pytest.fixture(scope="session")
def trained_world(loaded_world):
    """`loaded_world` with churn_model, recommender_model, segment_model, purchase_model, clv_model and
    demand_forecast_model v1, all champions (segments, values and forecasts stored in
    marts.customer_segments, marts.customer_value and marts.demand_forecast, so GET /segments, GET /clv
    and GET /forecast answer as after training)."""
    tracking.configure(loaded_world)
    churn = train_churn(loaded_world, ChurnConfig.from_settings(loaded_world, **WORLD_FAST_CHURN))
    rec = train_recommender(loaded_world, RecConfig.from_settings(loaded_world, n_trials=2))
    segments = train_segments(loaded_world, SegmentConfig.from_settings(loaded_world, ks=(3, 4, 5), n_boot=2))
    purchase = train_purchase(
        loaded_world, PurchaseConfig.from_settings(loaded_world, xgb_estimators=50, mlp_max_iter=30)
    )
    clv = train_clv(loaded_world, ClvConfig.from_settings(loaded_world, **WORLD_CLV))
    forecast = train_forecast(loaded_world, WORLD_FAST_FORECAST)
    assert churn.gate.promoted and rec.gate.promoted and segments.gate.promoted
    assert purchase.gate.promoted and clv.gate.promoted and forecast.gate.promoted
    return loaded_world
