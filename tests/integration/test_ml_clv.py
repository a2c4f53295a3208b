"""Lifetime value on a small generated shop: point-in-time purchase histories, `ecomm train clv` end to
end with a real MLflow store (a temp PostgreSQL database), the registered model, the stored values,
GET /clv and the gate.

World: 500 customers, 60 products, 300 days to 2025-02-28 (seed 7), the value truth over 90 days.
Training evaluates the histories before 2024-12-01 on the 90 days after it (the truth's horizon, so
the run is measured against it) and stores the values as of 2025-03-01.
"""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.features.churn import warehouse_span
from ecomm.features.clv import BTYD_INPUTS, clv_features, realised
from ecomm.ml import registry, tracking
from ecomm.ml.clv import evaluate as ev
from ecomm.ml.clv.train import ClvConfig, fit_clv, holdout_frame, holdout_prediction, train_clv
from ecomm.ml.serving import CLV_INPUTS, EXPECTED_VALUE, ClvPyfunc
from ecomm.warehouse.run import load_path

from support.cli import ecomm

AS_OF = date(2025, 3, 1)
CUTOFF = date(2024, 12, 1)
HOLDOUT = 90
CLI_ARGS = ["--holdout-days", str(HOLDOUT), "--min-history-days", "120"]


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    raw = tmp_path_factory.mktemp("clv-world")
    generate_history(
        GeneratorConfig(
            seed=7,
            as_of=date(2025, 2, 28),
            days=300,
            customers=500,
            products=60,
            churn_horizon_days=60,
            value_horizon_days=HOLDOUT,
        ),
        raw,
    )
    suffix = uuid.uuid4().hex[:8]
    warehouse, mlflow_db = f"clvw_{suffix}", f"clvmlflow_{suffix}"
    db.create_database(template_warehouse, warehouse, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(
        update={"warehouse_db": warehouse, "mlflow_db": mlflow_db, "seed": 7}
    )
    report = load_path(settings, raw, marts=False)
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    db.drop_database(template_warehouse, warehouse)
    db.drop_database(template_warehouse, mlflow_db)


def purchase_days(settings, before: date) -> pd.DataFrame:
    """customer_id, order_date, value of every purchase day before `before`, straight from the facts."""
    with db.connection(settings) as conn:
        return db.query_frame(
            conn,
            """SELECT customer_id, order_date, sum(revenue)::float8 AS value
               FROM warehouse.fact_order_items WHERE status <> 'cancelled' AND order_date < %(d)s
               GROUP BY 1, 2""",
            {"d": before},
        )


@pytest.mark.parametrize("as_of", [CUTOFF, AS_OF])
def test_histories_are_the_purchase_days_before_the_as_of_date(world, as_of):
    days = purchase_days(world, as_of)
    days["order_date"] = pd.to_datetime(days["order_date"])
    grouped = days.groupby("customer_id")
    stamp = pd.Timestamp(as_of)
    expected = pd.DataFrame(
        {
            "frequency": grouped.size().astype("float64") - 1,
            "recency_days": (grouped["order_date"].max() - grouped["order_date"].min()).dt.days.astype(
                "float64"
            ),
            "t_days": (stamp - grouped["order_date"].min()).dt.days.astype("float64"),
            "monetary": grouped["value"].mean(),
            "spent": grouped["value"].sum(),
        }
    )
    with db.connection(world) as conn:
        first_day = warehouse_span(conn).first_day
        frame = clv_features(conn, as_of, first_day).set_index("customer_id")
    assert len(frame) == len(expected) > 150
    assert (frame["as_of_date"] == as_of).all() and (frame["observed_days"] <= (as_of - first_day).days).all()
    pd.testing.assert_frame_equal(frame[expected.columns], expected.loc[frame.index], check_names=False)


def test_realised_value_is_the_holdout_purchases(world):
    with db.connection(world) as conn:
        bought = realised(conn, CUTOFF, HOLDOUT).set_index("customer_id")
    window = purchase_days(world, date(2025, 3, 1))
    window = window[(window["order_date"] >= CUTOFF) & (window["order_date"] < date(2025, 3, 1))]
    assert (CUTOFF - date(2024, 12, 1)).days == 0 and (date(2025, 3, 1) - CUTOFF).days == HOLDOUT
    totals = window.groupby("customer_id")["value"].agg(["size", "sum"])
    np.testing.assert_allclose(bought["realised_value"], totals.loc[bought.index, "sum"])
    np.testing.assert_array_equal(bought["realised_orders"], totals.loc[bought.index, "size"])


# ------------------------------------------------------------------------------------- training
def cli_env(world) -> dict:
    return {
        "DATABASE_URL": db.libpq_dsn(db.server_url(world)),
        "ECOMM_HOME": str(world.home),
        "ECOMM_WAREHOUSE_DB": world.warehouse_db,
        "ECOMM_MLFLOW_DB": world.mlflow_db,
        "ECOMM_SEED": "7",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def cli_run(world):
    """`ecomm train clv` (in this process: support/cli.py): version 1."""
    return ecomm("train", "clv", *CLI_ARGS, env=cli_env(world))


def run_of(world, version: str):
    client = tracking.configure(world)
    return client.get_run(client.get_model_version(registry.CLV_MODEL, version).run_id).data


def test_train_clv_command_logs_registers_and_promotes(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    assert "evaluation: histories before 2024-12-01, holdout 90 days;" in cli_run.stdout
    assert "as of 2025-03-01" in cli_run.stdout and "historical average" in cli_run.stdout
    assert "clv_model v1: challenger, promoted to champion - first version of the model" in cli_run.stdout
    client = tracking.configure(world)
    assert registry.aliases(client, registry.CLV_MODEL) == {"champion": "1", "challenger": "1"}
    data = run_of(world, "1")
    assert data.params["as_of"] == "2025-03-01" and data.params["evaluation_cutoff"] == "2024-12-01"
    assert data.params["truth"] == "True"
    for name in (
        "spearman_realised",
        "top_decile_capture",
        "total_ratio",
        "baseline_spearman_realised",
        "spearman_truth",
        "truth_spearman_realised",
        "capture_over_baseline",
        "holdout_spearman",
    ):
        assert name in data.metrics, name


def test_the_run_is_measured_against_the_realised_holdout_and_the_truth(world, cli_run):
    """Recompute the logged figures from the facts and truth.customer_value, independently of the run."""
    assert cli_run.returncode == 0, cli_run.stderr
    with db.connection(world) as conn:
        first_day = warehouse_span(conn).first_day
        holdout = holdout_frame(clv_features(conn, CUTOFF, first_day), realised(conn, CUTOFF, HOLDOUT))
        truth = db.query_frame(
            conn,
            """SELECT customer_id, expected_revenue FROM truth.customer_value
               WHERE snapshot_date = %(c)s AND horizon_days = %(h)s""",
            {"c": CUTOFF, "h": HOLDOUT},
        ).set_index("customer_id")["expected_revenue"]
    model = ClvPyfunc(fit_clv(holdout), {"horizon_days": 365})
    predicted = holdout_prediction(model, holdout, HOLDOUT)
    true_value = holdout["customer_id"].map(truth)
    assert not true_value.isna().any()  # every buyer before the cutoff has a planted value
    metrics = run_of(world, "1").metrics
    assert metrics["spearman_truth"] == pytest.approx(ev.spearman(predicted, true_value))
    assert metrics["truth_spearman_realised"] == pytest.approx(
        ev.spearman(true_value, holdout["realised_value"])
    )
    assert metrics["top_decile_capture"] == pytest.approx(
        ev.top_decile_capture(predicted, holdout["realised_value"])
    )
    baseline = holdout["spent"] / holdout["observed_days"].clip(lower=1) * HOLDOUT
    assert metrics["baseline_total_ratio"] == pytest.approx(baseline.sum() / holdout["realised_value"].sum())
    # the model ranks the customers' planted value better than the historical average does
    assert metrics["spearman_truth"] > metrics["baseline_spearman_truth"] > 0
    # the gate's score: the registered (served) fit's prediction of the same holdout
    import mlflow

    served = mlflow.pyfunc.load_model(registry.model_uri(registry.CLV_MODEL, "1")).unwrap_python_model()
    assert metrics["holdout_spearman"] == pytest.approx(
        ev.spearman(holdout_prediction(served, holdout, HOLDOUT), holdout["realised_value"])
    )


def test_stored_values_are_the_champions_for_every_buyer(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    import mlflow

    tracking.configure(world)
    pyfunc = mlflow.pyfunc.load_model(
        registry.alias_uri(registry.CLV_MODEL, "champion")
    ).unwrap_python_model()
    with db.connection(world) as conn:
        features = clv_features(conn, AS_OF, warehouse_span(conn).first_day)
        stored = db.query_frame(conn, "SELECT * FROM marts.customer_value ORDER BY customer_id").set_index(
            "customer_id"
        )
    assert stored.index.tolist() == features["customer_id"].tolist()
    assert set(stored["as_of_date"]) == {AS_OF} and set(stored["horizon_days"]) == {365}
    assert set(stored["model_version"]) == {"1"} and set(stored["model_name"]) == {"clv_model"}
    expected = pyfunc.predict(None, features[list(CLV_INPUTS)]).set_axis(features["customer_id"])
    pd.testing.assert_frame_equal(stored[expected.columns], expected, check_names=False)
    pd.testing.assert_frame_equal(
        stored[list(BTYD_INPUTS)], features.set_index("customer_id")[list(BTYD_INPUTS)], check_names=False
    )
    # spend history matters: doubling every customer's spend raises every stored value
    doubled = pyfunc.predict(None, features[list(CLV_INPUTS)].assign(monetary=features["monetary"] * 2))
    assert (doubled[EXPECTED_VALUE].to_numpy() > stored[EXPECTED_VALUE].to_numpy()).all()


# ------------------------------------------------------------------------------------------- API
@pytest.fixture(scope="module")
def api(world, cli_run):
    from fastapi.testclient import TestClient

    from ecomm.api.app import create_app

    assert cli_run.returncode == 0, cli_run.stderr
    return TestClient(create_app(world))  # no lifespan: this route reads the warehouse, not the registry


def test_get_clv_of_a_customer(world, api):
    with db.connection(world) as conn:
        row = db.query_frame(
            conn, "SELECT * FROM marts.customer_value ORDER BY expected_value DESC, customer_id LIMIT 1"
        ).iloc[0]
    response = api.get(f"/clv/{row['customer_id']}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": {"name": "clv_model", "version": "1"},
        "customer_id": int(row["customer_id"]),
        "as_of": "2025-03-01",
        "horizon_days": 365,
        **{
            c: pytest.approx(float(row[c]))
            for c in ("p_alive", "expected_orders", "expected_order_value", "expected_value", *BTYD_INPUTS)
        },
    }


def test_get_clv_bad_inputs(world, api):
    with db.connection(world) as conn:
        never = db.query_frame(
            conn,
            """SELECT customer_id FROM warehouse.dim_customer c WHERE NOT EXISTS
               (SELECT 1 FROM warehouse.fact_order_items f
                WHERE f.customer_id = c.customer_id AND f.status <> 'cancelled') ORDER BY 1 LIMIT 1""",
        )["customer_id"].iloc[0]
    unknown = api.get("/clv/99999999")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert unknown.json()["message"] == "customer 99999999 is not in the warehouse"
    no_purchase = api.get(f"/clv/{never}")
    assert no_purchase.status_code == 422 and no_purchase.json()["error"] == "no_purchase"
    assert no_purchase.json()["message"].startswith(f"customer {never} has never purchased")
    for bad in ("0", "abc"):
        response = api.get(f"/clv/{bad}")
        assert response.status_code == 422 and response.json()["error"] == "validation_error"


def test_a_buyer_without_a_stored_value_is_not_valued(world, api):
    """A buyer the mart lacks (one who bought after the values' as-of date, or nothing stored yet)."""
    with db.connection(world) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(customer_id) FROM marts.customer_value")
        (customer_id,) = cur.fetchone()
        cur.execute("CREATE TABLE marts.customer_value_kept AS SELECT * FROM marts.customer_value")
        cur.execute("DELETE FROM marts.customer_value WHERE customer_id = %s", (customer_id,))
        conn.commit()
        try:
            response = api.get(f"/clv/{customer_id}")
        finally:
            cur.execute("TRUNCATE marts.customer_value")
            cur.execute("INSERT INTO marts.customer_value SELECT * FROM marts.customer_value_kept")
            cur.execute("DROP TABLE marts.customer_value_kept")
            conn.commit()
    assert response.status_code == 422 and response.json()["error"] == "not_valued"
    assert api.get(f"/clv/{customer_id}").status_code == 200


# --------------------------------------------------------- the gate (last: it registers v2)
def test_a_retrain_on_the_same_data_ties_and_the_champion_stays(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    again = train_clv(world, ClvConfig(holdout_days=HOLDOUT, min_history_days=120))
    assert again.version == "2" and not again.gate.promoted and again.gate.champion_after == "1"
    assert again.gate.challenger_score == pytest.approx(again.gate.champion_score)
    score = f"{again.gate.champion_score:.4f}"
    assert again.gate.reason == (
        f"challenger holdout_spearman {score} does not beat champion v1 {score} by the margin 0.0"
    )
    client = tracking.configure(world)
    assert registry.aliases(client, registry.CLV_MODEL) == {"champion": "1", "challenger": "2"}
    with db.connection(world) as conn:  # the champion (v1) stored the values again
        versions = db.query_frame(conn, "SELECT DISTINCT model_version FROM marts.customer_value")
    assert versions["model_version"].tolist() == ["1"]
