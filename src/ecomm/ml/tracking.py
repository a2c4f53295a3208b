"""Where MLflow tracks and registers: Settings.mlflow_tracking_uri, or the mlflow_tracking database.

With `mlflow_tracking_uri` unset, MLflow's SQLAlchemy store lives in the `mlflow_tracking` database of
our PostgreSQL server (created if missing) and each experiment keeps its artifacts under
`Settings.mlflow_artifacts_dir/<experiment>` (a file: URI, so the MLflow UI server on the same
machine or volume reads them). With an http(s) URI the tracking server owns artifact storage.
"""

from __future__ import annotations

import logging
import os
import warnings

from ecomm import db
from ecomm.settings import Settings

CHURN_EXPERIMENT = "churn"
RECOMMENDER_EXPERIMENT = "recommender"
SEGMENT_EXPERIMENT = "segments"
PURCHASE_EXPERIMENT = "purchase"
CLV_EXPERIMENT = "clv"
FORECAST_EXPERIMENT = "demand_forecast"
EXPERIMENTS = (
    CHURN_EXPERIMENT,
    RECOMMENDER_EXPERIMENT,
    SEGMENT_EXPERIMENT,
    PURCHASE_EXPERIMENT,
    CLV_EXPERIMENT,
    FORECAST_EXPERIMENT,
)
# MLflow 3's UI opens an experiment without this tag in its GenAI view (traces, "No data
# available"); this kind opens the classic view of runs, metrics and models.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML_KIND = "custom_model_development"


def _quiet() -> None:
    for name in (
        "alembic",
        "mlflow.store.db.utils",
        "mlflow.store.db",
        "mlflow.tracking",
        "mlflow.models",
        "mlflow.utils.requirements_utils",
        "mlflow.store.model_registry",
        "mlflow.tracking._tracking_service.client",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Passing a Python object as python_model ... CloudPickle": we do, on purpose (see serving.py)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message=".*Found extra inputs in the model input.*")
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")


def ensure_database(settings: Settings, name: str) -> bool:
    """Create database `name` on our server if missing; True if created."""
    return db.create_database(settings, name, if_missing=True)


def tracking_uri(settings: Settings) -> str:
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    ensure_database(settings, settings.mlflow_db)
    return db.database_url(settings, settings.mlflow_db).render_as_string(hide_password=False)


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "databricks"))


def configure(settings: Settings):
    """Point this process's MLflow at our store; returns an MlflowClient."""
    _quiet()
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri(settings)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def mark_classic_ml(client, experiment) -> bool:
    """Tag an experiment as classic ML (see EXPERIMENT_KIND_TAG); True if the tag was missing or other."""
    if experiment.tags.get(EXPERIMENT_KIND_TAG) == CLASSIC_ML_KIND:
        return False
    client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML_KIND)
    return True


def mark_existing_experiments(client) -> list[str]:
    """Tag our experiments that exist already (made before the tag was set) as classic ML; the
    names of those it changed."""
    found = [(name, client.get_experiment_by_name(name)) for name in EXPERIMENTS]
    return [
        name for name, experiment in found if experiment is not None and mark_classic_ml(client, experiment)
    ]


def ensure_experiment(client, settings: Settings, name: str) -> str:
    """The experiment's id, creating it (with our artifact location) if missing; either way tagged
    as classic ML."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        mark_classic_ml(client, experiment)
        return experiment.experiment_id
    import mlflow

    location = None
    if not is_remote(mlflow.get_tracking_uri()):
        path = (settings.mlflow_artifacts_dir / name).resolve()
        path.mkdir(parents=True, exist_ok=True)
        location = path.as_uri()
    return client.create_experiment(
        name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: CLASSIC_ML_KIND}
    )
