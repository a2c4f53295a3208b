"""A training run of the registered models, as the ML DAG and `ecomm pipeline bootstrap` run it:
first what it will train on, decided before any model is fitted (the loaded warehouse and the
point-in-time plan of the models, from the settings the trainers use; FeatureError when the
warehouse is too short), then each model trained with the configured trials and tagged with what it
learnt from, unless its latest version learnt from the very same (`unchanged_since`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ecomm import db
from ecomm.features.churn import FeatureError, plan_cutoffs, require_orders, warehouse_span
from ecomm.ml.churn.train import ChurnConfig
from ecomm.ml.recommend.dataset import rating_log_span, split_dates
from ecomm.ml.recommend.train import RecConfig
from ecomm.ml.training_input import record, training_input, version_trained_on
from ecomm.settings import Settings


def training_plan(settings: Settings) -> dict:
    from ecomm.status import warehouse_status

    info = warehouse_status(settings)
    batches = (info.get("batches") or [{}])[0]
    if not batches.get("loaded"):
        raise FeatureError("the warehouse holds no loaded batch: nothing to train on")
    churn, rec = ChurnConfig.from_settings(settings), RecConfig.from_settings(settings)
    with db.connection(settings) as conn:
        ratings = rating_log_span(conn)  # a rating log: the recommender learns from its ratings
        try:
            span, churn_plan = warehouse_span(conn), None
        except FeatureError as exc:
            if ratings is None:
                raise
            span, churn_plan = ratings, {"skipped": str(exc)}
        if churn_plan is None:
            try:
                require_orders(conn)  # an event log: the recommender learns from its events
            except FeatureError as exc:
                churn_plan = {"skipped": str(exc)}
    if churn_plan is None:
        cutoffs = plan_cutoffs(
            span,
            churn.horizon_days,
            max_train_cutoffs=churn.max_train_cutoffs,
            min_history_days=churn.min_history_days,
        )
        churn_plan = cutoffs.to_dict() | {"n_trials": churn.n_trials}
    train_end, holdout_end = split_dates(span, rec.holdout_days)
    return {
        "schema_revision": info["warehouse"][0]["schema revision"],
        "batches_loaded": batches["loaded"],
        "first_batch": batches["first"].isoformat(),
        "last_batch": batches["last"].isoformat(),
        "rows": {t["table"]: int(t["rows"].replace(",", "")) for t in info["tables"]},
        "churn": churn_plan,
        "recommender": {
            "train_end": train_end.isoformat(),
            "holdout_last_day": (holdout_end - timedelta(days=1)).isoformat(),
            "n_trials": rec.n_trials,
        },
    }


def _trainers() -> dict[str, tuple[Callable[[Settings], object], Callable]]:
    """Model name -> (its configuration from the settings, its trainer(settings, config))."""
    from ecomm.ml import registry
    from ecomm.ml.churn.train import train_churn
    from ecomm.ml.clv.train import ClvConfig, train_clv
    from ecomm.ml.forecast.train import ForecastConfig, train_forecast
    from ecomm.ml.purchase.train import PurchaseConfig, train_purchase
    from ecomm.ml.recommend.train import train_recommender
    from ecomm.ml.segment.train import SegmentConfig, train_segments

    return {
        registry.CHURN_MODEL: (ChurnConfig.from_settings, train_churn),
        registry.RECOMMENDER_MODEL: (RecConfig.from_settings, train_recommender),
        registry.SEGMENT_MODEL: (SegmentConfig.from_settings, train_segments),
        registry.PURCHASE_MODEL: (PurchaseConfig.from_settings, train_purchase),
        registry.CLV_MODEL: (ClvConfig.from_settings, train_clv),
        registry.DEMAND_FORECAST_MODEL: (ForecastConfig.from_settings, train_forecast),
    }


def model_config(settings: Settings, name: str):
    """The configuration model `name` trains with, from the settings."""
    from ecomm.ml import registry

    trainers = _trainers()
    if name not in trainers:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(registry.MODEL_NAMES)}")
    return trainers[name][0](settings)


def unchanged_since(settings: Settings, name: str) -> str | None:
    """The latest version of model `name` if it was trained on the warehouse as it is now with the
    current settings (nothing new to learn from), else None (see ecomm.ml.training_input)."""
    from ecomm.ml import tracking

    current = training_input(settings, model_config(settings, name))
    return version_trained_on(tracking.configure(settings), name, current)


def train_model(settings: Settings, name: str, config=None):
    """Train registered model `name` with `config` (default: the configured one, `model_config`): it
    is logged, registered as challenger and the promotion gate decides (the trainer's result: version,
    gate, metrics, seconds, run_id); the version records what it was trained on."""
    from ecomm.ml import tracking

    config = config if config is not None else model_config(settings, name)
    used = training_input(settings, config)  # before training: a load landing meanwhile is new data
    result = _trainers()[name][1](settings, config)
    record(tracking.configure(settings), name, result.version, used)
    return result
