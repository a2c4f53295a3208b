"""Daily drift of the served models against the training reference stored with their versions, on the
session's trained world (churn_model, purchase_model, clv_model and segment_model v1 are champions,
each registered with its reference): marts.model_monitoring holds exactly the measures of the day's population against that
reference, one row per feature and one for the prediction, and a re-run replaces its date's rows."""

from __future__ import annotations

import datetime as dt

import mlflow

from ecomm import db
from ecomm.features.churn import warehouse_span
from ecomm.features.clv import BTYD_INPUTS
from ecomm.ml import registry, tracking
from ecomm.monitoring.models import load_reference, monitor_served_models, monitored_populations
from ecomm.monitoring.recent_inputs import INPUTS
from ecomm.monitoring.reference import PREDICTION, drift_against

from support.query import Query, drift_rows
from support.trained_world import WORLD_AS_OF

SERVED = (registry.CHURN_MODEL, registry.PURCHASE_MODEL, registry.CLV_MODEL, registry.SEGMENT_MODEL)
ROW = "feature, kind, psi, ks_statistic, chi2_p_value, drifted, reference_rows, current_rows"


def stored(q: Query, name: str, day: dt.date) -> list[tuple]:
    return q(
        f"SELECT {ROW} FROM marts.model_monitoring WHERE model_name = %s AND model_version = 1 "
        "AND business_date = %s ORDER BY feature",
        (name, day),
    )


def expected_rows(settings, client, name: str, day: dt.date) -> tuple[dict, list[tuple]]:
    """The reference and the rows computed here from the same version, population and threshold."""
    reference = load_reference(client, name, "1")
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, "1"))
    with db.connection(settings) as conn:
        span = warehouse_span(conn)
        features, predictions = monitored_populations()[name](
            conn, loaded, day + dt.timedelta(days=1), span.first_day
        )
    rows = drift_against(reference, features, predictions, settings.drift_psi_threshold, settings.drift_alpha)
    return reference, drift_rows(rows)


def served_inputs(name: str, metadata: dict) -> list[str]:
    """The input columns of a version's served head, from its MLflow metadata."""
    if name == registry.CHURN_MODEL:
        return metadata["heads"]["full"]
    if name in (registry.PURCHASE_MODEL, registry.SEGMENT_MODEL):
        return metadata["features"]
    return list(BTYD_INPUTS)  # clv_model: the BTYD fit reads these four


def test_each_served_model_is_compared_with_its_training_reference(trained_world):
    client = tracking.configure(trained_world)
    week_before = WORLD_AS_OF - dt.timedelta(days=7)
    earlier = monitor_served_models(trained_world, week_before)
    results = monitor_served_models(trained_world, WORLD_AS_OF)
    assert [(r.model, r.version, r.status) for r in earlier + results] == [
        (registry.CHURN_MODEL, "1", "monitored"),
        (registry.PURCHASE_MODEL, "1", "monitored"),
        (registry.CLV_MODEL, "1", "monitored"),
        (registry.SEGMENT_MODEL, "1", "monitored"),
        (INPUTS, "0", "monitored"),
    ] * 2

    q = Query(trained_world)
    try:
        for name, result in zip(SERVED, results[: len(SERVED)], strict=True):
            reference, expected = expected_rows(trained_world, client, name, WORLD_AS_OF)
            metadata = mlflow.pyfunc.load_model(
                client.get_model_version_download_uri(name, "1")
            ).metadata.metadata
            inputs = served_inputs(name, metadata)
            assert list(reference["features"]) == inputs  # every input of the served head
            assert stored(q, name, WORLD_AS_OF) == expected
            assert len(expected) == len(inputs) + 1
            assert [r for r in expected if r[0] == PREDICTION][0][1] == "prediction"
            assert sorted(result.drifted) == sorted(r[0] for r in expected if r[5])
            assert len(stored(q, name, week_before)) == len(inputs) + 1

        # a re-run replaces the date's rows (same measures, a later computed_at); other dates stay
        before = q.one(
            "SELECT max(computed_at) FROM marts.model_monitoring WHERE business_date = %s", (WORLD_AS_OF,)
        )
        counts = q("SELECT business_date, count(*) FROM marts.model_monitoring GROUP BY 1 ORDER BY 1")
        monitor_served_models(trained_world, WORLD_AS_OF)
        assert q("SELECT business_date, count(*) FROM marts.model_monitoring GROUP BY 1 ORDER BY 1") == counts
        assert (
            q.one(
                "SELECT min(computed_at) FROM marts.model_monitoring WHERE business_date = %s", (WORLD_AS_OF,)
            )
            > before
        )
        for name in SERVED:
            assert stored(q, name, WORLD_AS_OF) == expected_rows(trained_world, client, name, WORLD_AS_OF)[1]
    finally:
        q.close()
