"""Our MLflow experiments open in MLflow 3's classic ML view: the `mlflow.experimentKind` tag, on a
real tracking store (its own database on the session's PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest

from ecomm import db
from ecomm.ml import tracking

KIND = "mlflow.experimentKind"


@pytest.fixture
def store(server_settings):
    """Settings of an MLflow store that does not exist yet (dropped afterwards) and its client. The
    session's home, so the session's server: another home would start a server of its own."""
    settings = server_settings.model_copy(update={"mlflow_db": f"mlflow_kind_{uuid.uuid4().hex[:8]}"})
    yield settings, tracking.configure(settings)
    db.drop_database(settings, settings.mlflow_db)


def kind_of(client, name: str) -> str | None:
    return client.get_experiment_by_name(name).tags.get(KIND)


def test_a_new_experiment_is_created_as_classic_ml(store):
    settings, client = store

    experiment_id = tracking.ensure_experiment(client, settings, tracking.CHURN_EXPERIMENT)

    assert client.get_experiment(experiment_id).tags[KIND] == "custom_model_development"
    assert client.get_experiment_by_name(tracking.RECOMMENDER_EXPERIMENT) is None  # only the one asked for


def test_experiments_made_without_the_kind_get_it(store):
    """Experiments created by an earlier version (no tag) or tagged GenAI by the UI are corrected by
    the trainers' ensure_experiment and by the bootstrap's pass over the existing experiments."""
    settings, client = store
    churn_id = client.create_experiment(tracking.CHURN_EXPERIMENT)
    client.create_experiment(tracking.RECOMMENDER_EXPERIMENT, tags={KIND: "genai_development"})
    assert kind_of(client, tracking.CHURN_EXPERIMENT) is None

    assert tracking.ensure_experiment(client, settings, tracking.CHURN_EXPERIMENT) == churn_id
    assert kind_of(client, tracking.CHURN_EXPERIMENT) == "custom_model_development"
    assert kind_of(client, tracking.RECOMMENDER_EXPERIMENT) == "genai_development"

    assert tracking.mark_existing_experiments(client) == [tracking.RECOMMENDER_EXPERIMENT]
    assert kind_of(client, tracking.RECOMMENDER_EXPERIMENT) == "custom_model_development"
    assert tracking.mark_existing_experiments(client) == []  # nothing left to change


def test_marking_an_empty_store_creates_nothing(store):
    _settings, client = store

    assert tracking.mark_existing_experiments(client) == []
    assert [e.name for e in client.search_experiments()] == ["Default"]
