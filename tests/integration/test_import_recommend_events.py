"""The served recommender trained on an imported event log: a generated log of views, carts and
purchases (no order line, no rating) written as a user's CSV, imported by `ecomm import interactions`
and trained by `ecomm train recommender`'s code into a real MLflow store. The purchase events take the
order lines' place (the re-ranker's target, what a list leaves out, what popularity counts); views
and carts weigh as in the shop. And a log without a purchase: every event takes that place."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from ecomm import db
from ecomm.ml import registry, tracking
from ecomm.ml.recommend import evaluate as rec_ev
from ecomm.ml.recommend.dataset import EVENT_TYPES, EVENTS, event_log_choices, load_rec_data
from ecomm.ml.recommend.train import RecConfig, train_recommender

from support.cli import ecomm
from support.empty_world import empty_world
from support.event_logs import event_log
from support.servers import settings_env

MAPPING = "user_id=visitor,item_id=item,event=kind,timestamp=ts"
GENERATORS = ("als", "item_knn", "item_knn_bm25", "recent_popular", "popular", "category")
ROWS = {rec_ev.MODEL, *GENERATORS, "item_knn_tuned", rec_ev.POPULARITY, rec_ev.POPULARITY_ALL}


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> pd.DataFrame:
    frame = event_log()
    frame.attrs["csv"] = tmp_path_factory.mktemp("events") / "events.csv"
    frame.to_csv(frame.attrs["csv"], index=False)
    return frame


@pytest.fixture(scope="module")
def world(template_warehouse, log, tmp_path_factory):
    """A warehouse holding only the imported events (through the command), and an empty MLflow database."""
    with empty_world(template_warehouse, "ev") as settings:
        result = ecomm(
            "import", "interactions", str(log.attrs["csv"]), "--map", MAPPING, env=settings_env(settings)
        )
        assert result.returncode == 0, result.stderr
        with db.connection(settings) as conn:
            loaded = db.query_frame(conn, "SELECT count(*) AS n FROM warehouse.fact_web_events").iloc[0, 0]
        assert loaded == len(log), result.stdout
        yield settings


@pytest.fixture(scope="module")
def rec_run(world):
    return train_recommender(world, RecConfig.from_settings(world, n_trials=1))


def split_of_the_log(log: pd.DataFrame):
    """From the source rows alone: train_end (the last 28 days are the holdout), per customer the
    items bought in the holdout that someone bought before it and they had not, and the (visitor,
    item) pairs bought before it."""
    ts = pd.to_datetime(log["ts"])
    train_end = ts.max().normalize() - timedelta(days=27)
    bought, bought_ts = log[log["kind"] == "transaction"], ts[log["kind"] == "transaction"]
    before, after = bought[bought_ts < train_end], bought[bought_ts >= train_end]
    seen = set(zip(before["visitor"], before["item"], strict=True))
    catalog = set(log.loc[ts < train_end, "item"])  # a product is launched at its first event
    relevant: dict[str, set[str]] = {}
    for user, item in zip(after["visitor"], after["item"], strict=True):
        if item in catalog and (user, item) not in seen:
            relevant.setdefault(user, set()).add(item)
    return train_end, relevant, seen


def test_the_recommender_trains_on_the_purchase_events_and_beats_whole_window_popularity(rec_run, log):
    train_end, relevant, _ = split_of_the_log(log)
    assert rec_run.split["train_end"] == train_end.date().isoformat()
    assert rec_run.split["interactions"] == "imported events, purchases as orders"
    assert rec_run.params["target_events"] == rec_run.params["exclude_events"] == "('purchase',)"
    assert rec_run.version == "1" and rec_run.gate.promoted
    rows = rec_run.metrics
    assert set(rows) == ROWS  # no oracle: an imported log has no truth
    assert {row["users"] for row in rows.values()} == {len(relevant)}
    model, pop_all = rows[rec_ev.MODEL], rows[rec_ev.POPULARITY_ALL]
    # Measured (seed 7, log seed 3, 2026-12-07; 170 holdout customers, all known): NDCG@10 0.443
    # against 0.155 for whole-window popularity and 0.148 for the last 56 days'. Not asserted: the
    # tuned item-kNN, 0.484 here (a log whose taste is nothing but item groups is item-kNN's best
    # case; README "Your own data").
    assert model["ndcg_at_10"] > pop_all["ndcg_at_10"] * 2
    assert model["ndcg_at_10"] > rows[rec_ev.POPULARITY]["ndcg_at_10"] * 2
    assert rows["item_knn_tuned"]["ndcg_at_10"] > 0


def test_served_lists_leave_out_what_the_customer_bought_not_what_they_viewed(rec_run, world, log):
    """Every known customer's 50 served products are distinct and none was bought by them before the
    holdout (pairs read from the CSV's rows: the log's ids are positive integers, kept as the
    customer and product ids); products they only viewed or carted stay recommendable."""
    import mlflow

    tracking.configure(world)
    model = mlflow.pyfunc.load_model(registry.model_uri(registry.RECOMMENDER_MODEL, "1"))
    train_end, _, seen = split_of_the_log(log)
    before = log[pd.to_datetime(log["ts"]) < train_end]
    known = model.unwrap_python_model().state["user_ids"]
    assert set(known) == set(before["visitor"])
    out = model.predict(pd.DataFrame({"customer_id": known, "k": 50}))
    assert out.groupby("customer_id")["product_id"].nunique().eq(50).all()
    served = set(zip(out["customer_id"], out["product_id"], strict=True))
    assert not served & seen
    viewed_only = set(zip(before["visitor"], before["item"], strict=True)) - seen
    assert served & viewed_only


def test_a_log_without_purchases_takes_every_event_as_the_choice(warehouse, tmp_path):
    """A log of views and carts only: every event is what was "bought" (excluded, the target); split
    here with a 1-day holdout (a 3-day log imports in seconds)."""
    log = tmp_path / "views.csv"
    rows = ["visitor,item,kind,ts"] + [
        f"v{u},sku{i},{kind},{day}"
        for u, i, kind, day in [
            (1, 1, "view", "2024-01-02 10:00:00"),
            (1, 2, "addtocart", "2024-01-02 10:05:00"),
            (2, 1, "view", "2024-01-03 09:00:00"),
            (2, 3, "view", "2024-01-04 09:00:00"),
            (1, 3, "view", "2024-01-04 09:30:00"),
        ]
    ]
    log.write_text("\n".join(rows) + "\n")
    result = ecomm("import", "interactions", str(log), "--map", MAPPING, env=settings_env(warehouse))
    assert result.returncode == 0, result.stderr
    with db.connection(warehouse) as conn:
        assert event_log_choices(conn) == EVENT_TYPES
        data = load_rec_data(conn, holdout_days=1)
    assert data.source == EVENTS
    assert (
        data.describe()["interactions"]
        == "imported events, every event as an order (the log holds no purchase)"
    )
    assert (data.bought["lines"].sum(), data.holdout_bought["lines"].sum()) == (3, 2)
    assert data.chose == "had an event on" and data.train_end.isoformat() == "2024-01-04"


def test_evaluate_scores_the_champion_against_both_popularities(rec_run, world, log):
    from ecomm.ml.comparison import champion_row
    from ecomm.ml.report import compare_recommender

    train_end, relevant, _ = split_of_the_log(log)
    comparison = compare_recommender(world, tracking.configure(world))
    last = (train_end + timedelta(days=27)).date().isoformat()
    assert comparison.holdout == f"{train_end.date()} .. {last}, {len(relevant)} customers with new purchases"
    assert set(comparison.rows) == {"champion v1 = challenger", rec_ev.POPULARITY, rec_ev.POPULARITY_ALL}
    assert champion_row(comparison)["ndcg_at_10"] == pytest.approx(
        rec_run.metrics[rec_ev.MODEL]["ndcg_at_10"]
    )


def test_the_monitored_population_is_the_customers_who_bought_lately(world, log):
    """Model drift's population of an event log: the customers with a purchase event in the 4 weeks
    before the cutoff, with the number of distinct products they bought before it (from the CSV)."""
    from ecomm.monitoring import recommender

    cutoff, _, _ = split_of_the_log(log)
    ts = pd.to_datetime(log["ts"]).dt.normalize()
    bought = log[(log["kind"] == "transaction") & (ts < cutoff)]
    lately = set(bought.loc[ts[bought.index] >= cutoff - timedelta(days=28), "visitor"])
    with db.connection(world) as conn:
        buyers = recommender.recent_buyers(conn, cutoff.date())
    assert set(buyers["customer_id"]) == lately and len(lately) > 0
    history = bought[bought["visitor"].isin(lately)].groupby("visitor")["item"].nunique()
    assert buyers.set_index("customer_id")["history_items"].astype(int).to_dict() == history.to_dict()
