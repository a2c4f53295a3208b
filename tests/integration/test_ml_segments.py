"""Segmentation on a small generated shop: point-in-time features (rows on or after the as-of date
change nothing), `ecomm train segments` end to end with a real MLflow store (a temp PostgreSQL
database), the registered model, the gate.

World: 500 customers, 60 products, 150 days to 2025-03-01 (seed 5). As-of dates 2025-01-01 and
2025-02-01 for the leakage test; training segments the customers as of 2025-03-01 (the month start of
the day after the last load, 2025-02-28).
"""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.features.segments import feature_names, segment_features
from ecomm.ml import registry, tracking
from ecomm.ml.segment.gate import STABILITY_TAG
from ecomm.ml.segment.train import SegmentConfig, train_segments
from ecomm.ml.serving import SEGMENT_ID, SEGMENT_NAME
from ecomm.warehouse.run import load_path

from support.cli import ecomm
from support.past import keep_only_the_past

AS_OF = date(2025, 3, 1)


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    raw = tmp_path_factory.mktemp("segment-world")
    generate_history(
        GeneratorConfig(seed=5, as_of=AS_OF, days=150, customers=500, products=60, churn_horizon_days=60), raw
    )
    suffix = uuid.uuid4().hex[:8]
    warehouse, mlflow_db = f"segw_{suffix}", f"segmlflow_{suffix}"
    db.create_database(template_warehouse, warehouse, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(
        update={"warehouse_db": warehouse, "mlflow_db": mlflow_db, "seed": 5}
    )
    report = load_path(settings, raw, marts=False)  # features read the warehouse
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    db.drop_database(template_warehouse, warehouse)
    db.drop_database(template_warehouse, mlflow_db)


@pytest.mark.parametrize("as_of", [date(2025, 1, 1), date(2025, 2, 1)])
def test_features_read_nothing_on_or_after_the_as_of_date(world, template_warehouse, as_of):
    name = f"segcut_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name, template=world.warehouse_db)
    past = world.model_copy(update={"warehouse_db": name})
    try:
        with db.connection(past) as conn:
            keep_only_the_past(conn, as_of)
        with db.connection(world) as full_conn, db.connection(past) as past_conn:
            full = segment_features(full_conn, as_of)
            cut = segment_features(past_conn, as_of)
        assert len(full) > 250
        assert len(feature_names(full)) >= 20
        assert not full[feature_names(full)].isna().any().any()
        pd.testing.assert_frame_equal(full, cut)
    finally:
        db.drop_database(template_warehouse, name)


def test_rfm_features_match_the_facts(world):
    as_of = date(2025, 2, 1)
    with db.connection(world) as conn:
        frame = segment_features(conn, as_of).set_index("customer_id")
        facts = db.query_frame(
            conn,
            """SELECT customer_id, count(DISTINCT order_id)::float8 AS orders,
                      (%(c)s::date - max(order_date))::float8 AS recency_days
               FROM warehouse.fact_order_items WHERE order_date < %(c)s AND status <> 'cancelled'
               GROUP BY customer_id""",
            {"c": as_of},
        ).set_index("customer_id")
    buyers = frame[frame["orders"] > 0]
    assert len(buyers) == len(facts)
    pd.testing.assert_frame_equal(
        buyers[["orders", "recency_days"]], facts.loc[buyers.index], check_names=False
    )
    shares = buyers[["night_share", "morning_share", "afternoon_share", "evening_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    category = [c for c in frame.columns if c.startswith("cat_share_")]
    np.testing.assert_allclose(buyers[category].sum(axis=1), 1.0)


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
    """`ecomm train segments` (in this process: support/cli.py): version 1."""
    return ecomm("train", "segments", "--boot", "3", env=cli_env(world))


def test_train_segments_command_logs_registers_and_promotes(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    assert "customers as of 2025-03-01" in cli_run.stdout
    assert "(chosen)" in cli_run.stdout and "restart stability" in cli_run.stdout
    assert "segment_model v1: challenger, promoted to champion - first version of the model" in cli_run.stdout
    client = tracking.configure(world)
    assert registry.aliases(client, registry.SEGMENT_MODEL) == {"champion": "1", "challenger": "1"}
    version = client.get_model_version(registry.SEGMENT_MODEL, "1")
    run = client.get_run(version.run_id)
    k = int(run.data.params["k"])
    assert 3 <= k <= 10 and run.data.params["as_of"] == "2025-03-01"
    for metric in ("k_silhouette", "k_calinski_harabasz", "k_davies_bouldin", "k_stability"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, metric)] == list(range(3, 11))
    assert 0 < run.data.metrics["restart_stability"] <= 1
    assert float(version.tags[STABILITY_TAG]) == pytest.approx(run.data.metrics["stability"], abs=1e-6)
    assert version.tags["gate.promoted"] == "true"


def test_segments_are_measured_against_the_planted_personas(world, cli_run):
    """The run's persona ARI is the ARI of the stored segments (as of the run's date) with
    truth.customer_persona, and the RFM cells' is computed on the same customers."""
    from ecomm.ml.segment import evaluate as ev

    client = tracking.configure(world)
    metrics = client.get_run(client.get_model_version(registry.SEGMENT_MODEL, "1").run_id).data.metrics
    with db.connection(world) as conn:
        personas = db.query_frame(conn, "SELECT customer_id, persona FROM truth.customer_persona")
        stored = db.query_frame(
            conn,
            "SELECT customer_id, segment_id FROM marts.customer_segments WHERE as_of_date = %(d)s",
            {"d": AS_OF},
        )
    assert personas["persona"].nunique() >= 5
    segments = stored.set_index("customer_id")["segment_id"]
    expected = ev.ari_against(segments, personas.set_index("customer_id")["persona"])
    assert metrics["persona_ari"] == pytest.approx(expected, abs=1e-9)
    assert -1 <= metrics["persona_rfm_ari"] <= 1
    assert metrics["persona_ari_over_rfm"] == pytest.approx(
        metrics["persona_ari"] / metrics["persona_rfm_ari"]
    )
    assert f"against the planted personas: ARI {metrics['persona_ari']:.3f}" in cli_run.stdout


def test_the_champion_assigns_every_customer_its_named_segment(world, cli_run):
    import mlflow

    assert cli_run.returncode == 0, cli_run.stderr
    tracking.configure(world)
    model = mlflow.pyfunc.load_model(registry.alias_uri(registry.SEGMENT_MODEL, registry.CHAMPION))
    meta = model.metadata.metadata
    with db.connection(world) as conn:
        frame = segment_features(conn, AS_OF)
    assert meta["features"] == feature_names(frame)
    out = model.predict(frame[meta["features"]])
    segments = meta["segments"]
    assert len(segments) == meta["k"]
    assert sorted(out[SEGMENT_ID].unique()) == list(range(meta["k"]))
    sizes = out[SEGMENT_ID].value_counts().sort_index().tolist()
    assert sizes == [s["size"] for s in segments]  # the training assignment, largest segment first
    assert sizes == sorted(sizes, reverse=True)
    names = {s["segment_id"]: s["name"] for s in segments}
    assert out[SEGMENT_NAME].tolist() == [names[i] for i in out[SEGMENT_ID]]
    assert len(set(names.values())) == len(names) and all(s["profile"] for s in segments)


# -------------------------------------------------------------------------- the mart and the route
def test_the_champion_stores_every_month_start_in_the_mart(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    assert "customer x month rows of v1 in marts.customer_segments" in cli_run.stdout
    with db.connection(world) as conn:
        stored = db.query_frame(
            conn,
            """SELECT as_of_date, count(*) AS customers, min(model_version) AS version
               FROM marts.customer_segments GROUP BY 1 ORDER BY 1""",
        )
        latest = db.query_frame(
            conn,
            "SELECT customer_id, segment_id FROM marts.customer_segments WHERE as_of_date = %(d)s ORDER BY 1",
            {"d": AS_OF},
        )
        actives = {m: len(segment_features(conn, m)) for m in stored["as_of_date"]}
    # the world starts 2024-10-02: the first month start with 28 days of history is 2024-11-01
    assert stored["as_of_date"].tolist() == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
        AS_OF,
    ]
    assert stored["customers"].tolist() == [actives[m] for m in stored["as_of_date"]]
    assert set(stored["version"]) == {"1"}
    tracking.configure(world)
    sizes = latest["segment_id"].value_counts().sort_index().tolist()
    import mlflow

    meta = mlflow.pyfunc.load_model(registry.model_uri(registry.SEGMENT_MODEL, "1")).metadata.metadata
    assert sizes == [s["size"] for s in meta["segments"]]  # the training assignment


@pytest.fixture(scope="module")
def api(world, cli_run):
    from fastapi.testclient import TestClient

    from ecomm.api.app import create_app

    assert cli_run.returncode == 0, cli_run.stderr
    return TestClient(create_app(world))  # no lifespan: this route reads the warehouse, not the registry


def test_get_segment_of_a_customer(world, api):
    with db.connection(world) as conn:
        customer_id, segment_id, version = db.query_frame(
            conn,
            """SELECT customer_id, segment_id, model_version FROM marts.customer_segments
               WHERE as_of_date = %(d)s ORDER BY customer_id LIMIT 1""",
            {"d": AS_OF},
        ).iloc[0]
        name, profile = db.query_frame(
            conn,
            "SELECT segment_name, profile FROM marts.segment_profiles WHERE segment_id = %(s)s",
            {"s": int(segment_id)},
        ).iloc[0]
    response = api.get(f"/segments/{customer_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": {"name": "segment_model", "version": version},
        "customer_id": int(customer_id),
        "as_of": "2025-03-01",
        "segment_id": int(segment_id),
        "segment_name": name,
        "profile": profile,
    }
    assert 1 <= len(profile) <= 5 and {"feature", "z", "mean", "overall_mean"} == set(profile[0])


def test_get_segment_bad_inputs(world, api):
    with db.connection(world) as conn:
        never = db.query_frame(
            conn,
            """SELECT customer_id FROM warehouse.dim_customer c WHERE NOT EXISTS
               (SELECT 1 FROM marts.customer_segments s WHERE s.customer_id = c.customer_id) ORDER BY 1 LIMIT 1""",
        )["customer_id"].iloc[0]
    unknown = api.get("/segments/99999999")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert unknown.json()["message"] == "customer 99999999 is not in the warehouse"
    unsegmented = api.get(f"/segments/{never}")
    assert unsegmented.status_code == 422 and unsegmented.json()["error"] == "not_segmented"
    for bad in ("0", "abc"):
        response = api.get(f"/segments/{bad}")
        assert response.status_code == 422 and response.json()["error"] == "validation_error"


# --------------------------------------------------------- the gate (last: it registers v2 and v3)
def test_the_gate_keeps_a_worse_challenger_out_and_lets_an_equal_one_in(world, cli_run):
    assert cli_run.returncode == 0, cli_run.stderr
    client = tracking.configure(world)
    first = client.get_run(client.get_model_version(registry.SEGMENT_MODEL, "1").run_id).data
    k = int(first.params["k"])
    worse_k = 10 if k != 10 else 3  # a k the selection ranked below the chosen one
    worse = train_segments(
        world, SegmentConfig.from_settings(world, ks=(worse_k,), n_boot=3, min_stability=0.0)
    )
    assert worse.version == "2" and worse.k == worse_k
    assert not worse.gate.promoted and worse.gate.champion_after == "1"
    assert worse.gate.challenger_silhouette < worse.gate.champion_silhouette
    with db.connection(world) as conn:  # v1's segments as a labelling (the personas' stand-in)
        v1 = db.query_frame(
            conn,
            "SELECT customer_id, segment_id FROM marts.customer_segments WHERE as_of_date = %(d)s",
            {"d": AS_OF},
        ).set_index("customer_id")["segment_id"]
    same = train_segments(world, SegmentConfig.from_settings(world, n_boot=3), labels=v1)
    assert same.metrics["labels_ari"] == pytest.approx(1.0)  # same data and seed: the same segments
    assert 0 < same.metrics["labels_rfm_ari"] < 1
    assert same.version == "3" and same.k == k
    assert same.gate.promoted, same.gate.reason
    assert same.gate.challenger_silhouette == pytest.approx(same.gate.champion_silhouette)
    assert registry.aliases(client, registry.SEGMENT_MODEL) == {"champion": "3", "challenger": "3"}
    with db.connection(world) as conn:  # the new champion assigned the mart again
        assert db.query_frame(conn, "SELECT DISTINCT model_version FROM marts.customer_segments")[
            "model_version"
        ].tolist() == ["3"]
