"""Batch churn scoring into marts.churn_scores (`ecomm predict churn`), on the session's trained world
(a real warehouse and a real MLflow registry with a churn champion)."""

from __future__ import annotations

import datetime as dt
import subprocess
import uuid

import mlflow
import pandas as pd
import pytest

from ecomm import db
from ecomm.features import columns as C
from ecomm.features.churn import churn_features
from ecomm.ml import registry, tracking
from ecomm.ml.churn.scoring import score_with_champion
from ecomm.orchestration.config import settings_env

from support import cli
from support.trained_world import WORLD_AS_OF


def stored(settings) -> pd.DataFrame:
    with db.connection(settings) as conn:
        return db.query_frame(conn, "SELECT * FROM marts.churn_scores ORDER BY customer_id")


def ecomm(settings, *args) -> subprocess.CompletedProcess:
    """`ecomm *args` in this process (support/cli.py) with `settings` as its environment (None unsets)."""
    return cli.ecomm(*args, env=settings_env(settings))


def test_scores_every_buyer_with_the_champion_once_per_load_and_version(trained_world):
    cutoff = WORLD_AS_OF + dt.timedelta(days=1)  # the day after the last loaded business date
    client = tracking.configure(trained_world)
    version = registry.alias_version(client, registry.CHURN_MODEL, registry.CHAMPION)

    first = score_with_champion(trained_world, force=True)

    assert first.stored and first.cutoff == cutoff
    assert (first.model.name, first.model.version) == (registry.CHURN_MODEL, version)
    table = stored(trained_world)
    with db.connection(trained_world) as conn:
        features = churn_features(conn, cutoff)
        buyers = db.query_frame(
            conn,
            """SELECT customer_id FROM warehouse.fact_order_items WHERE order_date < %s
               GROUP BY customer_id HAVING bool_or(warehouse.is_completed_line(status, return_date)) ORDER BY 1""",
            (cutoff,),
        )
    assert first.customers == len(table) == len(buyers)
    assert table["customer_id"].tolist() == buyers["customer_id"].tolist()
    assert set(table["cutoff_date"]) == {cutoff} and set(table["model_version"]) == {version}
    # the probabilities are the champion's own, loaded in this process from the registry
    champion = mlflow.pyfunc.load_model(registry.alias_uri(registry.CHURN_MODEL, registry.CHAMPION))
    full = champion.unwrap_python_model()
    direct = full.full_pipeline.predict_proba(features[full.full_columns])[:, 1]
    assert table["churn_probability"].to_numpy() == pytest.approx(direct, abs=1e-12)
    for column in (C.DAYS_SINCE_LAST_ORDER, C.TOTAL_ORDERS, C.TOTAL_SPENT):
        assert table[column].to_numpy() == pytest.approx(features[column].to_numpy(), abs=1e-9)

    again = score_with_champion(trained_world)

    assert not again.stored and again.customers == first.customers
    assert stored(trained_world)["scored_at"].tolist() == table["scored_at"].tolist()  # not rewritten


def test_predict_churn_command_stores_then_has_nothing_to_do(trained_world):
    with db.connection(trained_world) as conn, conn.cursor() as cur:  # scores of another version
        cur.execute("UPDATE marts.churn_scores SET model_version = 'elsewhere'")
        conn.commit()

    first = ecomm(trained_world, "predict", "churn")
    second = ecomm(trained_world, "predict", "churn")

    assert first.returncode == 0, first.stderr[-2000:]
    customers = len(stored(trained_world))
    version = stored(trained_world)["model_version"].unique().tolist()
    assert version != ["elsewhere"] and len(version) == 1
    assert first.stdout.strip().startswith(
        f"scored {customers:,} customers as of {WORLD_AS_OF + dt.timedelta(days=1)} with churn_model "
        f"v{version[0]} into marts.churn_scores in "
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing to do (--force scores again)" in second.stdout


def test_predict_churn_without_a_champion_is_a_one_line_error(loaded_world):
    empty = loaded_world.model_copy(update={"mlflow_db": f"mlflow_none_{uuid.uuid4().hex[:8]}"})
    before = stored(loaded_world)
    try:
        result = ecomm(empty, "predict", "churn")
    finally:
        db.drop_database(loaded_world, empty.mlflow_db)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "error: churn_model has no champion yet: train one with `ecomm train churn`"
    )
    assert stored(loaded_world).equals(before)  # nothing lost
