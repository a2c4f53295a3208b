"""Churn and recommender models on a generated shop, tracked in a real MLflow store (a temp PostgreSQL
database) with artifacts in tmp: registry versions and aliases, the promotion gate, loading in a new
process without this repository, metrics against baselines and the planted truth, behaviour, the CLI.

World: 1,500 customers, 150 products, 240 days to 2025-04-01, 60-day churn horizon (the generator
writes true churn probabilities for that horizon). Churn cutoffs: train 2024-10/11/12-01, evaluate
2025-02-01. Recommender holdout: 2025-03-05 .. 2025-04-01.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import TRUTH_FILES
from ecomm.features import columns as C
from ecomm.features import interactions as I
from ecomm.features.churn import churn_features, plan_cutoffs, warehouse_span
from ecomm.ml import registry, tracking
from ecomm.ml.churn.dataset import load_churn_data, load_holdout
from ecomm.ml.churn.train import API_HEAD, LOGREG, ORACLE, XGBOOST, ChurnConfig, train_churn
from ecomm.ml.recommend import evaluate as rec_ev
from ecomm.ml.recommend.dataset import load_rec_data
from ecomm.ml.recommend.train import RecConfig, train_recommender
from ecomm.ml.serving import CHURN_PROBABILITY, MODEL_VARIANT
from ecomm.warehouse.run import load_path

from support.api import SEED_USER
from support.cli import ecomm

AS_OF = date(2025, 4, 1)
HORIZON = 60
MIN_HISTORY = 45
FAST = {"n_trials": 6, "n_trials_api": 3, "n_trials_logreg": 3, "min_history_days": MIN_HISTORY}


def _create(settings, name: str, template: str | None = None) -> None:
    db.create_database(settings, name, template=template)


def _drop(settings, name: str) -> None:
    db.drop_database(settings, name)


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    """A loaded warehouse and an empty MLflow tracking database, both dropped afterwards."""
    raw = tmp_path_factory.mktemp("ml-world")
    generate_history(
        GeneratorConfig(
            seed=7, as_of=AS_OF, days=240, customers=1500, products=150, churn_horizon_days=HORIZON
        ),
        raw,
    )
    suffix = uuid.uuid4().hex[:8]
    warehouse, mlflow_db = f"mlw_{suffix}", f"mlflow_{suffix}"
    _create(template_warehouse, warehouse, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(
        update={
            "warehouse_db": warehouse,
            "mlflow_db": mlflow_db,  # artifacts: the session's tmp home/mlartifacts
            "churn_horizon_days": HORIZON,
            "promotion_margin": 0.005,
            "seed": 7,
        }
    )
    report = load_path(settings, raw, marts=False)  # models read the warehouse
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    _drop(template_warehouse, warehouse)
    _drop(template_warehouse, mlflow_db)


@pytest.fixture(scope="module")
def client(world):
    return tracking.configure(world)


@pytest.fixture(scope="module")
def churn_runs(world, client):
    """v1 sees only age and country (weak); v2 the full feature set; v3 is v2 trained again."""
    weak = train_churn(
        world,
        ChurnConfig.from_settings(
            world, **FAST | {"features": (C.AGE, C.COUNTRY), "n_trials": 1, "n_trials_api": 1}
        ),
    )
    full = train_churn(world, ChurnConfig.from_settings(world, **FAST))
    again = train_churn(world, ChurnConfig.from_settings(world, **FAST))
    return weak, full, again


@pytest.fixture(scope="module")
def rec_run(world, client):
    return train_recommender(world, RecConfig.from_settings(world, n_trials=4))


@pytest.fixture(scope="module")
def holdout(world):
    with db.connection(world) as conn:
        return load_holdout(conn, HORIZON, min_history_days=MIN_HISTORY)[1]


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[C.CUSTOMER_ID, C.CUTOFF, C.LABEL])


def load_champion(world, name: str):
    """The champion of `name`, loaded from the test's MLflow store (configured again: MLflow's URI is
    process-wide)."""
    import mlflow

    tracking.configure(world)
    return mlflow.pyfunc.load_model(registry.alias_uri(name, registry.CHAMPION))


# -------------------------------------------------------------------------------- point in time
def test_features_do_not_read_rows_at_or_after_the_cutoff(world, template_warehouse):
    """Features at C on the full warehouse == features at C on a copy holding only what was known
    before C: rows dated >= C deleted, returns on or after C undone, deliveries landing on or after C
    erased, truth emptied."""
    with db.connection(world) as conn:
        plan = plan_cutoffs(warehouse_span(conn), HORIZON, min_history_days=MIN_HISTORY)
    cutoffs = [plan.train[0], plan.evaluation]
    for cutoff in cutoffs:
        name = f"mlcut_{uuid.uuid4().hex[:8]}"
        _create(template_warehouse, name, template=world.warehouse_db)
        past = world.model_copy(update={"warehouse_db": name})
        try:
            with db.connection(past) as conn, conn.cursor() as cur:
                p = {"c": cutoff}
                cur.execute("DELETE FROM warehouse.fact_web_events WHERE event_date >= %(c)s", p)
                cur.execute("DELETE FROM warehouse.fact_reviews WHERE review_date >= %(c)s", p)
                cur.execute("DELETE FROM warehouse.fact_campaign_exposure WHERE exposure_date >= %(c)s", p)
                cur.execute("DELETE FROM warehouse.fact_order_items WHERE order_date >= %(c)s", p)
                cur.execute(
                    """UPDATE warehouse.fact_order_items SET status = 'completed', return_date = NULL,
                               return_reason = NULL WHERE return_date >= %(c)s""",
                    p,
                )
                cur.execute(
                    """UPDATE warehouse.fact_order_items SET delivery_days = NULL
                               WHERE order_date + delivery_days >= %(c)s""",
                    p,
                )
                cur.execute("DELETE FROM warehouse.dim_campaign WHERE batch_date >= %(c)s", p)
                cur.execute("DELETE FROM warehouse.dim_customer WHERE signup_date >= %(c)s", p)
                cur.execute("DELETE FROM warehouse.dim_product WHERE launch_date >= %(c)s", p)
                for table in TRUTH_FILES:  # every truth table
                    cur.execute(f"TRUNCATE truth.{table}")
                cur.execute("SELECT count(*) FROM warehouse.fact_order_items WHERE return_date IS NOT NULL")
                assert cur.fetchone()[0] > 0
                conn.commit()
            with db.connection(world) as full_conn, db.connection(past) as past_conn:
                for buyers_only in (True, False):
                    full = churn_features(full_conn, cutoff, buyers_only=buyers_only)
                    cut = churn_features(past_conn, cutoff, buyers_only=buyers_only)
                    assert len(full) > 300
                    pd.testing.assert_frame_equal(full, cut)
                for builder in (I.web_interactions, I.purchases, I.reviews):
                    pd.testing.assert_frame_equal(
                        builder(full_conn, None, cutoff), builder(past_conn, None, cutoff)
                    )
                for builder in (I.catalog, I.customers):
                    pd.testing.assert_frame_equal(builder(full_conn, cutoff), builder(past_conn, cutoff))
        finally:
            _drop(template_warehouse, name)


# ------------------------------------------------------------------------------------------ churn
def test_churn_versions_aliases_and_the_promotion_gate(churn_runs, client):
    weak, full, again = churn_runs
    assert (weak.version, full.version, again.version) == ("1", "2", "3")
    assert weak.gate.promoted and weak.gate.reason == "first version of the model"
    assert weak.gate.champion_before is None
    # v2 beats v1 on the same holdout by more than the margin
    assert full.gate.promoted
    assert full.gate.champion_before == "1"
    assert full.gate.challenger_score > full.gate.champion_score + 0.005
    # v3 is the same training: equal score, not better by the margin, champion stays v2
    assert not again.gate.promoted
    assert again.gate.champion_before == "2" and again.gate.champion_after == "2"
    assert again.gate.challenger_score == pytest.approx(again.gate.champion_score, abs=1e-9)
    assert registry.aliases(client, registry.CHURN_MODEL) == {"champion": "2", "challenger": "3"}
    tags = client.get_model_version(registry.CHURN_MODEL, "3").tags
    assert tags["gate.promoted"] == "false"
    assert tags["gate.champion_version"] == "2"


def test_churn_metrics_against_the_baseline_and_the_oracle(churn_runs, client):
    _, full, _ = churn_runs
    m = full.metrics
    assert full.plan == {
        "train_cutoffs": ["2024-10-01", "2024-11-01", "2024-12-01"],
        "evaluation_cutoff": "2025-02-01",
        "horizon_days": HORIZON,
    }
    assert set(m) == {XGBOOST, LOGREG, API_HEAD, ORACLE}
    for name in (XGBOOST, LOGREG, API_HEAD, ORACLE):
        assert m[name]["coverage"] == 1.0  # the oracle covers the same customers
        assert m[name]["n"] == 766
    auc = {name: m[name]["roc_auc"] for name in m}
    # Pinned to what this world gives since the planted personas (seed 7, buyers with a completed
    # order, re-measured 2026-12-06: XGBoost 0.7964, logistic 0.7981, API head 0.7864, oracle 0.8854);
    # the bands are the spreads measured over tuning seeds 1-5 on the world before the personas
    # (XGBoost 0.657-0.685, logistic 0.684-0.686, API head 0.683-0.687; the oracle is the
    # generator's, fixed): losing a feature group, a leak or a broken tuning moves them out.
    assert auc[ORACLE] == pytest.approx(0.8854, abs=0.001)
    assert auc[XGBOOST] == pytest.approx(0.7964, abs=0.015)
    assert auc[LOGREG] == pytest.approx(0.7981, abs=0.005)
    assert auc[API_HEAD] == pytest.approx(0.7864, abs=0.006)
    # relative: about 0.89x the oracle (0.875-0.913 over seeds); the logistic baseline is level with
    # XGBoost here (XGBoost - logistic: -0.029 .. 0.000 over seeds), both well below the oracle
    assert 0.87 < auc[XGBOOST] / auc[ORACLE] < 0.93
    assert -0.035 < auc[XGBOOST] - auc[LOGREG] < 0.01
    assert auc[ORACLE] - max(auc[XGBOOST], auc[LOGREG], auc[API_HEAD]) > 0.05
    assert m[XGBOOST]["top_decile_lift"] == pytest.approx(2.083, abs=0.1)
    assert m[ORACLE]["top_decile_lift"] == pytest.approx(2.765, abs=0.01)
    assert m[XGBOOST]["brier"] == pytest.approx(0.2148, abs=0.01)
    assert m[LOGREG]["brier"] == pytest.approx(0.1861, abs=0.003)
    run = client.get_run(full.run_id)
    assert run.data.metrics["xgboost_roc_auc"] == pytest.approx(m[XGBOOST]["roc_auc"])
    # the families compete on validation; the served full head is the winner, recorded on the run
    validation = {f: run.data.metrics[f"validation_{f}_roc_auc"] for f in (XGBOOST, LOGREG)}
    print(f"validation {validation}, evaluation {auc}")
    assert full.family == max(validation, key=validation.get)
    assert run.data.params["full_head_family"] == full.family == run.data.tags["full_head_family"]
    assert run.data.metrics["served_roc_auc"] == pytest.approx(m[full.family]["roc_auc"])
    assert run.data.metrics["best_family_roc_auc"] == pytest.approx(max(auc[XGBOOST], auc[LOGREG]))
    assert full.gate.challenger_score == pytest.approx(m[full.family]["roc_auc"])
    assert run.data.metrics["oracle_roc_auc"] == pytest.approx(m[ORACLE]["roc_auc"])
    assert run.data.params["evaluation_cutoff"] == "2025-02-01"
    artifacts = {a.path for a in client.list_artifacts(full.run_id, "plots")}
    assert artifacts == {
        "plots/roc.png",
        "plots/pr.png",
        "plots/calibration.png",
        "plots/feature_importance.png",
    }


def test_churn_model_has_a_signature_and_the_api_example(world, churn_runs):
    import mlflow

    tracking.configure(world)
    info = mlflow.models.get_model_info(registry.alias_uri(registry.CHURN_MODEL, registry.CHAMPION))
    inputs = {c.name: (c.type.name, c.required) for c in info.signature.inputs.inputs}
    for field in C.API_FIELDS:
        assert inputs[field][1] is True, field
    assert inputs[C.AGE] == ("long", True) and inputs[C.COUNTRY] == ("string", True)
    assert inputs[C.SESSIONS_30D] == ("double", False)
    assert C.CUSTOMER_ID not in inputs and C.LABEL not in inputs
    assert [c.name for c in info.signature.outputs.inputs] == [CHURN_PROBABILITY, MODEL_VARIANT]
    assert info.saved_input_example_info is not None


LOADER = r"""
import json, sys
sys.modules["ecomm"] = None  # the registered models must not need this repository
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
churn = mlflow.pyfunc.load_model("models:/churn_model@champion")
rec = mlflow.pyfunc.load_model("models:/recommender_model@champion")
payload = json.load(sys.stdin)
api = churn.predict(pd.DataFrame(payload["api"]))
full = churn.predict(pd.DataFrame(payload["full"]))
recs = rec.predict(pd.DataFrame(payload["rec"]))
print(json.dumps({"api": api.to_dict("list"), "full": full.to_dict("list"), "rec": recs.to_dict("list")}))
"""


@pytest.fixture(scope="module")
def new_process(world, churn_runs, rec_run, holdout):
    """Both champions loaded and scored in a fresh interpreter that cannot import ecomm."""
    full_rows = _features(holdout.head(5))
    payload = {
        "api": [SEED_USER],
        "full": json.loads(full_rows.to_json(orient="records")),
        "rec": {"customer_id": [known_customer(world), 987654], "k": [5, 5], "country": ["", "Germany"]},
    }
    result = subprocess.run(
        [sys.executable, "-c", LOADER, tracking.tracking_uri(world)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr
    return payload, full_rows, json.loads(result.stdout.strip().splitlines()[-1])


def known_customer(world) -> int:
    """A customer with interactions in the recommender's training window."""
    with db.connection(world) as conn:
        data = load_rec_data(conn)
    return int(data.interactions[C.CUSTOMER_ID].min())


def test_churn_champion_scores_in_a_new_process(world, new_process):
    _, full_rows, out = new_process
    assert out["api"][MODEL_VARIANT] == ["api_fields"]
    assert 0.0 < out["api"][CHURN_PROBABILITY][0] < 1.0
    assert out["full"][MODEL_VARIANT] == ["full"] * 5
    here = load_champion(world, registry.CHURN_MODEL)
    np.testing.assert_allclose(
        out["full"][CHURN_PROBABILITY], here.predict(full_rows)[CHURN_PROBABILITY], rtol=1e-6
    )


def test_recommender_champion_scores_in_a_new_process(world, new_process):
    payload, _, out = new_process
    rec = pd.DataFrame(out["rec"])
    known, unknown = payload["rec"]["customer_id"]
    assert rec["customer_id"].tolist() == [known] * 5 + [unknown] * 5
    assert rec["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    assert rec[rec.customer_id == unknown]["source"].tolist() == ["cold_start_country"] * 5
    assert rec[rec.customer_id == known]["source"].tolist() == ["reranked"] * 5
    here = load_champion(world, registry.RECOMMENDER_MODEL).predict(pd.DataFrame(payload["rec"]))
    pd.testing.assert_frame_equal(rec, here, check_dtype=False)


# ---------------------------------------------------------------------------------- behavioural
@pytest.fixture(scope="module")
def champion(world, churn_runs):
    return load_champion(world, registry.CHURN_MODEL)


def test_more_recent_activity_lowers_churn_probability(champion, holdout):
    """Directional: the same customers with their last order and session 3 days ago (so at least one of
    each in the last 30 days) vs 40 days ago (none in the last 30 days)."""
    base = _features(holdout)

    def last_active(days: int) -> pd.DataFrame:
        f = base.copy()
        f[C.DAYS_SINCE_LAST_ORDER] = days
        f[C.DAYS_SINCE_LAST_SESSION] = float(days)
        f[C.RECENCY_RATIO] = days * base[C.ORDERS_PER_30D] / 30
        f[C.SESSION_RECENCY_RATIO] = days * base[C.SESSIONS_PER_30D] / 30
        for col in (C.ORDERS_30D, C.SESSIONS_30D, C.VIEWS_30D):
            f[col] = np.maximum(base[col], 1.0) if days <= 30 else 0.0
        f[C.ORDER_TREND] = f[C.ORDERS_30D] - f[C.ORDERS_PREV_60D] / 2
        return f

    recent, stale, gone = (
        champion.predict(last_active(d))[CHURN_PROBABILITY].to_numpy() for d in (3, 40, 90)
    )
    print(
        f"mean {recent.mean():.3f} {stale.mean():.3f} {gone.mean():.3f} "
        f"share {(stale >= recent).mean():.3f} {(gone >= stale).mean():.3f}"
    )
    assert recent.mean() + 0.02 < stale.mean() < gone.mean()
    assert (stale >= recent).mean() > 0.75
    api = pd.DataFrame([SEED_USER | {"days_since_last_order": 5}, SEED_USER | {"days_since_last_order": 120}])
    p_recent, p_stale = champion.predict(api)[CHURN_PROBABILITY]
    assert p_stale > p_recent


@pytest.fixture(scope="module")
def training_rows(world) -> pd.DataFrame:
    """The rows the churn models were fitted on (the same cutoffs train_churn stacks)."""
    with db.connection(world) as conn:
        return load_churn_data(conn, HORIZON, min_history_days=MIN_HISTORY).train


def test_the_api_head_is_trained_on_the_nine_body_fields(world, churn_runs, champion):
    for run in churn_runs:  # the weak run too: `features` restricts the full head only
        assert run.api_features == list(C.API_FIELDS)
    assert champion.metadata.metadata["heads"]["api_fields"] == list(C.API_FIELDS)
    assert len(C.API_FIELDS) == 9 and C.API_USER_ID not in C.API_FIELDS


NUMERIC_API_FIELDS = [f for f in C.API_FIELDS if f not in C.CATEGORICAL_FEATURES]


@pytest.mark.parametrize("field", NUMERIC_API_FIELDS)
def test_each_numeric_body_field_moves_churn_probability_the_way_the_training_rows_do(
    champion, training_rows, holdout, field
):
    """Directional, per field of the POST body: the holdout's customers (body fields only, so the
    api_fields head) with `field` at the training rows' 10th vs 90th percentile, the rest unchanged.
    Expected direction: the sign of the field's rank correlation with churn in the training rows."""
    rho = training_rows[field].corr(training_rows[C.LABEL], method="spearman")
    low, high = training_rows[field].quantile([0.1, 0.9])
    if field in C.INTEGER_FEATURES:
        low, high = round(low), round(high)
    assert low < high
    rows = holdout[list(C.API_FIELDS)]
    p_low, p_high = (
        champion.predict(rows.assign(**{field: value}))[CHURN_PROBABILITY].to_numpy() for value in (low, high)
    )
    shift = np.sign(rho) * (p_high - p_low)
    print(f"{field}: rho {rho:+.3f}, {low} -> {high}: mean shift {shift.mean():+.4f}, min {shift.min():+.4f}")
    assert np.sign(rho) != 0
    assert (shift >= -1e-7).all()  # no customer moves against the data (float32 sums aside)
    assert shift.mean() > 0.002  # and the field matters


def test_country_moves_churn_probability_the_way_the_training_rows_do(champion, training_rows, holdout):
    """Directional for the categorical field: every holdout customer placed in the training rows'
    country with the highest churn rate vs the lowest (countries with >= 50 training rows)."""
    rates = training_rows.groupby(C.COUNTRY)[C.LABEL].agg(["mean", "size"])
    rates = rates[rates["size"] >= 50].sort_values("mean")
    safest, riskiest = rates.index[0], rates.index[-1]
    assert rates["mean"].iloc[-1] > rates["mean"].iloc[0] + 0.05
    rows = holdout[list(C.API_FIELDS)]
    p_safe, p_risky = (
        champion.predict(rows.assign(country=c))[CHURN_PROBABILITY].to_numpy() for c in (safest, riskiest)
    )
    print(f"{safest} {p_safe.mean():.4f} vs {riskiest} {p_risky.mean():.4f}")
    assert p_risky.mean() > p_safe.mean() + 0.002


def test_user_id_does_not_change_the_api_heads_probability(champion, holdout):
    """Invariance: user_id is the body's key, not a feature."""
    rows = holdout[list(C.API_FIELDS)].head(50)
    first = champion.predict(rows.assign(user_id=1))
    other = champion.predict(rows.assign(user_id=np.arange(50) + 9_000))
    assert first[MODEL_VARIANT].eq("api_fields").all()
    np.testing.assert_array_equal(first[CHURN_PROBABILITY], other[CHURN_PROBABILITY])


def test_customer_id_does_not_change_churn_probability(champion, holdout):
    """Invariance: ids are not features; the same rows under other ids score the same."""
    rows = holdout.drop(columns=[C.CUTOFF, C.LABEL]).head(50)
    first = champion.predict(rows)[CHURN_PROBABILITY].to_numpy()
    other = champion.predict(rows.assign(customer_id=rows[C.CUSTOMER_ID] + 100_000, user_id=7))[
        CHURN_PROBABILITY
    ].to_numpy()
    np.testing.assert_array_equal(first, other)


# ------------------------------------------------------------------------------------ recommender
def test_recommender_registered_and_better_than_popularity(rec_run, client):
    assert rec_run.version == "1"
    assert rec_run.gate.promoted and rec_run.gate.reason == "first version of the model"
    assert registry.aliases(client, registry.RECOMMENDER_MODEL) == {"champion": "1", "challenger": "1"}
    rows = rec_run.metrics
    assert set(rows) == {
        rec_ev.MODEL,
        *("als", "item_knn", "item_knn_bm25", "recent_popular", "popular", "category"),
        "item_knn_tuned",
        rec_ev.POPULARITY,
        rec_ev.ORACLE,
    }
    assert {row["users"] for row in rows.values()} == {291}
    assert all(
        {"ndcg_at_10", "recall_at_10", "map_at_10", "coverage_at_10", "novelty"} <= set(r)
        for r in rows.values()
    )
    model, pop, oracle = (rows[k] for k in (rec_ev.MODEL, rec_ev.POPULARITY, rec_ev.ORACLE))
    # Pinned to this world (seed 7, measured 2026-12-06: the re-ranked model's NDCG@10 0.3375,
    # coverage@10 0.711; the ALS + SVD blend it replaced had 0.273 and 0.906); popularity and the
    # oracle do not depend on the model
    assert pop["ndcg_at_10"] == pytest.approx(0.1006, abs=0.001)
    assert oracle["ndcg_at_10"] == pytest.approx(0.4675, abs=0.001)
    assert model["ndcg_at_10"] == pytest.approx(0.3375, abs=0.02)
    assert model["ndcg_at_10"] > 3.0 * pop["ndcg_at_10"]
    assert 0.65 * oracle["ndcg_at_10"] < model["ndcg_at_10"] < 0.8 * oracle["ndcg_at_10"]
    # the re-ranker beats each of its generators alone and the tuned item-kNN
    assert model["ndcg_at_10"] > max(rows[g]["ndcg_at_10"] for g in set(rows) - {rec_ev.MODEL, rec_ev.ORACLE})
    assert pop["coverage_at_10"] == pytest.approx(0.1275, abs=0.001)
    assert model["coverage_at_10"] == pytest.approx(0.711, abs=0.05)
    assert model["novelty"] > pop["novelty"]  # popularity recommends the best-known products
    assert rec_run.gate.challenger_score == pytest.approx(model["ndcg_at_10"])
    assert (
        rec_run.split["holdout_start"] == "2025-03-05" and rec_run.split["holdout_last_day"] == "2025-04-01"
    )
    assert rec_run.split["validation_start"] == "2025-02-05"
    # n_trials 4: the three label-window settings there are, on the validation split
    assert [row["label_windows"] for row in rec_run.tuning["reranked"]["grid"]] == [1, 2, 3]
    assert rec_run.tuning["item_knn_tuned"]["generator"] in ("item_knn", "item_knn_bm25")


def test_the_training_run_logs_the_ratios_the_readme_reads(rec_run, client):
    metrics = client.get_run(rec_run.run_id).data.metrics
    model, pop, oracle = (rec_run.metrics[k] for k in (rec_ev.MODEL, rec_ev.POPULARITY, rec_ev.ORACLE))
    assert metrics["ndcg_to_popularity"] == pytest.approx(model["ndcg_at_10"] / pop["ndcg_at_10"])
    assert metrics["ndcg_to_oracle"] == pytest.approx(model["ndcg_at_10"] / oracle["ndcg_at_10"])
    assert metrics["coverage_to_popularity"] == pytest.approx(model["coverage_at_10"] / pop["coverage_at_10"])
    assert metrics["item_knn_tuned_ndcg_at_10"] == pytest.approx(
        rec_run.metrics["item_knn_tuned"]["ndcg_at_10"]
    )
    assert metrics["train_seconds"] == pytest.approx(rec_run.seconds)
    stages = ("read", "tune", "tune_item_knn", "calibrate", "fit", "lists", "evaluate")
    assert sum(metrics[f"stage_{stage}_seconds"] for stage in stages) <= metrics["fit_seconds"]
    assert sum(metrics[f"stage_{stage}_cpu_seconds"] for stage in stages) <= metrics["fit_cpu_seconds"]
    assert metrics["fit_cpu_seconds"] <= metrics["train_cpu_seconds"]
    assert metrics["fit_seconds"] <= metrics["train_seconds"]


def test_the_served_confidence_is_calibrated_on_the_holdout(rec_run, client, world):
    """The rank calibration learned on the validation window, checked on the holdout: every
    customer's top 100 and its top 10 have an expected calibration error under 0.02 (hit rates at
    the top ranks are about 0.1-0.3); the curves are monotone and in 0..1."""
    metrics = client.get_run(rec_run.run_id).data.metrics
    assert {
        f"calibration_{p}_{m}" for p in ("all", "top10", "personal", "popular") for m in ("ece", "brier")
    } <= set(metrics)
    assert metrics["calibration_all_ece"] < 0.02 and metrics["calibration_top10_ece"] < 0.02
    curves = load_champion(world, registry.RECOMMENDER_MODEL).unwrap_python_model().state["calibration"]
    for kind in ("personal", "popular"):
        curve = curves[kind]
        assert len(curve) == 100 and (np.diff(curve) <= 0).all() and ((curve >= 0) & (curve <= 1)).all()
    assert curves["personal"][0] > curves["popular"][0]  # a personal list's first item is the surer bet


def test_served_lists_are_reranked_and_leave_out_what_the_customer_bought(world, rec_run):
    """Every customer with a new holdout purchase who is known to the model gets a personal list
    (source "reranked", or "reranked_new_item" for a product without interactions) of 100 distinct
    products, none of them bought before the holdout."""
    with db.connection(world) as conn:
        data = load_rec_data(conn)
    users, _, _ = rec_ev.holdout_users(data)
    model = load_champion(world, registry.RECOMMENDER_MODEL)
    known = [u for u in users if u in set(model.unwrap_python_model().state["user_ids"].tolist())]
    assert len(known) == 273
    out = model.predict(pd.DataFrame({C.CUSTOMER_ID: known, "k": 100}))
    assert out.groupby(C.CUSTOMER_ID)[C.PRODUCT_ID].nunique().eq(100).all()
    assert set(out["source"]) <= {"reranked", "reranked_new_item", "popular_fill"}
    assert out.groupby(C.CUSTOMER_ID)["source"].first().eq("reranked").all()
    bought = data.bought[[C.CUSTOMER_ID, C.PRODUCT_ID]].drop_duplicates()
    assert out.merge(bought, on=[C.CUSTOMER_ID, C.PRODUCT_ID]).empty
    assert (out.groupby(C.CUSTOMER_ID)["score"].diff().dropna() <= 0).all()  # best first


def test_recommendations_lean_to_the_category_a_customer_buys(world, rec_run):
    """Minimum functionality: customers whose purchases are all in one category get that category
    far more often than its share of the catalog (with the planted personas, explorers among them,
    it is 45% of their lists against a 14% catalog share: 3.2x)."""
    with db.connection(world) as conn:
        data = load_rec_data(conn)
    bought = data.bought.merge(data.catalog, on=C.PRODUCT_ID)
    per = bought.groupby(C.CUSTOMER_ID).agg(
        n=("lines", "sum"), cats=(C.CATEGORY, "nunique"), cat=(C.CATEGORY, "first")
    )
    loyal = per[(per.n >= 3) & (per.cats == 1)]
    assert len(loyal) >= 20
    model = load_champion(world, registry.RECOMMENDER_MODEL)
    recs = model.predict(pd.DataFrame({C.CUSTOMER_ID: loyal.index.to_numpy(), "k": 10}))
    recs = recs.merge(data.catalog, on=C.PRODUCT_ID)
    share = (recs[C.CATEGORY] == recs[C.CUSTOMER_ID].map(loyal.cat)).groupby(recs[C.CUSTOMER_ID]).mean()
    catalog_share = loyal.cat.map(data.catalog[C.CATEGORY].value_counts(normalize=True))
    assert share.mean() > 3 * catalog_share.mean()


def test_cold_start_prefers_the_asked_categories(world, rec_run):
    model = load_champion(world, registry.RECOMMENDER_MODEL)
    out = model.predict(
        pd.DataFrame({C.CUSTOMER_ID: [10_000_001], "k": [5], "country": ["Germany"], "categories": ["Books"]})
    )
    with db.connection(world) as conn:
        catalog = I.catalog(conn, AS_OF)
    assert out["source"].tolist() == ["cold_start_country_category"] * 5
    assert out.merge(catalog, on=C.PRODUCT_ID)[C.CATEGORY].tolist() == ["Books"] * 5


# ---------------------------------------------------------------------------------------- the CLI
def test_evaluate_prints_the_comparison_and_writes_the_report(world, churn_runs, rec_run, tmp_path):
    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(world)),
        "ECOMM_HOME": str(world.home),
        "ECOMM_WAREHOUSE_DB": world.warehouse_db,
        "ECOMM_MLFLOW_DB": world.mlflow_db,
        "ECOMM_CHURN_HORIZON_DAYS": str(HORIZON),
        "COLUMNS": "200",
    }
    result = ecomm("evaluate", "--report", "--out", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert "churn_model - cutoff 2025-02-01" in result.stdout
    assert "champion v2" in result.stdout and "challenger v3" in result.stdout
    assert "recommender_model - 2025-03-05 .. 2025-04-01" in result.stdout
    report = json.loads((tmp_path / "model_report.json").read_text())
    churn, rec, *unregistered = report["comparisons"]
    # this world trains churn and the recommender only: the other models say how to train them
    assert [(c["model"], c["message"]) for c in unregistered] == [
        (name, f"not registered: run `ecomm train {command}`")
        for name, command in (
            ("segment_model", "segments"),
            ("purchase_model", "purchase"),
            ("clv_model", "clv"),
        )
    ] + [("demand_forecast_model", "no champion: run `ecomm train forecast` (labels: none)")]
    assert churn["versions"] == {"champion": "2", "challenger": "3"}
    assert churn["rows"]["champion v2"]["roc_auc"] == pytest.approx(churn_runs[1].gate.challenger_score)
    assert set(churn["rows"]) == {"champion v2", "challenger v3", "oracle"}
    assert set(rec["rows"]) == {"champion v1 = challenger", "popularity", "oracle"}
    # the champion's re-ranked lists, scored afresh on the same (unchanged) holdout as its training run
    assert rec["rows"]["champion v1 = challenger"]["ndcg_at_10"] == pytest.approx(
        rec_run.gate.challenger_score
    )
    [(title, parts)] = rec["sections"].items()
    assert title == "champion v1's training run: trained before 2025-03-05, holdout 2025-03-05 .. 2025-04-01"
    assert set(parts) == {"registered model", "item_knn_tuned", "popularity", "oracle"} | {
        "als",
        "item_knn",
        "item_knn_bm25",
        "recent_popular",
        "popular",
        "category",
    }
    assert parts["registered model"]["ndcg_at_10"] == pytest.approx(rec_run.gate.challenger_score)
    assert "recommender_model - champion v1's training run" in result.stdout
    assert [t["target"] for t in report["targets"]] == [
        "churn ROC-AUC / oracle ROC-AUC",
        "churn served family ROC-AUC - best family's (training run)",
        "churn ROC-AUC (leakage sentinel)",
        "recommender NDCG@10 / popularity",
        "recommender NDCG@10 / oracle",
        "recommender coverage@10 / popularity",
        "training time, both models (s)",
        "segments ARI vs planted personas",
        "segments ARI / RFM cells' ARI",
        "segments K-Means stability (ARI between restarts)",
        "purchase ROC-AUC / planted truth's ROC-AUC",
        "purchase accuracy - recency rule's",
        "CLV Spearman with planted value / planted value's own",
        "CLV top-decile capture / historical average's",
        "CLV predicted total / realised total",
        "forecast category MASE / seasonal naive's (h14)",
        "forecast product MASE / seasonal naive's (h14)",
        "forecast category MASE / oracle's (h14)",
        "forecast category 80% interval coverage (h14)",
        "forecast category 95% interval coverage (h14)",
        "forecast product 80% interval coverage (h14)",
        "forecast product 95% interval coverage (h14)",
        "forecast stock policy: service level, less stock than naive",
    ]
    assert all(t["met"] is not None for t in report["targets"][:7])
    assert all(t["met"] is None for t in report["targets"][7:])  # not measured: no such model
    assert "## Quality targets" in (tmp_path / "model_report.md").read_text()


def test_training_on_an_empty_warehouse_is_a_one_line_error(warehouse, tmp_path):
    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_HOME": str(tmp_path),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_MLFLOW_DB": f"mlflow_{uuid.uuid4().hex[:8]}",
    }
    result = ecomm("train", "churn", env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: the warehouse holds no orders or web events: load some batches first"
    )
