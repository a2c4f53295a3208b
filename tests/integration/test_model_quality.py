"""Realised quality over time (ecomm.monitoring.quality) on the session's trained world (churn_model
with a 60-day horizon and purchase_model with 30 days, v1 champions, both evaluated at 2025-01-01):
on business date D each champion's predictions as of D + 1 - horizon are scored against the labels
now loaded, beside the planted truth's probabilities where the truth has that cutoff (month starts),
and marts.model_quality holds exactly that row; a re-run replaces it."""

from __future__ import annotations

import datetime as dt

import mlflow
import pytest
from sklearn.metrics import roc_auc_score

from ecomm import db
from ecomm.features.churn import warehouse_span
from ecomm.ml import registry, tracking
from ecomm.monitoring.models import monitored_populations
from ecomm.monitoring.quality import measure_served_models

from support.query import Query
from support.trained_world import WORLD_AS_OF

# the label SQL written out here (not features/sql): 1 = churned / purchased in [C, C + horizon)
CHURNED = """SELECT c.customer_id, NOT EXISTS (SELECT 1 FROM warehouse.fact_order_items f
             WHERE f.customer_id = c.customer_id AND f.status <> 'cancelled'
             AND f.order_date BETWEEN %(c)s AND %(c)s::date + %(h)s - 1)
             FROM warehouse.dim_customer c"""
PURCHASED = """SELECT c.customer_id, EXISTS (SELECT 1 FROM warehouse.fact_order_items f
               WHERE f.customer_id = c.customer_id AND f.order_date BETWEEN %(c)s AND %(c)s::date + %(h)s - 1
               AND f.status <> 'cancelled'
               AND (f.return_date IS NULL OR f.return_date >= %(c)s::date + %(h)s))
               FROM warehouse.dim_customer c"""
TRUTH = {
    registry.CHURN_MODEL: "SELECT customer_id, churn_probability FROM truth.customer_churn "
    "WHERE snapshot_date = %(c)s AND horizon_days = %(h)s",
    registry.PURCHASE_MODEL: "SELECT customer_id, purchase_probability FROM truth.customer_purchase "
    "WHERE snapshot_date = %(c)s AND horizon_days = %(h)s",
}
LABELS = {registry.CHURN_MODEL: CHURNED, registry.PURCHASE_MODEL: PURCHASED}
HORIZON = {registry.CHURN_MODEL: 60, registry.PURCHASE_MODEL: 30}


def expected(settings, q: Query, name: str, cutoff: dt.date) -> tuple:
    """(value, truth value, rows, positives) computed here from the champion's own predictions."""
    client = tracking.configure(settings)
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, "1"))
    with db.connection(settings) as conn:
        features, predictions = monitored_populations()[name](
            conn, loaded, cutoff, warehouse_span(conn).first_day, "1"
        )
    params = {"c": cutoff, "h": HORIZON[name]}
    labels = dict(q(LABELS[name], params))
    truth = dict(q(TRUTH[name], params))
    ids = features["customer_id"].tolist()
    scores = dict(zip(ids, predictions, strict=True))
    if truth:
        ids = [i for i in ids if i in truth]
    y = [int(labels[i]) for i in ids]
    return (
        float(roc_auc_score(y, [scores[i] for i in ids])),
        float(roc_auc_score(y, [truth[i] for i in ids])) if truth else None,
        len(ids),
        sum(y),
    )


def test_realised_quality_of_each_champion_once_its_labels_matured(trained_world):
    days = (dt.date(2025, 1, 30), WORLD_AS_OF)
    results = {day: measure_served_models(trained_world, day) for day in days}
    q = Query(trained_world)
    try:
        got = [
            (r.model, r.version, r.business_date, r.status, r.cutoff, r.horizon_days, r.held_out)
            for day in days
            for r in results[day]
        ]
        assert got == [
            (registry.CHURN_MODEL, "1", days[0], "measured", dt.date(2024, 12, 2), 60, False),
            (registry.PURCHASE_MODEL, "1", days[0], "measured", dt.date(2025, 1, 1), 30, False),
            (registry.CHURN_MODEL, "1", days[1], "measured", dt.date(2025, 1, 1), 60, False),
            (registry.PURCHASE_MODEL, "1", days[1], "measured", dt.date(2025, 1, 31), 30, True),
        ]
        for day in days:
            for r in results[day]:
                value, truth_value, rows, positives = expected(trained_world, q, r.model, r.cutoff)
                assert (r.rows, r.positives) == (rows, positives), (r.model, day)
                assert r.value == pytest.approx(value, rel=1e-12), (r.model, day)
                if truth_value is None:
                    assert r.truth_value is None, (r.model, day)
                else:
                    assert r.truth_value == pytest.approx(truth_value, rel=1e-12), (r.model, day)
        # the truth holds month starts only: churn's 2025-01-01 and purchase's 2025-01-01 cutoffs
        assert [(r.model, r.cutoff, r.truth_value is not None) for d in days for r in results[d]] == [
            (registry.CHURN_MODEL, dt.date(2024, 12, 2), False),
            (registry.PURCHASE_MODEL, dt.date(2025, 1, 1), True),
            (registry.CHURN_MODEL, dt.date(2025, 1, 1), True),
            (registry.PURCHASE_MODEL, dt.date(2025, 1, 31), False),
        ]
        stored = q(
            "SELECT model_name, model_version, business_date, metric, cutoff_date, horizon_days, value, "
            "truth_value, rows, positives, held_out FROM marts.model_quality WHERE business_date IN %s "
            "ORDER BY business_date, model_name",
            (days,),
        )
        assert stored == [
            (r.model, 1, r.business_date, "roc_auc", r.cutoff, r.horizon_days, r.value, r.truth_value,
             r.rows, r.positives, r.held_out)
            for day in days
            for r in results[day]
        ]  # fmt: skip

        # a re-run replaces the date's rows (a later computed_at), the other date's stay
        changed = "SELECT business_date, count(*), max(computed_at) FROM marts.model_quality " + (
            "WHERE business_date IN %s GROUP BY 1 ORDER BY 1"
        )
        before = q(changed, (days,))
        measure_served_models(trained_world, WORLD_AS_OF)
        after = q(changed, (days,))
        assert after[0] == before[0] and after[1][:2] == (WORLD_AS_OF, 2) and after[1][2] > before[1][2]
    finally:
        q.close()


def test_quality_reads_the_predictions_the_drift_run_logged_then_forgets_them(trained_world):
    """The drift run of C - 1 logs the population it scored for C; the quality of C + horizon - 1
    reads that log (not a rebuild: reversed logged scores give 1 - AUC) and deletes it."""
    from ecomm.monitoring.models import SharedFeatures, monitor_model

    client = tracking.configure(trained_world)
    cutoffs = {name: WORLD_AS_OF + dt.timedelta(days=1 - h) for name, h in HORIZON.items()}
    q = Query(trained_world)
    logged = "SELECT customer_id, prediction FROM marts.monitored_predictions " + (
        "WHERE model_name = %s AND model_version = 1 AND cutoff_date = %s ORDER BY 1"
    )

    def drift_runs() -> None:
        with db.connection(trained_world) as conn:
            shared = SharedFeatures()
            for name, cutoff in cutoffs.items():
                result = monitor_model(
                    trained_world, client, conn, name, cutoff - dt.timedelta(days=1), shared
                )
                assert result.status == "monitored", result

    def measured() -> dict:
        return {r.model: r for r in measure_served_models(trained_world, WORLD_AS_OF)}

    try:
        drift_runs()
        stored_logs = {name: q(logged, (name, cutoff)) for name, cutoff in cutoffs.items()}
        for name, cutoff in cutoffs.items():
            model = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, "1"))
            with db.connection(trained_world) as conn:
                features, predictions = monitored_populations()[name](
                    conn, model, cutoff, warehouse_span(conn).first_day, "1"
                )
            assert stored_logs[name] == list(
                zip(features["customer_id"].tolist(), [float(p) for p in predictions], strict=True)
            ), name
        first = measured()
        for name, cutoff in cutoffs.items():
            value, _, rows, _ = expected(trained_world, q, name, cutoff)
            assert (first[name].status, first[name].predictions, first[name].rows) == (
                "measured",
                "logged",
                rows,
            )
            assert first[name].value == pytest.approx(value, rel=1e-12), name
            assert q(logged, (name, cutoff)) == [], f"{name}: the measured cutoff's log is kept"

        drift_runs()
        with q.conn.cursor() as cur:
            cur.execute(
                "UPDATE marts.monitored_predictions SET prediction = -prediction "
                "WHERE (model_name, cutoff_date) IN %s",
                (tuple(cutoffs.items()),),
            )
        reversed_ = measured()
        for name in cutoffs:
            assert reversed_[name].value == pytest.approx(1 - first[name].value, rel=1e-12), name
    finally:
        rebuilt = measure_served_models(trained_world, WORLD_AS_OF)  # the stored row is the true one
        q.close()
    assert [r.predictions for r in rebuilt] == ["rebuilt", "rebuilt"]
