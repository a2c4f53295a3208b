"""Batch purchase scoring into marts.purchase_scores (`ecomm predict purchase`), on the session's
trained world (purchase_model v1 is the champion): every active customer is stored with the served
model's prediction, a second scoring of the same load and version has nothing to do, and without a
champion the command says which one to run."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from ecomm import db
from ecomm.ml import registry
from ecomm.ml.purchase.scoring import score_with_champion
from ecomm.orchestration.config import settings_env

from support.cli import ecomm
from support.purchase import active_customers, purchase_api


def stored(settings):
    with db.connection(settings) as conn:
        return db.query_frame(conn, "SELECT * FROM marts.purchase_scores ORDER BY customer_id")


def test_stored_scores_are_the_served_predictions_of_every_active_customer(trained_world):
    client, as_of = purchase_api(trained_world)
    active = active_customers(trained_world, as_of)
    first = score_with_champion(trained_world, force=True)
    assert first.stored and first.cutoff == as_of and first.customers == len(active)
    assert (first.model.name, first.model.version) == (registry.PURCHASE_MODEL, "1")
    again = score_with_champion(trained_world)
    assert not again.stored and again.customers == len(active)
    table = stored(trained_world)
    assert table["customer_id"].tolist() == active
    assert set(table["cutoff_date"]) == {as_of} and set(table["model_version"]) == {"1"}
    assert set(table["horizon_days"]) == {30}
    by_customer = table.set_index("customer_id")["purchase_probability"]
    for cid in active[:: len(active) // 8][:8]:
        served = client.get(f"/predict/purchase/{cid}").json()
        assert served["as_of"] == as_of.isoformat()
        assert by_customer[cid] == pytest.approx(served["purchase_probability"], abs=1e-12)


def test_predict_purchase_command_stores_then_has_nothing_to_do(trained_world):
    with db.connection(trained_world) as conn, conn.cursor() as cur:  # another load's scores
        cur.execute("UPDATE marts.purchase_scores SET cutoff_date = cutoff_date - 1")
        conn.commit()
    env = settings_env(trained_world)  # None: unset, as CliRunner reads it

    first = ecomm("predict", "purchase", env=env)
    second = ecomm("predict", "purchase", env=env)

    assert first.returncode == 0, first.stderr[-2000:]
    table = stored(trained_world)
    cutoff = table["cutoff_date"].unique().tolist()
    assert len(cutoff) == 1 and isinstance(cutoff[0], dt.date)
    assert first.stdout.strip().startswith(
        f"scored {len(table):,} customers as of {cutoff[0]} with purchase_model v1 into "
        "marts.purchase_scores in "
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing to do (--force scores again)" in second.stdout


def test_predict_purchase_without_a_champion_is_a_one_line_error(loaded_world):
    empty = loaded_world.model_copy(update={"mlflow_db": f"mlflow_none_{uuid.uuid4().hex[:8]}"})
    env = settings_env(empty)
    try:
        result = ecomm("predict", "purchase", env=env)
    finally:
        db.drop_database(loaded_world, empty.mlflow_db)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: purchase_model has no champion yet: train one with `ecomm train purchase`"
    )
