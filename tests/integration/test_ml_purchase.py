"""Purchase propensity on a small generated shop: labels against the raw facts, point-in-time features
(rows on or after the cutoff and the planted truth change nothing), `ecomm train purchase` end to end
with a real MLflow store (a temp PostgreSQL database), and a behavioural check of the champion.

World: 400 customers, 60 products, 210 days to 2025-03-01 (seed 5). Cutoffs with the default 60 days
of history and the 30-day horizon: training 2024-11-01 (fit) and 2024-12-01 (validation), evaluation
2025-01-01 (the last month start whose window the warehouse holds).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import mlflow
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.features.purchase import LABEL, SESSION_FEATURES, labelled_purchase_frame, purchase_features
from ecomm.ml import registry, tracking
from ecomm.ml.serving import PURCHASE_PROBABILITY
from ecomm.warehouse.run import load_path

from support.cli import ecomm
from support.past import keep_only_the_past

AS_OF = date(2025, 3, 1)
CUTOFF = date(2025, 1, 1)
HORIZON = 30


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    raw = tmp_path_factory.mktemp("purchase-world")
    generate_history(
        GeneratorConfig(seed=5, as_of=AS_OF, days=210, customers=400, products=60, churn_horizon_days=60), raw
    )
    suffix = uuid.uuid4().hex[:8]
    warehouse, mlflow_db = f"purw_{suffix}", f"purmlflow_{suffix}"
    db.create_database(template_warehouse, warehouse, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(
        update={"warehouse_db": warehouse, "mlflow_db": mlflow_db, "seed": 5}
    )
    report = load_path(settings, raw, marts=False)  # features read the warehouse
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    db.drop_database(template_warehouse, warehouse)
    db.drop_database(template_warehouse, mlflow_db)


def test_labels_match_the_raw_facts(world):
    """1 = a line in [cutoff, cutoff + 30) neither cancelled nor returned inside the window, for every
    customer signed up before the cutoff, buyers and non-buyers alike."""
    with db.connection(world) as conn:
        frame = labelled_purchase_frame(conn, CUTOFF, HORIZON).set_index("customer_id")
        customers = db.query_frame(conn, "SELECT customer_id, signup_date FROM warehouse.dim_customer")
        lines = db.query_frame(
            conn, "SELECT customer_id, order_date, status, return_date FROM warehouse.fact_order_items"
        )
    end = CUTOFF + timedelta(days=HORIZON)
    in_window = lines[(lines["order_date"] >= CUTOFF) & (lines["order_date"] < end)]
    kept = in_window[
        (in_window["status"] != "cancelled")
        & ~(in_window["return_date"].notna() & (in_window["return_date"] < end))
    ]
    population = customers.loc[customers["signup_date"] < CUTOFF, "customer_id"].sort_values()
    expected = population.isin(set(kept["customer_id"])).astype(int).to_numpy()
    assert frame.index.tolist() == population.tolist()
    assert frame[LABEL].tolist() == expected.tolist()
    assert 0 < frame[LABEL].sum() < len(frame)
    assert (frame["total_orders"] == 0).sum() > 0  # non-buyers are in the population
    # a customer whose every window line was cancelled or returned inside it is a 0
    returned_only = set(in_window["customer_id"]) - set(kept["customer_id"])
    assert all(frame.loc[c, LABEL] == 0 for c in returned_only if c in frame.index)


def test_session_features_match_the_raw_events(world):
    with db.connection(world) as conn:
        frame = purchase_features(conn, CUTOFF).set_index("customer_id")
        events = db.query_frame(
            conn,
            """SELECT customer_id, session_id, event_type, event_date FROM warehouse.fact_web_events
               WHERE event_date < %(c)s AND event_date >= %(c)s::date - 7""",
            {"c": CUTOFF},
        )
    views = events[events["event_type"] == "view"].groupby("customer_id").size()
    sessions = events.groupby("customer_id")["session_id"].nunique()
    assert frame["web_views_7d"].sum() == views.sum() > 0
    assert frame.loc[sessions.index, "web_sessions_7d"].tolist() == sessions.astype(float).tolist()
    assert not frame[list(SESSION_FEATURES)].isna().any().any()


def test_features_read_nothing_on_or_after_the_cutoff(world, template_warehouse):
    name = f"purcut_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name, template=world.warehouse_db)
    past = world.model_copy(update={"warehouse_db": name})
    try:
        with db.connection(past) as conn:
            keep_only_the_past(conn, CUTOFF)
        with db.connection(world) as full_conn, db.connection(past) as past_conn:
            first_day = db.query_frame(
                full_conn, "SELECT min(batch_date) AS d FROM warehouse.fact_web_events"
            )
            first = first_day["d"].iloc[0]
            full = purchase_features(full_conn, CUTOFF, first_day=first)
            cut = purchase_features(past_conn, CUTOFF, first_day=first)
        assert len(full) > 200
        pd.testing.assert_frame_equal(full, cut)
    finally:
        db.drop_database(template_warehouse, name)


# ------------------------------------------------------------------------------------- training
def cli_env(world) -> dict:
    return {
        "DATABASE_URL": db.libpq_dsn(db.server_url(world)),
        "ECOMM_HOME": str(world.home),
        "ECOMM_WAREHOUSE_DB": world.warehouse_db,
        "ECOMM_MLFLOW_DB": world.mlflow_db,
        "ECOMM_SEED": "5",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def cli_run(world):
    """`ecomm train purchase` (in this process: support/cli.py): version 1."""
    return ecomm("train", "purchase", "--mlp-epochs", "40", env=cli_env(world))


def test_train_purchase_logs_registers_and_promotes(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    assert "train cutoffs 2024-11-01, 2024-12-01; evaluation cutoff 2025-01-01" in cli_run.stdout
    assert (
        "purchase_model v1: challenger, promoted to champion - first version of the model" in cli_run.stdout
    )
    client = tracking.configure(world)
    assert registry.aliases(client, registry.PURCHASE_MODEL) == {"champion": "1", "challenger": "1"}
    version = client.get_model_version(registry.PURCHASE_MODEL, "1")
    run = client.get_run(version.run_id)
    m = run.data.metrics
    for scorer in ("logreg", "xgboost", "mlp", "recency_rule", "truth"):
        for metric in ("roc_auc", "accuracy", "top_decile_lift"):
            assert f"{scorer}_{metric}" in m
    for family in ("logreg", "xgboost", "mlp"):
        assert 0.5 < m[f"validation_{family}_roc_auc"] <= 1
    family = run.data.params["family"]
    assert m[f"validation_{family}_roc_auc"] == max(
        m[f"validation_{f}_roc_auc"] for f in ("logreg", "xgboost", "mlp")
    )
    assert m["served_roc_auc"] == m[f"{family}_roc_auc"] == pytest.approx(m["gate_challenger_roc_auc"])
    assert m["auc_to_truth"] == pytest.approx(m["served_roc_auc"] / m["truth_roc_auc"])
    assert m["accuracy_over_majority"] == pytest.approx(m["served_accuracy"] - m["majority_accuracy"])
    assert version.tags["gate.promoted"] == "true"
    assert f"served ROC-AUC / the planted truth's: {m['auc_to_truth']:.3f}" in cli_run.stdout


def test_truth_auc_is_the_planted_probabilities_on_the_labels(world, cli_run):
    from sklearn.metrics import roc_auc_score

    client = tracking.configure(world)
    m = client.get_run(client.get_model_version(registry.PURCHASE_MODEL, "1").run_id).data.metrics
    with db.connection(world) as conn:
        labels = labelled_purchase_frame(conn, CUTOFF, HORIZON)[["customer_id", LABEL]]
        truth = db.query_frame(
            conn,
            """SELECT customer_id, purchase_probability FROM truth.customer_purchase
               WHERE snapshot_date = %(c)s AND horizon_days = 30""",
            {"c": CUTOFF},
        )
    joined = labels.merge(truth, on="customer_id", validate="one_to_one")
    assert len(joined) == len(labels)
    assert m["truth_roc_auc"] == pytest.approx(roc_auc_score(joined[LABEL], joined["purchase_probability"]))


def test_more_recent_orders_raise_the_purchase_probability(world, cli_run):
    """All else equal, a customer who ordered 5 days ago (twice in the last 30 days) is more likely to
    order again than the same customer whose last order was 150 days ago."""
    assert cli_run.returncode == 0, cli_run.stderr
    tracking.configure(world)
    model = mlflow.pyfunc.load_model(registry.alias_uri(registry.PURCHASE_MODEL, registry.CHAMPION))
    with db.connection(world) as conn:
        frame = purchase_features(conn, CUTOFF)
    buyers = frame[frame["total_orders"] >= 3].head(20)
    assert len(buyers) == 20
    recent = buyers.assign(days_since_last_order=5.0, orders_30d=2.0, orders_180d=buyers["orders_180d"] + 2)
    lapsed = buyers.assign(days_since_last_order=150.0, orders_30d=0.0, orders_prev_60d=0.0)
    p_recent = model.unwrap_python_model().predict(None, recent)[PURCHASE_PROBABILITY]
    p_lapsed = model.unwrap_python_model().predict(None, lapsed)[PURCHASE_PROBABILITY]
    assert (p_recent > p_lapsed).all()


# ------------------------------------------------------------------------------------- the route
@pytest.fixture(scope="module")
def api(world, cli_run):
    from fastapi.testclient import TestClient

    from ecomm.api.app import create_app
    from ecomm.api.model_store import ModelStore

    assert cli_run.returncode == 0, cli_run.stderr
    store = ModelStore(world)
    assert store.refresh()[registry.PURCHASE_MODEL] == "loaded v1"
    app = create_app(world, store=store)
    return TestClient(app), app.state.warehouse.as_of()  # no lifespan: the store is loaded above


def test_get_purchase_probability_of_a_customer(world, api):
    client, as_of = api
    with db.connection(world) as conn:
        frame = purchase_features(conn, as_of)
    customer = frame[frame["total_orders"] > 0].iloc[0]
    tracking.configure(world)
    model = mlflow.pyfunc.load_model(registry.model_uri(registry.PURCHASE_MODEL, "1")).unwrap_python_model()
    expected = float(model.predict(None, frame[frame["customer_id"] == customer["customer_id"]]).iloc[0, 0])
    response = client.get(f"/predict/purchase/{int(customer['customer_id'])}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "purchase_model", "version": "1"}
    assert body["as_of"] == as_of.isoformat() and body["horizon_days"] == 30 and body["threshold"] == 0.5
    assert body["purchase_probability"] == pytest.approx(expected, abs=1e-12)
    assert body["will_purchase"] is (expected >= 0.5)
    assert set(body["features"]) == set(model.columns)


def test_purchase_of_an_unknown_or_never_active_customer_is_a_clear_4xx(world, api):
    client, as_of = api
    with db.connection(world) as conn:
        idle = db.query_frame(
            conn,
            """SELECT c.customer_id FROM warehouse.dim_customer c
               WHERE c.signup_date < %(d)s
                 AND NOT EXISTS (SELECT 1 FROM warehouse.fact_order_items f
                                 WHERE f.customer_id = c.customer_id AND f.order_date < %(d)s)
                 AND NOT EXISTS (SELECT 1 FROM warehouse.fact_web_events e
                                 WHERE e.customer_id = c.customer_id AND e.event_date < %(d)s)
               ORDER BY 1 LIMIT 1""",
            {"d": as_of},
        )["customer_id"].tolist()
    assert len(idle) == 1
    never = client.get(f"/predict/purchase/{idle[0]}")
    assert never.status_code == 422 and never.json()["error"] == "never_active"
    assert "no order and no web session" in never.json()["message"]
    unknown = client.get("/predict/purchase/999999")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
