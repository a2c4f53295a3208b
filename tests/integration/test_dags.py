"""The DAGs in airflow/dags with real Airflow (`dag.test()`, metadata on our PostgreSQL server) on a
small simulated world whose history is loaded in a fresh warehouse.

Airflow is imported in this process only after the module fixture has put our configuration in
the environment (Airflow reads its database URL when imported).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.entities import MANIFEST_FILE
from ecomm.monitoring.drift import compare
from ecomm.monitoring.models import monitored_populations
from ecomm.monitoring.quality import monitored_outcomes
from ecomm.orchestration import config
from ecomm.pipeline import ensure_batch
from ecomm.warehouse.run import load_path

from support.causal_world import clone_database, drop_database
from support.trained_world import WORLD_AS_OF, WORLD_HORIZON

AS_OF = date(2025, 5, 31)  # the history's last date
D1, D2, D3 = (AS_OF + timedelta(days=n) for n in (1, 2, 3))
WORLD = GeneratorConfig(seed=7, as_of=AS_OF, days=60, customers=300, products=60)
PIPELINE_TASKS = ["generate", "load", "quality_checks", "build_marts", "publish_warehouse"]


def _create_database(settings, name: str, template: str | None = None) -> None:
    db.create_database(settings, name, template=template)


def _drop_database(settings, name: str) -> None:
    db.drop_database(settings, name)


def _use_environment(monkeypatch, env: dict[str, str]) -> None:
    """Make os.environ carry exactly our ECOMM_*/AIRFLOW* settings (and no stray DATABASE_URL)."""
    ours = ("ECOMM_", "AIRFLOW_", "AIRFLOW__", "DATABASE_URL")
    for key in [k for k in os.environ if k.startswith(ours) and k not in env]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith(ours):
            monkeypatch.setenv(key, value)


def _point_airflow_at_environment() -> None:
    """Import Airflow, or re-point it if something imported it earlier with another database."""
    import airflow.settings as af

    if os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] != af.SQL_ALCHEMY_CONN:
        af.dispose_orm()
        af.configure_vars()
        af.configure_orm()


@pytest.fixture(scope="module")
def airflow_world(template_warehouse, tmp_path_factory):
    """Settings of a warehouse holding the world's history up to AS_OF, with Airflow configured
    in this process (metadata database migrated with `airflow db migrate`)."""
    home = tmp_path_factory.mktemp("dags-home")
    generate_history(WORLD, home / "raw")
    suffix = uuid.uuid4().hex[:8]
    settings = template_warehouse.model_copy(
        update={
            "home": home,
            "database_url": db.server_url(template_warehouse).render_as_string(hide_password=False),
            "warehouse_db": f"wh_dags_{suffix}",
            "airflow_db": f"af_dags_{suffix}",
        }
    )
    _create_database(settings, settings.warehouse_db, template=template_warehouse.warehouse_db)
    try:
        assert load_path(settings, home / "raw").ok
        config.migrate_metadata(settings)
        with pytest.MonkeyPatch.context() as monkeypatch:
            _use_environment(monkeypatch, config.airflow_env(settings))
            _point_airflow_at_environment()
            yield settings
            import airflow.settings as af

            af.dispose_orm()
    finally:
        _drop_database(settings, settings.warehouse_db)
        _drop_database(settings, settings.airflow_db)


@pytest.fixture(scope="module")
def dags(airflow_world):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(config.DAGS_FOLDER))


@dataclass
class Run:
    state: str
    tasks: dict[str, str]  # task_id -> state
    tries: dict[str, int]  # task_id -> try number
    results: dict[str, object]  # task_id -> return value (XCom)


def run_dag(dags, dag_id: str, day: date, conf: dict | None = None) -> Run:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag_run = dags.dags[dag_id].test(
        logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC), run_conf=conf
    )
    tis = dag_run.get_task_instances()
    with create_session() as session:
        xcoms = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_id, key="return_value"))
        results = {x.task_id: XComModel.deserialize_value(x) for x in xcoms}
    return Run(
        state=str(dag_run.state),
        tasks={ti.task_id: str(ti.state) for ti in tis},
        tries={ti.task_id: ti.try_number for ti in tis},
        results=results,
    )


def warehouse_counts(settings) -> dict[str, int]:
    """Rows of every table and materialized view of the warehouse, marts and quarantine schemas."""
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT schemaname || '.' || tablename FROM pg_tables "
            "WHERE schemaname IN ('warehouse', 'marts', 'quarantine', 'truth') "
            "UNION ALL SELECT schemaname || '.' || matviewname FROM pg_matviews ORDER BY 1"
        )
        names = [r[0] for r in cur.fetchall()]
        counts = {}
        for name in names:
            cur.execute(f"SELECT count(*) FROM {name}")
            counts[name] = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM audit.load_runs WHERE status = 'loaded'")
        counts["audit.load_runs(loaded)"] = cur.fetchone()[0]
        cur.execute("SELECT sum(revenue)::text FROM warehouse.fact_order_items")
        counts["revenue"] = cur.fetchone()[0]
    return counts


def sql_rows(settings, sql: str, params=None) -> list[tuple]:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def scalar(settings, sql: str, params=None):
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


@dataclass
class TwoDays:
    first: Run
    second: Run
    rerun: Run
    counts_before_rerun: dict[str, int]
    counts_after_rerun: dict[str, int]
    asset_events: list[tuple[str, dict]]  # (asset uri, extra) of each warehouse_marts event
    queued_after_second: list[tuple[str, str]]  # (DAG, asset uri) waiting for an asset-triggered run
    queued_after_rerun: list[tuple[str, str]]


def asset_events() -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .order_by(AssetEvent.id)
        ).all()
    return [(uri, extra) for uri, extra in rows]


def asset_run_queue() -> list[tuple[str, str]]:
    """(target DAG, asset uri) of the asset events the scheduler will turn into DagRuns."""
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetDagRunQueue.target_dag_id, AssetModel.uri).join(
                AssetModel, AssetModel.id == AssetDagRunQueue.asset_id
            )
        ).all()
    return sorted((dag_id, uri) for dag_id, uri in rows)


def clear_asset_run_queue() -> None:
    """What the scheduler does when it creates the queued runs."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(AssetDagRunQueue))


def set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


@pytest.fixture(scope="module")
def two_days(airflow_world, dags) -> TwoDays:
    """D1 and D2 (after the history) through the pipeline, then D1 again; ml_training_pipeline
    unpaused from D2 on (Airflow queues asset-triggered runs of unpaused DAGs only)."""
    first = run_dag(dags, "ecommerce_data_pipeline", D1)  # dag.test() writes every DAG to the database
    set_paused("ml_training_pipeline", False)
    try:
        second = run_dag(dags, "ecommerce_data_pipeline", D2)
        queued_after_second = asset_run_queue()
        clear_asset_run_queue()
        before = warehouse_counts(airflow_world)
        rerun = run_dag(dags, "ecommerce_data_pipeline", D1)
        queued_after_rerun = asset_run_queue()
    finally:
        set_paused("ml_training_pipeline", True)
    return TwoDays(
        first,
        second,
        rerun,
        before,
        warehouse_counts(airflow_world),
        asset_events(),
        queued_after_second,
        queued_after_rerun,
    )


def test_dag_bag_imports_cleanly_and_every_dag_is_documented(dags):
    assert dags.import_errors == {}
    assert sorted(dags.dag_ids) == [
        "causal_report",
        "demand_forecast",
        "ecommerce_data_pipeline",
        "import_inbox",
        "ml_training_pipeline",
        "model_monitoring",
    ]
    for dag in dags.dags.values():
        assert dag.tags, dag.dag_id
        assert dag.doc_md and dag.doc_md.strip().startswith("###"), dag.dag_id
        assert dag.owner == "data-platform", dag.dag_id
        assert dag.catchup is False and dag.max_active_runs == 1, dag.dag_id
        for task in dag.tasks:
            assert task.retries == 2 and task.retry_exponential_backoff == 2.0, task.task_id


def test_pipeline_shape_and_asset(dags):
    from airflow.sdk import CronDataIntervalTimetable

    from ecomm.orchestration.assets import WAREHOUSE_MARTS

    pipeline = dags.dags["ecommerce_data_pipeline"]
    downstream = {t.task_id: t.downstream_task_ids for t in pipeline.tasks}
    assert downstream == {
        # its batch, via XCom
        "generate": {"load", "quality_checks", "build_marts", "publish_warehouse"},
        # build_marts gets the loaded batch dates (dbt vars), publish what the load loaded
        "load": {"quality_checks", "build_marts", "publish_warehouse"},
        "quality_checks": {"build_marts"},
        "build_marts": {"publish_warehouse"},
        "publish_warehouse": set(),
    }
    assert [t.task_id for t in pipeline.tasks if t.outlets] == ["publish_warehouse"]
    assert pipeline.get_task("publish_warehouse").outlets == [WAREHOUSE_MARTS]
    assert pipeline.timetable == CronDataIntervalTimetable("@daily", timezone="UTC")
    training = dags.dags["ml_training_pipeline"]
    assert training.timetable.asset_condition == WAREHOUSE_MARTS
    assert {t.task_id: t.downstream_task_ids for t in training.tasks} == {
        "feature_plan": {"train_churn", "train_recommender", "train_segments", "train_purchase", "train_clv"},
        "train_churn": {"train_recommender", "evaluate"},
        "train_recommender": {"train_segments", "evaluate"},
        "train_segments": {"train_purchase", "evaluate"},
        "train_purchase": {"train_clv", "evaluate"},
        "train_clv": {"evaluate"},
        "evaluate": {"score_churn", "score_purchase"},
        "score_churn": set(),
        "score_purchase": set(),
    }
    monitoring = dags.dags["model_monitoring"]
    assert {t.task_id: t.downstream_task_ids for t in monitoring.tasks} == {
        "order_drift": {"drift_past_threshold"},
        "drift_past_threshold": {"trigger_retraining"},
        "trigger_retraining": set(),
        "model_drift": {"drift_past_threshold"},  # the recent inputs' flags are a trigger too
    }
    assert monitoring.get_task("trigger_retraining").trigger_dag_id == "ml_training_pipeline"
    forecast = dags.dags["demand_forecast"]
    assert forecast.timetable.asset_condition == WAREHOUSE_MARTS
    assert {t.task_id: t.downstream_task_ids for t in forecast.tasks} == {
        "train_forecast": {"store_forecasts"},
        "store_forecasts": set(),
    }
    inbox = dags.dags["import_inbox"]
    assert {t.task_id: t.downstream_task_ids for t in inbox.tasks} == {
        "import_files": {"publish_warehouse"},
        "publish_warehouse": set(),
    }
    assert inbox.get_task("publish_warehouse").outlets == [WAREHOUSE_MARTS]


def test_weekly_dags_wait_for_the_next_sunday(dags):
    """When the platform starts (right after the bootstrap trained and computed everything) no weekly
    run is due: the first one is the next Sunday, not the last one caught up at once."""
    from airflow.serialization.serialized_objects import DagSerialization

    now = datetime.now(UTC)
    for dag_id, hour in (("ml_training_pipeline", 4), ("causal_report", 5)):
        scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dags.dags[dag_id]))
        first = scheduler_dag.next_dagrun_info(last_automated_run_info=None).run_after
        assert now < first <= now + timedelta(days=7), dag_id
        assert (first.weekday(), first.hour, first.minute) == (6, hour, 0), dag_id  # a Sunday


def test_two_dates_and_a_rerun_all_succeed(two_days):
    for run in (two_days.first, two_days.second):
        assert run.state == "success"
        assert run.tasks == dict.fromkeys(PIPELINE_TASKS, "success")
    assert two_days.rerun.state == "success"
    assert two_days.rerun.tasks == dict.fromkeys(PIPELINE_TASKS, "success") | {"publish_warehouse": "skipped"}
    assert two_days.first.results["generate"]["business_date"] == D1.isoformat()
    assert two_days.second.results["generate"]["business_date"] == D2.isoformat()
    assert two_days.first.results["load"]["status"] == "loaded"
    assert two_days.first.results["load"]["loaded_dates"] == [D1.isoformat()]
    assert (
        two_days.first.results["quality_checks"]["passed"]
        == two_days.first.results["quality_checks"]["checks"]
    )


def test_a_run_that_loads_publishes_the_warehouse_asset_and_a_rerun_publishes_nothing(two_days):
    from ecomm.orchestration.assets import WAREHOUSE_MARTS_URI

    assert two_days.asset_events == [
        (WAREHOUSE_MARTS_URI, {"business_date": D1.isoformat()}),
        (WAREHOUSE_MARTS_URI, {"business_date": D2.isoformat()}),
    ]
    assert two_days.first.results["publish_warehouse"] == {
        "business_date": D1.isoformat(),
        "loaded_dates": [D1.isoformat()],
    }
    assert "publish_warehouse" not in two_days.rerun.results  # skipped: no XCom, no event
    assert two_days.rerun.results["load"]["loaded_dates"] == []
    # the scheduler starts asset-triggered runs from this queue only: D2 queued one, the rerun none
    assert two_days.queued_after_second == [("ml_training_pipeline", WAREHOUSE_MARTS_URI)]
    assert two_days.queued_after_rerun == []


def test_rerunning_a_date_changes_nothing(two_days):
    assert two_days.rerun.results["generate"] == two_days.first.results["generate"]  # same batch reused
    assert two_days.rerun.results["load"]["status"] == "skipped"
    assert two_days.counts_after_rerun == two_days.counts_before_rerun
    assert two_days.counts_after_rerun["audit.load_runs(loaded)"] == WORLD.days + 2


def test_day_without_orders_fails_the_run_with_the_reason(two_days, airflow_world, dags, capfd):
    """An upstream outage: D3's batch arrives without orders (nor the purchase events of them)."""
    batch = ensure_batch(airflow_world.raw_dir, D3)
    orders = pd.read_csv(batch / "order_items.csv", dtype=str, keep_default_na=False)
    assert len(orders) > 0
    orders.head(0).to_csv(batch / "order_items.csv", index=False)
    events = pd.read_csv(batch / "web_events.csv", dtype=str, keep_default_na=False)
    events[events.event_type != "purchase"].to_csv(batch / "web_events.csv", index=False)
    (batch / MANIFEST_FILE).unlink()  # files rewritten by hand: the generator's manifest no longer holds

    run = run_dag(dags, "ecommerce_data_pipeline", D3)

    assert run.state == "failed"
    assert run.tasks == {
        "generate": "success",
        "load": "success",
        "quality_checks": "failed",
        "build_marts": "upstream_failed",
        "publish_warehouse": "upstream_failed",  # no Asset event for data that failed its checks
    }
    assert run.tries["quality_checks"] == 1  # bad data is not retried
    log = capfd.readouterr()
    reason = f"QualityCheckFailed: freshness: 0 order lines dated on the latest batch {D3}"
    assert reason in log.out + log.err


def test_imported_source_pauses_the_daily_simulation(airflow_world, dags, monkeypatch, capfd):
    """ECOMM_SOURCE=imported: no day is simulated; every task is skipped, the reason in the log."""
    monkeypatch.setenv("ECOMM_SOURCE", "imported")
    day = D3 + timedelta(days=1)

    run = run_dag(dags, "ecommerce_data_pipeline", day)

    assert run.state == "success"
    assert run.tasks == dict.fromkeys(PIPELINE_TASKS, "skipped")
    assert not (airflow_world.raw_dir / day.isoformat()).exists()
    log = capfd.readouterr()
    assert "ECOMM_SOURCE=imported: the daily simulation is paused" in log.out + log.err


@contextlib.contextmanager
def task_settings_of(settings):
    """Tasks build Settings from ECOMM_* variables: point them at `settings` (Airflow's stay)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for key, value in config.settings_env(settings).items():
            if key.startswith(("AIRFLOW_", "AIRFLOW__")):
                continue
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        yield


@dataclass
class Trainings:
    first: Run
    unchanged: Run  # the same warehouse and settings again
    second: Run  # the same, forced
    versions_before_forced: dict[str, list[str]]
    versions: dict[str, list[str]]  # model -> registered versions
    aliases: dict[str, dict[str, str]]  # model -> alias -> version
    tags: dict[str, dict[str, str]]  # model -> trained_on.* tags of version 1
    counts: dict[str, int]  # warehouse counts of the trained world
    settings: object


def registered_versions(client) -> dict[str, list[str]]:
    from ecomm.ml import registry

    return {
        name: sorted(str(v.version) for v in client.search_model_versions(f"name = '{name}'"))
        for name in registry.CUSTOMER_MODELS
    }


@pytest.fixture(scope="module")
def trainings(airflow_world, dags, loaded_world) -> Trainings:
    """ml_training_pipeline three times on the loaded 900-customer world with tiny tuning and sizes
    and an MLflow store of its own: trained, then nothing changed, then forced; a margin of 1.0 makes the
    forced second version lose the gate whatever its score."""
    from ecomm.ml import registry, tracking

    settings = loaded_world.model_copy(
        update={
            "home": airflow_world.home,
            "database_url": airflow_world.database_url,
            "airflow_db": airflow_world.airflow_db,
            "mlflow_db": f"mlflow_dags_{uuid.uuid4().hex[:8]}",
            "churn_trials": 2,
            "recommender_trials": 1,
            # the shared world's sizes (support.trained_world): k 3..5, two refits, few trees and epochs
            "segment_max_k": 5,
            "segment_refits": 2,
            "purchase_trees": 50,
            "purchase_epochs": 30,
            "promotion_margin": 1.0,
        }
    )
    try:
        client = tracking.configure(settings)
        with task_settings_of(settings):
            first = run_dag(dags, "ml_training_pipeline", D1)
            unchanged = run_dag(dags, "ml_training_pipeline", D2)
            before_forced = registered_versions(client)
            second = run_dag(dags, "ml_training_pipeline", D3, conf={"force": True})
        aliases = {name: registry.aliases(client, name) for name in registry.CUSTOMER_MODELS}
        tags = {
            name: {
                k: v
                for k, v in client.get_model_version(name, "1").tags.items()
                if k.startswith("trained_on.")
            }
            for name in registry.CUSTOMER_MODELS
        }
        yield Trainings(
            first,
            unchanged,
            second,
            before_forced,
            registered_versions(client),
            aliases,
            tags,
            warehouse_counts(loaded_world),
            settings,
        )
    finally:
        _drop_database(settings, settings.mlflow_db)


TRAINING_TASKS = [
    "feature_plan",
    "train_churn",
    "train_recommender",
    "train_segments",
    "train_purchase",
    "train_clv",
    "evaluate",
    "score_churn",
    "score_purchase",
]
MODELS = ("churn_model", "recommender_model", "segment_model", "purchase_model", "clv_model")


def test_training_dag_trains_registers_and_promotes_the_first_versions(trainings):
    run = trainings.first
    assert run.state == "success"
    assert run.tasks == dict.fromkeys(TRAINING_TASKS, "success")
    plan = run.results["feature_plan"]
    assert plan["rows"]["dim_customer"] == trainings.counts["warehouse.dim_customer"]
    assert plan["rows"]["fact_order_items"] == trainings.counts["warehouse.fact_order_items"]
    assert plan["last_batch"] == WORLD_AS_OF.isoformat()
    assert plan["churn"] == {
        "train_cutoffs": ["2024-11-01"],
        "evaluation_cutoff": "2025-01-01",
        "horizon_days": WORLD_HORIZON,
        "n_trials": 2,
    }
    assert plan["recommender"] == {"train_end": "2025-02-02", "holdout_last_day": "2025-03-01", "n_trials": 1}
    assert plan["triggered_by_business_dates"] == [] and plan["conf"] == {}
    churn, rec = run.results["train_churn"], run.results["train_recommender"]
    assert churn["plan"]["evaluation_cutoff"] == plan["churn"]["evaluation_cutoff"]  # the trainer's plan
    assert rec["split"]["train_end"] == plan["recommender"]["train_end"]
    segments, purchase, clv = (run.results[f"train_{m}"] for m in ("segments", "purchase", "clv"))
    assert segments["as_of"] == "2025-03-01"  # the month of the last load
    assert 3 <= segments["k"] <= 5  # its segment_max_k
    assert purchase["plan"]["evaluation_cutoff"] < plan["last_batch"]  # its 30-day label window is loaded
    assert clv["as_of"] == "2025-03-01" and clv["cutoff"] < plan["last_batch"]
    for result, name in zip((churn, rec, segments, purchase, clv), MODELS, strict=True):
        assert result["model"] == name and result["version"] == "1"
        assert result["gate"]["decision"] == "promoted"
        assert result["gate"]["champion_before"] is None and result["gate"]["champion_after"] == "1"
        assert result["gate"]["reason"] == "first version of the model"
    served = churn["metrics"][churn["family"]]  # the family chosen on validation
    assert churn["family"] in ("logreg", "xgboost") and 0.5 < served["roc_auc"] < 0.99
    assert churn["gate"]["challenger_score"] == pytest.approx(served["roc_auc"], abs=1e-6)
    assert rec["gate"]["challenger_score"] == pytest.approx(rec["metrics"]["model"]["ndcg_at_10"], abs=1e-6)
    assert run.results["evaluate"]["decisions"] == dict.fromkeys(MODELS, "promoted")
    evaluated = [c["model"] for c in run.results["evaluate"]["comparisons"]]
    assert evaluated == [*MODELS, "demand_forecast_model"]  # the forecast's own DAG trains it: none here
    assert run.results["score_purchase"]["customers"] > 0


def test_training_dag_trains_nothing_when_nothing_changed(trainings):
    run = trainings.unchanged
    assert run.state == "success"
    assert run.tasks == {"feature_plan": "success"} | dict.fromkeys(TRAINING_TASKS[1:], "skipped")
    assert trainings.versions_before_forced == dict.fromkeys(MODELS, ["1"])


def test_each_version_records_what_it_learnt_from(trainings):
    from ecomm import db
    from ecomm.warehouse.load import loaded_checksums

    with db.connection(trainings.settings) as conn:
        checksums = loaded_checksums(conn)
    for name, tags in trainings.tags.items():
        assert set(tags) == {"trained_on.warehouse", "trained_on.last_batch", "trained_on.settings"}, name
        assert tags["trained_on.last_batch"] == max(checksums).isoformat() == WORLD_AS_OF.isoformat()
        assert len(tags["trained_on.warehouse"]) == 16
    # the two models learn from the same warehouse with different settings
    assert (
        trainings.tags["churn_model"]["trained_on.warehouse"]
        == (trainings.tags["recommender_model"]["trained_on.warehouse"])
    )
    assert (
        trainings.tags["churn_model"]["trained_on.settings"]
        != (trainings.tags["recommender_model"]["trained_on.settings"])
    )


def test_new_data_or_other_settings_count_as_a_change(trainings):
    """`unchanged_since` (the training tasks' test) names the latest version only for the very same
    warehouse and settings: another trial count, or one more loaded batch, means train again."""
    from ecomm import db
    from ecomm.ml.training_plan import unchanged_since

    settings = trainings.settings
    assert unchanged_since(settings, "churn_model") == "2"  # the forced version learnt from the same
    assert unchanged_since(settings, "recommender_model") == "2"
    more_trials = settings.model_copy(update={"churn_trials": settings.churn_trials + 1})
    assert unchanged_since(more_trials, "churn_model") is None
    assert unchanged_since(more_trials, "recommender_model") == "2"  # its settings did not change
    new_batch = WORLD_AS_OF + timedelta(days=1)
    record = (
        "INSERT INTO audit.load_runs (batch_date, source_dir, status, rows_by_entity, started_at) "
        "VALUES (%s, 'test', 'loaded', '{\"checksum\": \"new\"}', now())"
    )
    with db.connection(settings) as conn, conn.cursor() as cur:  # one more batch recorded as loaded
        cur.execute(record, (new_batch,))
        conn.commit()
    try:
        assert unchanged_since(settings, "churn_model") is None
        assert unchanged_since(settings, "recommender_model") is None
    finally:
        with db.connection(settings) as conn, conn.cursor() as cur:
            cur.execute("DELETE FROM audit.load_runs WHERE batch_date = %s", (new_batch,))
            conn.commit()
    assert unchanged_since(settings, "churn_model") == "2"


def test_training_dag_keeps_the_champion_when_the_challenger_does_not_win(trainings):
    run = trainings.second
    assert run.state == "success"
    assert run.tasks == dict.fromkeys(TRAINING_TASKS, "success")  # forced: trained on the same again
    assert run.results["feature_plan"]["conf"] == {"force": True}
    for name in ("churn", "recommender", "purchase", "clv"):
        gate = run.results[f"train_{name}"]["gate"]
        assert run.results[f"train_{name}"]["version"] == "2"
        assert (gate["decision"], gate["champion_before"], gate["champion_after"]) == ("kept", "1", "1")
        assert gate["reason"].startswith(f"challenger {gate['metric']} ")
        assert gate["reason"].endswith(" by the margin 1.0")
    assert trainings.versions == dict.fromkeys(MODELS, ["1", "2"])
    # the segments' gate asks "not worse" (tolerance 0), not a margin: the same refit is promoted
    segment_gate = run.results["train_segments"]["gate"]
    assert (segment_gate["decision"], segment_gate["champion_after"]) == ("promoted", "2")
    assert segment_gate["challenger_silhouette"] == pytest.approx(segment_gate["champion_silhouette"])
    assert trainings.aliases == {
        "churn_model": {"champion": "1", "challenger": "2"},
        "recommender_model": {"champion": "1", "challenger": "2"},
        "segment_model": {"champion": "2", "challenger": "2"},
        "purchase_model": {"champion": "1", "challenger": "2"},
        "clv_model": {"champion": "1", "challenger": "2"},
    }
    evaluation = run.results["evaluate"]
    assert evaluation["decisions"] == dict.fromkeys(MODELS, "kept") | {"segment_model": "promoted"}
    assert [c["versions"] for c in evaluation["comparisons"]] == [
        {"champion": "1", "challenger": "2"},
        {"champion": "1", "challenger": "2"},
        {"champion": "2", "challenger": "2"},
        {"champion": "1", "challenger": "2"},
        {"champion": "1", "challenger": "2"},
        {},  # demand_forecast_model: its own DAG trains it
    ]
    for comp in evaluation["comparisons"][
        : len(MODELS)
    ]:  # both scored (one row when both aliases name one version)
        entries = [label.split(" (")[0] for label in comp["rows"]]
        champion, challenger = comp["versions"]["champion"], comp["versions"]["challenger"]
        expected = (
            [f"champion v{champion} = challenger"]
            if champion == challenger
            else [f"champion v{champion}", f"challenger v{challenger}"]
        )
        assert [e for e in entries if e.startswith(("champion", "challenger"))] == expected, comp["model"]


def test_monitoring_compares_the_last_7_days_orders_with_the_28_days_before(two_days, airflow_world, dags):
    quiet = {"drift_retrain_psi": 1e6, "drift_min_psi": 1e6, "drift_retrain_min_orders": 1}  # nothing drifts
    with task_settings_of(airflow_world.model_copy(update=quiet)):
        run = run_dag(dags, "model_monitoring", D2)
    assert run.state == "success"
    assert run.tasks == {
        "order_drift": "success",
        "drift_past_threshold": "success",
        "trigger_retraining": "skipped",  # below the threshold: no retraining
        "model_drift": "success",
    }
    assert training_runs_triggered_by_monitoring() == []
    # model_drift: the served models (champions or not, as earlier tests left them), then the recent
    # inputs, always monitored; realised quality per served model
    drift = run.results["model_drift"]
    assert [d["model"] for d in drift["drift"]] == [*monitored_populations(), "inputs"]
    assert (drift["drift"][-1]["version"], drift["drift"][-1]["status"]) == ("0", "monitored")
    assert drift["drift"][-1]["features"] == scalar(
        airflow_world,
        "SELECT count(*) FROM marts.model_monitoring WHERE model_name = 'inputs' AND business_date = %s",
        (D2,),
    )
    assert [q["model"] for q in drift["quality"]] == list(monitored_outcomes())
    report = run.results["order_drift"]
    first, last = D2 - timedelta(days=6), D2 - timedelta(days=7)
    assert report["window"] == [first.isoformat(), D2.isoformat()]
    assert report["reference_window"] == [(last - timedelta(days=27)).isoformat(), last.isoformat()]
    assert (report["tested"], report["drifted"], report["retrain"]) == (True, [], False)
    assert report["reason"].startswith("no drift: order_value PSI ")

    # the same drift computed from the raw files (a different path than the warehouse SQL)
    days = [D2 - timedelta(days=n) for n in range(35)]
    lines = pd.concat(pd.read_csv(airflow_world.raw_dir / d.isoformat() / "order_items.csv") for d in days)
    lines["day"] = pd.to_datetime(lines.order_ts).dt.date
    lines["list_value"] = lines.quantity * lines.unit_price  # the order value before discounts
    orders = lines.groupby(["order_id", "day"]).agg(value=("list_value", "sum"), size=("quantity", "sum"))
    orders = orders.reset_index().assign(value=lambda o: o.value.round(2))  # numeric(14,2) in the warehouse
    current, reference = orders[orders.day >= first], orders[orders.day <= last]
    for feature, column in (("order_value", "value"), ("basket_size", "size")):
        expected = compare(reference[column], current[column]).to_json()
        assert report[feature].pop("level") == expected.pop("level"), feature
        assert report[feature].pop("drifted") is False, feature
        assert report[feature] == pytest.approx(expected, rel=1e-9), feature
    assert report["n_current"] == scalar(
        airflow_world,
        "SELECT count(DISTINCT order_id) FROM warehouse.fact_order_items WHERE order_date BETWEEN %s AND %s",
        (first, D2),
    )


def training_runs_triggered_by_monitoring() -> list[tuple[str, str, dict]]:
    """(run id, run type, conf) of every ml_training_pipeline run whose run id says drift."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == "ml_training_pipeline", DagRun.run_id.like("drift__%"))
            .order_by(DagRun.id)
        ).all()
        return [(r.run_id, str(r.run_type), dict(r.conf or {})) for r in runs]


def test_a_drift_episode_triggers_training_once_per_date_on_its_second_day(
    two_days, airflow_world, dags, monkeypatch
):
    """The wiring: the detectors themselves are tested on known distributions (test_order_trigger,
    test_retrain_decision) and measured by benchmarks/bench_drift.py; here the recent inputs are
    made to drift on D1 and the day before (not two days before) so the decision is known with
    ECOMM_DRIFT_RETRAIN_DAYS 2, the default."""
    from ecomm.monitoring import retrain

    assert airflow_world.drift_retrain_days == 2
    episode = {D1, D1 - timedelta(days=1)}
    monkeypatch.setattr(
        retrain, "inputs_flags", lambda settings, day: ["new_customer_channel"] if day in episode else []
    )
    quiet = {"drift_retrain_psi": 1e6}  # the recent orders do not drift
    with task_settings_of(airflow_world.model_copy(update=quiet)):
        run = run_dag(dags, "model_monitoring", D1)
        rerun = run_dag(dags, "model_monitoring", D1)
    assert run.state == "success"
    assert run.tasks == dict.fromkeys(
        ["order_drift", "drift_past_threshold", "trigger_retraining", "model_drift"], "success"
    )
    assert rerun.state == "success"
    assert rerun.tasks["trigger_retraining"] == "skipped"  # the date's retraining run exists already
    assert training_runs_triggered_by_monitoring() == [
        (
            f"drift__{D1.isoformat()}",
            "operator_triggered",
            {
                "triggered_by": "model_monitoring",
                "reason": "drift",
                "business_date": D1.isoformat(),
                "drifted": "new_customer_channel",
            },
        )
    ]


@dataclass
class ForecastRuns:
    first: Run
    unchanged: Run  # nothing loaded, nothing changed
    restored: Run  # nothing changed, the stored forecasts deleted
    stored: dict[str, list[tuple]]  # after each run: (level, series, rows, forecast date, version)
    stock: list[tuple]  # (products, forecast date, version) of marts.product_stock at the end
    expected_products: int  # products with two weeks of history (those forecast)
    categories: int
    last_order_date: date
    settings: object


FAST_FORECAST = {"forecast_models": "seasonal_naive", "forecast_backtest_windows": 1, "forecast_products": 20}
STORED_FORECASTS = """
SELECT series_level, count(DISTINCT series_id), count(*), min(forecast_date), max(model_version)
FROM marts.demand_forecast GROUP BY series_level ORDER BY series_level
"""


@pytest.fixture(scope="module")
def forecast_runs(airflow_world, dags) -> ForecastRuns:
    """demand_forecast three times on a copy of the 60-day world, seasonal naive only and one backtest
    origin, with an MLflow store of its own: trained and stored; nothing changed; nothing changed but
    the stored forecasts deleted."""
    settings = clone_database(airflow_world, airflow_world.warehouse_db).model_copy(
        update={"mlflow_db": f"mlflow_forecast_{uuid.uuid4().hex[:8]}", **FAST_FORECAST}
    )
    try:
        stored = {}
        with task_settings_of(settings):
            first = run_dag(dags, "demand_forecast", D1)
            stored["first"] = sql_rows(settings, STORED_FORECASTS)
            unchanged = run_dag(dags, "demand_forecast", D2)
            stored["unchanged"] = sql_rows(settings, STORED_FORECASTS)
            with db.connection(settings) as conn, conn.cursor() as cur:
                cur.execute("DELETE FROM marts.demand_forecast")
                conn.commit()
            restored = run_dag(dags, "demand_forecast", D3)
            stored["restored"] = sql_rows(settings, STORED_FORECASTS)
        last = scalar(settings, "SELECT max(order_date) FROM warehouse.fact_order_items")
        products = scalar(
            settings,
            "SELECT count(*) FROM warehouse.dim_product WHERE %(last)s - greatest(launch_date, "
            "(SELECT min(order_date) FROM warehouse.fact_order_items)) + 1 >= 14",
            {"last": last},
        )
        categories = scalar(
            settings,
            "SELECT count(DISTINCT category) FROM warehouse.dim_product WHERE launch_date <= %s",
            (last,),
        )
        stock = sql_rows(
            settings, "SELECT count(*), min(forecast_date), max(model_version) FROM marts.product_stock"
        )
        yield ForecastRuns(first, unchanged, restored, stored, stock, products, categories, last, settings)
    finally:
        drop_database(settings)
        _drop_database(settings, settings.mlflow_db)


def test_forecast_dag_trains_stores_then_skips_what_is_done(forecast_runs):
    runs = forecast_runs
    assert (runs.first.state, runs.first.tasks) == (
        "success",
        {"train_forecast": "success", "store_forecasts": "skipped"},  # training stored them
    )
    trained = runs.first.results["train_forecast"]
    assert (trained["model"], trained["version"], trained["gate"]["decision"]) == (
        "demand_forecast_model",
        "1",
        "promoted",
    )
    assert trained["methods"] == dict.fromkeys(("product", "category", "total"), "seasonal_naive")
    assert sorted(trained["metrics"]) == ["category_mase_h14", "product_mase_h14", "total_mase_h14"]
    day = runs.last_order_date
    expected = [
        ("category", runs.categories, 30 * runs.categories, day, "1"),
        ("product", runs.expected_products, 30 * runs.expected_products, day, "1"),
        ("total", 1, 30, day, "1"),
    ]
    assert runs.stored["first"] == expected
    assert trained["stored"]["forecast_rows"] == 30 * (runs.categories + runs.expected_products + 1)
    assert (runs.unchanged.state, runs.unchanged.tasks) == (
        "success",
        {"train_forecast": "skipped", "store_forecasts": "skipped"},
    )
    assert runs.unchanged.results == {}
    assert runs.stored["unchanged"] == expected
    assert (runs.restored.state, runs.restored.tasks) == (
        "success",
        {"train_forecast": "skipped", "store_forecasts": "success"},
    )
    assert runs.restored.results["store_forecasts"] == {
        "model_version": "1",
        "forecast_date": day.isoformat(),
        "forecast_rows": 30 * (runs.categories + runs.expected_products + 1),
        "products": runs.expected_products,
        "seconds": runs.restored.results["store_forecasts"]["seconds"],
    }
    assert runs.stored["restored"] == expected
    assert runs.stock == [(runs.expected_products, day, "1")]


@dataclass
class CausalRuns:
    first: Run
    second: Run  # no batch loaded since the first
    stored: tuple[int, datetime]  # rows of marts.causal_estimates and their computed_at
    settings: object


@pytest.fixture(scope="module")
def causal_runs(airflow_world, dags, loaded_world) -> CausalRuns:
    """causal_report twice on a copy of the loaded 900-customer world (its campaigns lie inside the
    210 days of history), the second time with nothing loaded in between."""
    settings = clone_database(loaded_world, loaded_world.warehouse_db).model_copy(
        update={
            "home": airflow_world.home,
            "database_url": airflow_world.database_url,
            "airflow_db": airflow_world.airflow_db,
        }
    )
    try:
        with task_settings_of(settings):
            first = run_dag(dags, "causal_report", D1)
            second = run_dag(dags, "causal_report", D2)
        stored = (
            scalar(settings, "SELECT count(*) FROM marts.causal_estimates"),
            scalar(settings, "SELECT max(computed_at) FROM marts.causal_estimates"),
        )
        yield CausalRuns(first, second, stored, settings)
    finally:
        drop_database(settings)


def test_causal_dag_stores_the_report_then_skips_while_nothing_is_loaded(causal_runs):
    first, second = causal_runs.first, causal_runs.second
    assert (first.state, first.tasks) == ("success", {"campaign_effects": "success"})
    rows, computed_at = causal_runs.stored
    result = first.results["campaign_effects"]
    assert result["estimates"] == rows > 0
    assert result["campaigns"] == sorted(
        r[0]
        for r in sql_rows(causal_runs.settings, "SELECT DISTINCT campaign_id FROM marts.causal_estimates")
    )
    assert datetime.fromisoformat(result["computed_at"]) == computed_at
    assert result["report"] == str(causal_runs.settings.home / "reports" / "causal" / "causal_estimates.md")
    assert (second.state, second.tasks) == ("success", {"campaign_effects": "skipped"})
    assert "campaign_effects" not in second.results


def test_a_batch_loaded_after_the_estimates_makes_them_stale(causal_runs):
    from ecomm.campaign_report import estimates_state

    settings = causal_runs.settings
    assert not estimates_state(settings).stale
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.load_runs (batch_date, source_dir, status, started_at) "
            "VALUES (%s, 'test', 'loaded', now())",
            (WORLD_AS_OF + timedelta(days=1),),
        )
        conn.commit()
    state = estimates_state(settings)
    assert state.stale and state.rows == causal_runs.stored[0]
    assert state.last_load_at > state.computed_at == causal_runs.stored[1]


def test_import_inbox_skips_on_the_simulated_shop_and_loads_the_inbox_on_imported_data(
    airflow_world, dags, warehouse, tmp_path
):
    from ecomm.imports.run import import_configured

    from support.cdnow import MAP, cdnow_part

    simulated = run_dag(dags, "import_inbox", D1)
    assert simulated.tasks == {"import_files": "skipped", "publish_warehouse": "skipped"}

    settings = airflow_world.model_copy(
        update={
            "warehouse_db": warehouse.warehouse_db,
            "source": "imported",
            "import_file": cdnow_part(tmp_path / "jan.csv", "19970101", "19970131"),
            "import_map": MAP,
            "import_inbox": tmp_path / "inbox",
        }
    )
    assert import_configured(settings).load.ok  # what `make up` does first
    cdnow_part(settings.inbox_dir / "feb.csv", "19970201", "19970205")
    with task_settings_of(settings):
        imported = run_dag(dags, "import_inbox", D2)
        nothing_new = run_dag(dags, "import_inbox", D3)
    assert imported.tasks == {"import_files": "success", "publish_warehouse": "success"}
    assert imported.results["import_files"] == {
        "accepted": ["0001-feb.csv"],
        "refused": {},
        "loaded_dates": [f"1997-02-0{n}" for n in range(1, 6)],
    }
    assert nothing_new.tasks == {"import_files": "skipped", "publish_warehouse": "skipped"}
