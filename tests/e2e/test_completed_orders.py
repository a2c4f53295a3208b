"""One definition of a completed order (warehouse.is_completed_line), everywhere it decides something:
the churn population (features, marts.churn_scores, the API's 422) and the RFM mart's buyers.

A hand-made shop loaded by the real loader, its last business date 2025-03-10 (scoring cutoff 03-11):
  customer 1  two completed orders                         -> a buyer
  customer 2  one order, returned on 03-05                 -> no completed order
  customer 3  one order, cancelled                         -> no completed order
  customer 4  a returned order and a completed one         -> a buyer
  customer 5  one order: one line returned, one kept       -> a buyer
  customer 6  signed up, never ordered                     -> no completed order
Scored by the session's trained churn champion; the API reads this warehouse and that registry.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from ecomm import db
from ecomm.features.churn import churn_features
from ecomm.ml.churn.scoring import score_with_champion
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.run import load_path

from support.api import assert_error, ready_api
from support.batches import customer, fill_days, order_line, product, write_batch

D = {d: date(2025, 3, d) for d in range(1, 11)}
BUYERS = {1, 4, 5}
NOT_BUYERS = {2, 3, 6}


@pytest.fixture(scope="module")
def shop(trained_world, tmp_path_factory):
    """The shop in a new warehouse database beside the trained world's (same server and registry)."""
    name = f"completed_{uuid.uuid4().hex[:8]}"
    settings = trained_world.model_copy(update={"warehouse_db": name})
    migrate(settings)  # creates the database
    root = tmp_path_factory.mktemp("completed") / "raw"
    write_batch(
        root,
        D[1],
        customers=[customer(i) for i in range(1, 7)],
        products=[product(1), product(2)],
        order_items=[
            order_line(101, 1, 1, 1, D[1]),
            order_line(201, 1, 2, 1, D[1]),
            order_line(301, 1, 3, 1, D[1], status="cancelled", delivery_days=""),
            order_line(401, 1, 4, 1, D[1]),
            order_line(501, 1, 5, 1, D[1]),
            order_line(501, 2, 5, 2, D[1]),
        ],
    )
    write_batch(root, D[2], order_items=[order_line(402, 1, 4, 2, D[2])])
    returned = [(201, 1), (401, 1), (501, 2)]
    write_batch(
        root,
        D[5],
        returns=[
            {"order_id": o, "line_no": n, "return_date": D[5], "reason": "damaged"} for o, n in returned
        ],
    )
    # the last business date has an order: the scoring cutoff (last fact + 1) and the API's (last batch
    # + 1) are the same day, 03-11
    write_batch(root, D[10], order_items=[order_line(102, 1, 1, 2, D[10])])
    fill_days(root)  # the days between are days without data
    report = load_path(settings, root)
    assert [b.status for b in report.batches] == ["loaded"] * 10
    yield settings
    db.drop_database(trained_world, name)


def _ids(settings, query: str) -> set[int]:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(query)
        return {row[0] for row in cur.fetchall()}


def test_the_churn_population_is_the_customers_with_a_completed_order(shop):
    with db.connection(shop) as conn:
        today = churn_features(conn, date(2025, 3, 11))
        # before the returns of 03-05 are known, customer 2's order is still a completed one
        before_returns = churn_features(conn, D[5])
    assert set(today["customer_id"]) == BUYERS
    assert set(before_returns["customer_id"]) == BUYERS | {2}


@pytest.fixture(scope="module")
def scoring(shop):
    """The shop's customers scored by the champion into marts.churn_scores (`ecomm predict churn`)."""
    return score_with_champion(shop, force=True)


def test_stored_scores_and_the_rfm_mart_count_the_same_buyers(shop, scoring):
    assert scoring.customers == len(BUYERS)
    assert _ids(shop, "SELECT customer_id FROM marts.churn_scores") == BUYERS
    segments = _ids(shop, "SELECT customer_id FROM marts.customer_360 WHERE rfm_segment <> 'no purchase yet'")
    assert segments == BUYERS
    assert _ids(shop, "SELECT customer_id FROM marts.customer_360 WHERE completed_orders = 0") == NOT_BUYERS


@pytest.fixture(scope="module")
def api(shop, scoring, tmp_path_factory):
    with ready_api(shop, tmp_path_factory) as client:
        client.shop = shop
        yield client


@pytest.mark.parametrize("customer_id", sorted(NOT_BUYERS))
def test_the_api_refuses_to_score_a_customer_without_a_completed_order(api, customer_id):
    body = assert_error(api.get(f"/predict/churn/{customer_id}"), 422, "not_scorable")
    assert body["message"] == (
        f"customer {customer_id} has no completed order (one not cancelled or returned) before 2025-03-11; "
        "churn is defined for customers who bought"
    )


@pytest.mark.parametrize("customer_id", sorted(BUYERS))
def test_the_api_scores_every_buyer(api, customer_id):
    response = api.get(f"/predict/churn/{customer_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == customer_id
    # the full head, as in the stored scores (the shop's catalog has fewer categories than the model)
    assert "sessions_30d" in body["features"]
    with db.connection(api.shop) as conn, conn.cursor() as cur:
        cur.execute("SELECT churn_probability FROM marts.churn_scores WHERE customer_id = %s", (customer_id,))
        assert body["churn_probability"] == pytest.approx(cur.fetchone()[0], abs=1e-9)


def test_an_unknown_customer_is_still_404(api):
    assert_error(api.get("/predict/churn/99"), 404, "not_found")
