"""The served recommender trained on an imported rating log: part of MovieLens 100K (the real log
`make realdata` installs) written as a user's CSV, imported by `ecomm import interactions`'s code
(ratings become reviews of no known order), trained by `ecomm train recommender`'s code into a real
MLflow store, evaluated and served. The ratings take the order lines' place: the holdout's relevant
items are products a customer rated there and had not rated before, and a served list never holds a
product the customer rated before training ended."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.features.churn import FeatureError
from ecomm.imports import interactions
from ecomm.imports.run import import_interactions
from ecomm.imports.values import parse_mapping
from ecomm.ml import registry, tracking
from ecomm.ml.comparison import champion_row
from ecomm.ml.recommend import evaluate as rec_ev
from ecomm.ml.recommend.real_logs import load_real_log
from ecomm.ml.recommend.train import RecConfig, train_recommender

from support.cli import ecomm
from support.empty_world import empty_world
from support.servers import settings_env

USERS = 300  # MovieLens users 1..300: 31,468 ratings, 1997-09-20 .. 1998-04-22
MAPPING = "user_id=user_id,item_id=item_id,rating=rating,timestamp=timestamp"
GENERATORS = ("als", "item_knn", "item_knn_bm25", "recent_popular", "popular", "category")
# the training run's rows: no oracle (an imported log has no planted truth)
ROWS = {rec_ev.MODEL, *GENERATORS, "item_knn_tuned", rec_ev.POPULARITY, rec_ev.POPULARITY_ALL}

DASHBOARD = Path(__file__).resolve().parents[2] / "streamlit" / "app.py"


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> pd.DataFrame:
    """The slice as its rows (user_id, item_id, rating, timestamp) and, written beside, its CSV."""
    frame = load_real_log("movielens_100k")
    frame = frame[frame["user_id"] <= USERS].reset_index(drop=True)
    frame.attrs["csv"] = tmp_path_factory.mktemp("ratings") / "ratings.csv"
    written = frame.assign(
        timestamp=frame["timestamp"].astype("int64") // 10**9, rating=frame["rating"].astype(int)
    )
    written.to_csv(frame.attrs["csv"], index=False)
    return frame


@pytest.fixture(scope="module")
def world(template_warehouse, log, tmp_path_factory):
    """A warehouse holding only the imported ratings, and an empty MLflow database."""
    with empty_world(template_warehouse, "rl") as settings:
        mapping = parse_mapping(MAPPING, interactions.REQUIRED, interactions.OPTIONAL)
        out = tmp_path_factory.mktemp("batches")
        report = import_interactions(settings, log.attrs["csv"], mapping, out=out)
        assert report.load.ok and report.imported["reviews"] == len(log)
        yield settings


@pytest.fixture(scope="module")
def rec_run(world):
    return train_recommender(world, RecConfig.from_settings(world, n_trials=2))


def holdout_from_the_log(log: pd.DataFrame) -> tuple[pd.Timestamp, dict[int, set[int]], set[tuple[int, int]]]:
    """The split worked out from the source rows alone: the holdout is the last 28 days of the log;
    relevant: per customer, the products rated in it that were rated by someone before it and not by
    them; and the (customer, product) pairs rated before it."""
    train_end = log["timestamp"].max().normalize() - timedelta(days=27)
    before, after = log[log["timestamp"] < train_end], log[log["timestamp"] >= train_end]
    seen = set(zip(before["user_id"], before["item_id"], strict=True))
    catalog = set(before["item_id"])
    relevant: dict[int, set[int]] = {}
    for user, item in zip(after["user_id"], after["item_id"], strict=True):
        if item in catalog and (user, item) not in seen:
            relevant.setdefault(int(user), set()).add(int(item))
    return train_end, relevant, seen


def test_the_recommender_trains_on_the_ratings_and_beats_whole_window_popularity(rec_run, world, log):
    train_end, relevant, _ = holdout_from_the_log(log)
    assert rec_run.split["train_end"] == train_end.date().isoformat() == "1998-03-26"
    assert rec_run.split["interactions"] == "imported ratings"
    assert rec_run.version == "1" and rec_run.gate.promoted
    rows = rec_run.metrics
    assert set(rows) == ROWS
    # every customer who rated a product new to them in the holdout is scored, and only those
    assert {row["users"] for row in rows.values()} == {len(relevant)}
    model, pop, pop_all = (rows[k] for k in (rec_ev.MODEL, rec_ev.POPULARITY, rec_ev.POPULARITY_ALL))
    # The comparisons asserted (this slice, seed 7; measured 2026-12-07): NDCG@10 above popularity over
    # the whole training window (0.388 against 0.309), over all holdout customers and over those the
    # model knows; on the known ones above the tuned item-kNN (which lists nothing for new customers).
    # Not asserted: the shop's 56-day popularity, level with the model on this slice's 30 known
    # customers (0.400 against 0.388 here, 0.400 against 0.398 with seed 42); on the whole log the
    # model leads it 1.06x (README "Your own data").
    assert model["ndcg_at_10"] > pop_all["ndcg_at_10"] + 0.03
    assert model["warm_ndcg_at_10"] > pop_all["warm_ndcg_at_10"]
    assert model["warm_ndcg_at_10"] > rows["item_knn_tuned"]["warm_ndcg_at_10"]
    # new customers are served the cold-start popularity of the last 56 days: the baseline's lists
    assert model["cold_ndcg_at_10"] == pytest.approx(pop["cold_ndcg_at_10"], abs=0.01)
    metrics = tracking.configure(world).get_run(rec_run.run_id).data.metrics
    assert metrics["ndcg_to_popularity"] == pytest.approx(model["ndcg_at_10"] / pop["ndcg_at_10"])
    assert "ndcg_to_oracle" not in metrics


def test_served_lists_leave_out_what_the_customer_rated(rec_run, world, log):
    """Every known customer's 100 served products are distinct and none was rated by them before the
    holdout (the pairs read from the source CSV's rows, not from the warehouse)."""
    import mlflow

    tracking.configure(world)
    model = mlflow.pyfunc.load_model(registry.model_uri(registry.RECOMMENDER_MODEL, "1"))
    _, _, seen = holdout_from_the_log(log)
    known = model.unwrap_python_model().state["user_ids"]
    assert len(known) == log.loc[log["timestamp"] < pd.Timestamp("1998-03-26"), "user_id"].nunique()
    out = model.predict(pd.DataFrame({"customer_id": known, "k": 100}))
    assert out.groupby("customer_id")["product_id"].nunique().eq(100).all()
    assert out.groupby("customer_id")["source"].first().eq("reranked").all()
    pairs = set(zip(out["customer_id"], out["product_id"], strict=True))
    assert not pairs & seen
    assert (out.groupby("customer_id")["score"].diff().dropna() <= 0).all()


def test_the_api_serves_the_ratings_model(rec_run, world, log):
    from fastapi.testclient import TestClient

    from ecomm.api.app import NOT_TRAINED_ON_IMPORTED, create_app
    from ecomm.api.model_store import ModelStore

    store = ModelStore(world)
    assert store.refresh()[registry.RECOMMENDER_MODEL] == "loaded v1"
    client = TestClient(create_app(world, store=store))
    _, _, seen = holdout_from_the_log(log)
    user = int(log["user_id"].value_counts().index[0])  # the customer with the most ratings
    body = client.get(f"/recommendations/{user}", params={"k": 10}).json()
    assert body["model"] == {"name": registry.RECOMMENDER_MODEL, "version": "1"} and not body["cold_start"]
    items = [i["product_id"] for i in body["items"]]
    assert len(set(items)) == 10 and not {(user, i) for i in items} & seen
    assert {i["source"] for i in body["items"]} == {"reranked"}
    # a product is known by the log's item id only: its name, no price or category (not invented)
    assert all(
        (i["name"], i["price"], i["category"]) == (str(i["product_id"]), None, None) for i in body["items"]
    )
    new = client.get(f"/recommendations/{USERS + 1}").json()  # not in the imported slice
    assert new["cold_start"] and len(new["items"]) == 10
    # churn cannot train on a rating log: on imported data that does not hold readiness back (make
    # up waits for /ready), on the simulated shop a missing champion does
    imported = TestClient(create_app(world.model_copy(update={"source": "imported"}), store=store))
    ready = imported.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"][registry.CHURN_MODEL] == NOT_TRAINED_ON_IMPORTED
    assert ready.json()["checks"][registry.RECOMMENDER_MODEL] == "v1"
    shop = client.get("/ready")
    assert shop.status_code == 503
    assert shop.json()["checks"][registry.CHURN_MODEL].startswith("not loaded: churn_model has no champion")


def test_evaluate_scores_the_champion_without_truth(rec_run, world, log):
    from ecomm.ml.report import NO_TRUTH, compare_recommender, evaluate

    _, relevant, _ = holdout_from_the_log(log)
    comparison = compare_recommender(world, tracking.configure(world))
    assert comparison.holdout == f"1998-03-26 .. 1998-04-22, {len(relevant)} customers with new ratings"
    assert set(comparison.rows) == {"champion v1 = challenger", rec_ev.POPULARITY, rec_ev.POPULARITY_ALL}
    # the registered model scored afresh on the same holdout gives the training run's figure
    assert champion_row(comparison)["ndcg_at_10"] == pytest.approx(
        rec_run.metrics[rec_ev.MODEL]["ndcg_at_10"]
    )
    targets = {t.name: t for t in evaluate(world).targets}
    assert targets["recommender NDCG@10 / oracle"].detail == NO_TRUTH
    assert np.isfinite(targets["recommender NDCG@10 / popularity"].observed)


def test_the_other_models_say_why_they_skip_and_the_plan_names_the_recommender(world, log):
    from ecomm.ml.training_plan import training_plan

    plan = training_plan(world)
    assert plan["recommender"]["train_end"] == "1998-03-26"
    assert plan["churn"] == {
        "skipped": f"the warehouse holds {len(log):,} ratings but no orders or web events (a rating log): "
        "this model learns from orders and web events"
    }
    from ecomm.ml.churn.train import ChurnConfig, train_churn

    with pytest.raises(FeatureError, match="ratings but no orders or web events"):
        train_churn(world, ChurnConfig.from_settings(world))


def test_the_monitored_population_is_the_customers_who_rated_lately(rec_run, world, log):
    """Model drift's population of a rating log: the customers with a rating in the 4 weeks before the
    cutoff, each with the number of distinct products they rated before it (from the source rows)."""
    import mlflow

    from ecomm.monitoring import recommender

    cutoff = pd.Timestamp("1998-03-26")
    day = log["timestamp"].dt.normalize()
    before = log[day < cutoff]
    lately = set(before.loc[day[day < cutoff] >= cutoff - timedelta(days=28), "user_id"])
    tracking.configure(world)
    model = mlflow.pyfunc.load_model(
        registry.model_uri(registry.RECOMMENDER_MODEL, "1")
    ).unwrap_python_model()
    with db.connection(world) as conn:
        buyers = recommender.recent_buyers(conn, cutoff.date())
        features, score = recommender.recommendation_population(model, conn, cutoff.date())
    assert set(buyers["customer_id"]) == lately and len(lately) > 0
    history = before[before["user_id"].isin(lately)].groupby("user_id")["item_id"].nunique()
    assert buyers.set_index("customer_id")["history_items"].astype(int).to_dict() == history.to_dict()
    assert len(features) == len(score) == len(lately) and features["known_customer"].all()


def test_the_commands_train_the_recommender_and_skip_churn_in_one_line(rec_run, world, log):
    """`ecomm train recommender` (last here: it registers v2) trains on the ratings and goes through
    the promotion gate against v1; `ecomm train churn` is one line and exit 1."""
    env = settings_env(world, COLUMNS="200")  # the world's settings, seed 7 included
    churn = ecomm("train", "churn", env=env)
    assert (churn.returncode, churn.stderr.strip()) == (
        1,
        f"error: the warehouse holds {len(log):,} ratings but no orders or web events (a rating log): this "
        "model learns from orders and web events",
    )
    # a new process, as a user runs it: in the full suite's worker this table printed in-process came
    # out squeezed to about 80 columns (support.cli now sizes the consoles; the process is the sure way)
    result = subprocess.run(
        [sys.executable, "-m", "ecomm.ml.cli", "train", "recommender", "--trials", "1"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    assert "trained before 1998-03-26; holdout 1998-03-26 .. 1998-04-22" in result.stdout
    assert "popularity_all" in result.stdout and "oracle" not in result.stdout, result.stdout
    gate = next(
        line for line in result.stdout.splitlines() if line.startswith("recommender_model v2: challenger")
    )
    champion = registry.aliases(tracking.configure(world), registry.RECOMMENDER_MODEL)["champion"]
    assert ("promoted to champion" in gate) == (champion == "2")


def holds(log: pd.DataFrame) -> str:
    """What the log holds in the dashboard's words, worked out from the source rows."""
    return (
        f"{len(log):,} ratings by {log['user_id'].nunique():,} users of {log['item_id'].nunique():,} items, "
        "20 Sep 1997 – 22 Apr 1998"
    )


def no_orders_message(log: pd.DataFrame) -> str:
    """What the order-based pages say."""
    return (
        f"The imported data has no orders: it holds {holds(log)}. This page shows orders, so it has nothing "
        "to show; the Recommendations page shows what the recommender learnt from the ratings, and the "
        "Models page the models registered."
    )


def test_every_dashboard_page_shows_the_imported_log(rec_run, world, log, monkeypatch):
    """A rating log has no orders: the dashboard shows its dates (from the ratings), never 'the
    warehouse is empty', no page fails on the missing orders, and each page that shows orders says
    what the log holds instead of zero tiles and empty charts."""
    from streamlit.testing.v1 import AppTest

    from ecomm.dashboard.pages import PAGES

    from support.env import use_settings_env

    use_settings_env(monkeypatch, world)
    monkeypatch.setenv("ECOMM_SOURCE", "imported")  # as make up runs it on a user's log
    app = AppTest.from_file(str(DASHBOARD), default_timeout=300).run()
    needs_orders = set()
    for page, title, _ in PAGES:
        if page != PAGES[0][0]:
            app.switch_page(f"views/{page}.py").run()
        assert not app.exception, (page, [e.value for e in app.exception])
        assert app.title[0].value == title
        header = app.caption[0].value
        assert "Data last loaded" in header and "20 Sep 1997 – 22 Apr 1998" in header, (page, header)
        if app.info and app.info[0].value.startswith("The imported data has no orders"):
            needs_orders.add(page)
            assert [i.value for i in app.info] == [no_orders_message(log)], page
            assert not app.metric and not app.get("plotly_chart") and not app.dataframe, page
        if page == "segments":  # nothing a segment is made of: it says so, not "run ecomm train segments"
            assert [i.value for i in app.info] == [
                "No segments: a segment is of a customer's orders and web sessions, and the imported data "
                f"holds neither (it holds {holds(log)}), so `ecomm train segments` skips it."
            ]
        if page == "models":  # the recommender has a version; the others say the data could not train them
            assert [i.value for i in app.info] == [
                f"No version registered: not trained on the imported data (the bootstrap skipped it; "
                f"`ecomm train {command}` says why in one line)."
                for command in ("churn", "segments", "purchase", "clv", "forecast")
            ]
    assert needs_orders == {"overview", "sales", "customers", "churn_risk", "demand", "campaigns"}


def test_the_recommendations_page_picks_users_by_their_ratings(rec_run, world, log, monkeypatch):
    """No orders: the users to pick are those with the most ratings in the date range (the last 90
    days by default), and a picked user's history is their ratings and their list the champion's,
    none of it a product they rated before training ended."""
    from streamlit.testing.v1 import AppTest

    from support.env import use_settings_env

    use_settings_env(monkeypatch, world)
    app = AppTest.from_file(str(DASHBOARD), default_timeout=300).run()
    app.switch_page("views/recommendations.py").run()
    assert not app.exception, [e.value for e in app.exception]
    day = log["timestamp"].dt.normalize()
    in_range = log[day >= pd.Timestamp("1998-04-22") - timedelta(days=89)]
    counts = in_range.groupby("user_id").size().reset_index(name="n")
    counts = counts.sort_values(["n", "user_id"], ascending=[False, True])
    picker = app.selectbox(key="rec_customer")
    top = int(counts["user_id"].iloc[0])
    known = set(log.loc[log["timestamp"] < pd.Timestamp("1998-03-26"), "user_id"])  # before training ended
    # the top user and the first of the other kind: one the model knows, one new to it (cold start)
    second = int(next(u for u in counts["user_id"] if (u in known) != (top in known)))
    assert picker.value == top
    assert picker.options[0] == f"#{top} customer {top} (unknown) · {counts['n'].iloc[0]:,} ratings"
    assert len(picker.options) == min(len(counts), 300)
    _, _, seen = holdout_from_the_log(log)
    for user in (top, second):
        if user != top:
            app.selectbox(key="rec_customer").set_value(user).run()
            assert not app.exception, [e.value for e in app.exception]
        rated = log[log["user_id"] == user]
        history, recommended = app.dataframe[0].value, app.dataframe[1].value
        assert len(history) == len(rated) and set(history["product_id"]) == set(rated["item_id"])
        first = rated["timestamp"].min()
        captions = [c.value for c in app.caption]
        assert (
            f"customer {user}, unknown, first seen {first:%d %b %Y} · {len(rated):,} ratings "
            f"(average {rated['rating'].mean():.2f})"
        ) in captions, captions
        items = [int(i) for i in recommended["product_id"]]
        assert recommended["rank"].tolist() == list(range(1, 11)) and len(set(items)) == 10
        assert not {(user, i) for i in items} & seen
        if user in known:
            assert set(recommended["source"]) == {"personal (re-ranked)"}
            assert any(c.endswith("; products the customer rated are left out.") for c in captions), captions
        else:
            assert set(recommended["source"]) == {"cold start: popular in the whole shop"}
            assert app.info[-1].value.startswith(
                f"Cold start: customer #{user} is unknown to `recommender_model`"
            )


def test_in_chromium_the_pages_say_no_orders_and_recommendations_list_a_user(rec_run, world, log, tmp_path):
    """The platform's dashboard service on the imported slice, in headless chromium: the Overview says
    what the log holds, the Recommendations page draws the picked user's history and list (two tables),
    and no page shows a Streamlit error."""
    from ecomm.platform.supervisor import free_port

    from support import browser

    settings = world.model_copy(update={"streamlit_port": free_port()})
    with browser.serving(settings, tmp_path / "streamlit.log") as url, browser.open_browser() as page:
        browser.render(page, url + "/", "Overview")
        assert browser.errors(page) == []
        assert page.get_by_text(no_orders_message(log)).count() == 1
        browser.render(page, url + "/recommendations", "Recommendations")
        assert browser.errors(page) == []
        assert (
            page.get_by_text("The imported data has no orders: the users with the most ratings").count() == 1
        )
        page.get_by_test_id("stDataFrame").nth(1).wait_for(timeout=120_000)
        assert page.get_by_test_id("stDataFrame").count() == 2
        rated = "products the customer rated are left out"
        assert page.get_by_text(rated).count() + page.get_by_text("Cold start: customer #").count() == 1
        browser.screenshot(page, browser_artifacts() / "imported_recommendations.png")


def browser_artifacts() -> Path:
    return Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
