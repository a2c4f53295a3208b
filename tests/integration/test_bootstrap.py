"""`ecomm pipeline bootstrap` as `make up` and the compose job run it: an empty warehouse gets a
simulated history and both models get a champion; a second run does nothing."""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ecomm import db
from ecomm.ml import registry, tracking

from support.cli import ecomm
from support.event_logs import event_log

DASHBOARD = Path(__file__).resolve().parents[2] / "streamlit"
DAYS = 210  # enough for a 60-day churn label with a training cutoff before the evaluation one


def bootstrap(env: dict) -> subprocess.CompletedProcess:
    """`ecomm pipeline bootstrap` in this process (support/cli.py) with `env` as its only ECOMM_*."""
    stray = {k: None for k in os.environ if k.startswith("ECOMM_") and k not in env}
    return ecomm("pipeline", "bootstrap", env={**stray, **env})


def settings_env(settings, home, **sizes) -> dict:
    return {
        "DATABASE_URL": db.libpq_dsn(db.server_url(settings)),
        "ECOMM_HOME": str(home),
        "ECOMM_WAREHOUSE_DB": settings.warehouse_db,
        "ECOMM_MLFLOW_DB": settings.mlflow_db,
        "ECOMM_SEED": "5",
        "ECOMM_PRODUCTS": "60",
        "ECOMM_CHURN_HORIZON_DAYS": "60",
        "ECOMM_CHURN_TRIALS": "2",
        "ECOMM_RECOMMENDER_TRIALS": "1",
        # demand forecasts: seasonal naive only (AutoETS doubles the training), one backtest origin, 20
        # products in the backtest (every one is forecast)
        "ECOMM_FORECAST_MODELS": "seasonal_naive",
        "ECOMM_FORECAST_BACKTEST_WINDOWS": "1",
        "ECOMM_FORECAST_PRODUCTS": "20",
        **{f"ECOMM_{k.upper()}": str(v) for k, v in sizes.items()},
    }


@pytest.fixture
def empty(warehouse):
    """A fresh migrated warehouse with no batch and an MLflow database that does not exist yet."""
    settings = warehouse.model_copy(update={"mlflow_db": f"mlflow_boot_{uuid.uuid4().hex[:8]}"})
    yield settings
    db.drop_database(settings, settings.mlflow_db)


def loaded_batches(settings) -> int:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.load_runs WHERE status = 'loaded'")
        return cur.fetchone()[0]


def causal_estimates(settings) -> tuple[int, object]:
    """Rows of marts.causal_estimates and when they were computed."""
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), max(computed_at) FROM marts.causal_estimates")
        return cur.fetchone()


def experiment_kinds(settings) -> dict[str, str | None]:
    client = tracking.configure(settings)
    return {
        e.name: e.tags.get("mlflow.experimentKind")
        for e in client.search_experiments()
        if e.name != "Default"
    }


def registry_state(settings) -> dict:
    client = tracking.configure(settings)
    return {
        name: (
            sorted(str(v.version) for v in client.search_model_versions(f"name = '{name}'")),
            registry.aliases(client, name),
        )
        for name in registry.MODEL_NAMES
    }


def test_bootstrap_loads_history_and_trains_then_does_nothing(empty, tmp_path):
    env = settings_env(empty, tmp_path, customers=300, history_days=DAYS)

    first = bootstrap(env)

    assert first.returncode == 0, first.stderr[-3000:]
    assert f"simulating {DAYS} days of history" in first.stderr
    assert f"{DAYS} batch(es): {DAYS} loaded, 0 skipped, 0 rejected" in first.stdout
    for name in registry.MODEL_NAMES:
        assert f"training {name} (no champion registered yet)" in first.stderr
        line = next(ln for ln in first.stdout.splitlines() if ln.startswith(f"{name}: "))
        assert line.startswith(f"{name}: trained v1 in ") and line.endswith("s, champion v1"), line
    assert loaded_batches(empty) == DAYS
    with db.connection(empty) as conn, conn.cursor() as cur:  # the dashboard's churn scores, stored
        cur.execute("SELECT count(*), min(model_version), max(model_version) FROM marts.churn_scores")
        scored, low, high = cur.fetchone()
    assert scored > 0 and low == high == "1"
    assert f"churn scores: {scored:,} customers as of " in first.stdout
    with db.connection(empty) as conn, conn.cursor() as cur:  # the purchase scores beside them
        cur.execute("SELECT count(*), min(model_version), max(model_version) FROM marts.purchase_scores")
        purchase_scored, low, high = cur.fetchone()
        cur.execute("SELECT count(DISTINCT customer_id) FROM marts.customer_segments")
        segmented = cur.fetchone()[0]
    assert purchase_scored > 0 and low == high == "1"
    assert f"purchase scores: {purchase_scored:,} customers as of " in first.stdout
    assert segmented > 0  # the segment champion's segments, for the Segments page
    with db.connection(empty) as conn, conn.cursor() as cur:  # what the /forecast routes answer
        cur.execute("SELECT count(*), max(forecast_date), max(model_version) FROM marts.demand_forecast")
        forecasts, forecast_date, version = cur.fetchone()
        cur.execute("SELECT count(*) FROM marts.product_stock")
        stocked = cur.fetchone()[0]
        cur.execute("SELECT max(order_date) FROM warehouse.fact_order_items")
        last_order_date = cur.fetchone()[0]
    assert forecast_date == last_order_date and version == "1"
    assert forecasts == 30 * (stocked + 8 + 1)  # 30 days of each product, the 8 categories, the total
    assert stocked > 50  # every product with two weeks of sales history
    assert (
        f"demand forecasts: {forecasts:,} rows and {stocked} reorder points as of {forecast_date} by v1"
        in first.stdout.splitlines()
    )
    once = {name: (["1"], {"champion": "1", "challenger": "1"}) for name in registry.MODEL_NAMES}
    assert registry_state(empty) == once
    # the dashboard's Campaigns page: the causal report, computed and stored
    assert "computing the causal report (no causal estimate stored yet)" in first.stderr
    estimates, computed_at = causal_estimates(empty)
    assert estimates > 0
    assert f"causal estimates: {estimates} computed into marts.causal_estimates" in first.stdout.splitlines()
    assert (tmp_path / "reports" / "causal" / "causal_estimates.md").is_file()
    assert experiment_kinds(empty) == dict.fromkeys(
        ("churn", "recommender", "segments", "purchase", "clv", "demand_forecast"), "custom_model_development"
    )

    second = bootstrap(env)

    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.splitlines() == [
        f"warehouse: {DAYS} batch(es) loaded already; no history loaded",
        "churn_model: champion v1 registered already; not trained",
        "recommender_model: champion v1 registered already; not trained",
        "segment_model: champion v1 registered already; not trained",
        "purchase_model: champion v1 registered already; not trained",
        "clv_model: champion v1 registered already; not trained",
        "demand_forecast_model: champion v1 registered already; not trained",
        f"causal estimates: {estimates} stored already; not computed",
        "bootstrap: nothing to do",
    ]
    assert second.stderr == ""
    assert loaded_batches(empty) == DAYS
    assert registry_state(empty) == once
    assert causal_estimates(empty) == (estimates, computed_at)  # not recomputed


def test_history_too_short_to_train_loads_and_says_why(empty, tmp_path):
    """60 days (the generator's minimum): no 60-day churn label after 60 days of history, and no
    4-week recommender holdout after 4 weeks of tuning history. An experiment an earlier version
    created without its kind gets it."""
    client = tracking.configure(empty)
    client.create_experiment("churn")

    result = bootstrap(settings_env(empty, tmp_path, customers=100, history_days=60))

    assert result.returncode == 0, result.stderr[-3000:]
    assert "60 batch(es): 60 loaded, 0 skipped, 0 rejected" in result.stdout
    warnings = [ln for ln in result.stderr.splitlines() if " not trained: " in ln]
    assert [w.split(": ")[0] for w in warnings] == [
        "churn_model not trained",
        "recommender_model not trained",
        "purchase_model not trained",
        "clv_model not trained",
        "demand_forecast_model not trained",
    ]
    assert warnings[0].endswith("too short for a 60-day churn label after 60 days of history")
    assert (
        "too short for a 28-day re-ranker label window after as many days of history, before the "
        "validation split at" in warnings[1]
    )
    assert warnings[2].endswith("too short for a 30-day purchase label after 60 days of history")
    assert warnings[3].endswith("or a 90-day holdout after 90 days of history")
    # the demand forecast is chosen on validation origins before its backtest's (80 days in all)
    assert "days are too short for" in warnings[4] and "the validation origins'" in warnings[4]
    # segments need one month start, not a label window: they are trained
    first = (["1"], {"champion": "1", "challenger": "1"})
    assert registry_state(empty) == {name: ([], {}) for name in registry.MODEL_NAMES} | {
        "segment_model": first,
    }
    # 100 customers over 60 days support no causal estimate yet: said, nothing stored, exit 0
    causal = [ln for ln in result.stderr.splitlines() if ln.startswith("causal estimates not computed: ")]
    assert len(causal) == 1, result.stderr
    assert causal_estimates(empty) == (0, None)
    assert "MLflow experiments churn: tagged to open in the classic ML view" in result.stdout.splitlines()
    assert experiment_kinds(empty) == dict.fromkeys(("churn", "segments"), "custom_model_development")


CDNOW = Path(__file__).parents[1] / "data" / "imports" / "cdnow_sample.csv"
CDNOW_MAP = "customer_id=customer_id,date=date,quantity=quantity,amount=amount"


def cdnow_months(tmp_path, before: str) -> Path:
    """The CDNOW sample's rows dated before `before` (YYYYMMDD), as a log of its own."""
    header, *rows = CDNOW.read_text().splitlines()
    path = tmp_path / f"cdnow_before_{before}.csv"
    path.write_text("\n".join([header, *(r for r in rows if r.split(",")[1] < before)]) + "\n")
    return path


def test_imported_source_is_imported_and_each_model_trains_or_says_what_it_lacks(
    empty, tmp_path, monkeypatch
):
    """ECOMM_SOURCE=imported: the CDNOW sample's first five months (customer, date, quantity, amount:
    no product, country, age or channel; no campaign, no truth) instead of a simulated shop. With a
    30-day churn label, 151 days hold one churn training cutoff but not the purchase model's two,
    nor a CLV holdout. (Five months and one trial: the test's time budget.)"""
    log = cdnow_months(tmp_path, "19970601")
    env = settings_env(
        empty,
        tmp_path / "home",
        source="imported",
        import_file=log,
        import_map=CDNOW_MAP,
        churn_horizon_days=30,
        churn_trials=1,
    )
    missing = ecomm("pipeline", "bootstrap", env={**env, "ECOMM_IMPORT_FILE": str(tmp_path / "nowhere.csv")})
    assert missing.returncode == 1
    assert (
        missing.stderr.splitlines()[-1]
        == f"error: ECOMM_IMPORT_FILE={tmp_path / 'nowhere.csv'}: no such file"
    )
    assert loaded_batches(empty) == 0

    result = bootstrap(env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        f"importing {log} (transactions; ECOMM_SOURCE=imported) instead of simulating a shop" in result.stderr
    )
    assert "simulating" not in result.stderr.replace("instead of simulating", "")
    assert "151 batch(es): 151 loaded, 0 skipped, 0 rejected" in result.stdout
    assert "no ground truth exists for imported data" in result.stdout
    assert not (tmp_path / "home" / "raw").exists()
    trained = [ln.split(":")[0] for ln in result.stdout.splitlines() if ": trained v1 in " in ln]
    # no category column: the demand forecast is of the one product 'unknown' and the total alone
    assert trained == ["churn_model", "segment_model", "demand_forecast_model"]
    with db.connection(empty) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT series_level, count(*), max(forecast_date)::text FROM marts.demand_forecast "
            "GROUP BY series_level ORDER BY series_level"
        )
        assert cur.fetchall() == [("product", 30, "1997-05-31"), ("total", 30, "1997-05-31")]
    skipped = dict(ln.split(" not trained: ") for ln in result.stderr.splitlines() if " not trained: " in ln)
    assert skipped == {
        "recommender_model": "no product ids: the catalog holds 1 product(s) before 1997-05-04 (a log "
        "without a product column is one product 'unknown'): nothing to recommend",
        "purchase_model": "the purchase model's time-ordered validation needs two training cutoffs, got 1: "
        "load more history",
        "clv_model": "the warehouse holds 1997-01-01 .. 1997-05-31: too short for a 365-day holdout after "
        "180 days of history or a 180-day holdout after 120 days of history or a 90-day holdout after 90 "
        "days of history",
    }
    causal = "causal estimates not computed: no campaign in the warehouse (warehouse.dim_campaign is empty): no causal report"
    assert causal in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert "churn scores: 2,357 customers as of 1997-06-01 by v1" in result.stdout.splitlines()

    report = ecomm("evaluate", "--report", env=env)

    assert report.returncode == 0, report.stderr[-3000:]
    assert report.stdout.splitlines()[0] == (
        "no planted truth (imported data): each model is compared with its baselines only"
    )
    md = (tmp_path / "home" / "reports" / "model_report.md").read_text()
    assert "No planted truth (imported data): each model is compared with its baselines only." in md
    assert "| churn ROC-AUC / oracle ROC-AUC | n/a | >= 0.95 | n/a | no planted truth (imported data) |" in md
    assert "recommender_model\n\nnot registered: run `ecomm train recommender`" in md

    # every dashboard page on it: no exception, error or warning; what the log lacks is 'unknown'
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for page in sorted(p.stem for p in (DASHBOARD / "views").glob("*.py")):
        app = AppTest.from_file(str(DASHBOARD / "app.py"), default_timeout=300).run()
        app.switch_page(f"views/{page}.py").run()
        assert (app.exception, app.error, app.warning) == ([], [], []), page
        if page == "recommendations":  # the customer picked first, known by id only
            assert re.match(r"customer \d+, unknown, signed up ", app.caption[1].value), app.caption[1].value


def test_a_views_only_event_log_trains_the_recommender_and_segments_and_skips_the_rest(
    empty, tmp_path, monkeypatch
):
    """ECOMM_SOURCE=imported with an event log of views only (no purchase, no order, no rating), 378
    days: every model trains or is skipped with its one line. Found here: churn failed with an
    IndexError traceback, and on a log long enough for two cutoffs the purchase model stopped the
    bootstrap with the optimiser's 'needs samples of at least 2 classes'; the models whose label or
    value is an order now say so."""
    views = event_log()
    views = views[views["kind"] == "view"]
    start = views["ts"].min().normalize()
    path = tmp_path / "views.csv"
    views = views.assign(ts=start + (views["ts"] - start) * 3)  # 126 days -> 378
    views.to_csv(path, index=False)
    env = settings_env(
        empty,
        tmp_path / "home",
        source="imported",
        import_kind="interactions",
        import_file=path,
        import_map="user_id=visitor,item_id=item,event=kind,timestamp=ts",
        churn_horizon_days=30,
        churn_trials=1,
    )

    result = bootstrap(env)

    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "error:" not in result.stderr
    assert "377 batch(es): 377 loaded, 0 skipped, 0 rejected" in result.stdout
    trained = [ln.split(":")[0] for ln in result.stdout.splitlines() if ": trained v1 in " in ln]
    assert trained == ["recommender_model", "segment_model"]
    no_orders = (
        f"the warehouse holds {len(views):,} web events but no orders (an event log): this model learns "
        "from orders"
    )
    skipped = dict(ln.split(" not trained: ") for ln in result.stderr.splitlines() if " not trained: " in ln)
    assert skipped == {
        "churn_model": no_orders,
        "purchase_model": no_orders,
        "clv_model": no_orders,
        "demand_forecast_model": "the warehouse holds no order lines: the demand forecast is of units sold",
    }
    from ecomm.ml.training_plan import training_plan

    assert training_plan(empty)["churn"] == {"skipped": no_orders}

    # the dashboard: the order pages say what the log holds, the Recommendations page lists a user
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(str(DASHBOARD / "app.py"), default_timeout=300).run()
    assert [i.value for i in app.info] == [
        f"The imported data has no orders: it holds {len(views):,} events ({len(views):,} views) by 300 "
        f"users of {views['item'].nunique()} items, {views['ts'].min():%d %b %Y} – "
        f"{views['ts'].max():%d %b %Y}. This page shows orders, so it has nothing to show; the "
        "Recommendations page shows what the recommender learnt from the events, and the Models page the "
        "models registered."
    ]
    app.switch_page("views/recommendations.py").run()
    assert (app.exception, app.error, app.warning) == ([], [], [])
    assert app.selectbox(key="rec_customer").options[0].endswith(" events")
    assert len(app.dataframe[1].value) == 10
