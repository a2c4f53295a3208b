"""POST /predict/purchase on the session's trained world (purchase_model v1 is the champion): it scores
users described by their features exactly as GET scores the customers they describe, its documented
example scores, and it refuses malformed bodies naming the field.
"""

from __future__ import annotations

import copy
import json

import mlflow
import pandas as pd
import pytest

from ecomm.api.schemas import PURCHASE_EXAMPLE
from ecomm.ml import registry, tracking
from ecomm.ml.serving import PURCHASE_PROBABILITY

from support.api import assert_error
from support.purchase import active_customers, purchase_api


@pytest.fixture(scope="module")
def api(trained_world):
    return purchase_api(trained_world)


@pytest.fixture(scope="module")
def active(trained_world, api) -> list[int]:
    return active_customers(trained_world, api[1])


def served_model(settings):
    tracking.configure(settings)
    return mlflow.pyfunc.load_model(registry.model_uri(registry.PURCHASE_MODEL, "1")).unwrap_python_model()


def test_post_scores_users_as_get_scores_the_customers_they_describe(api, active):
    client, _ = api
    picked = active[:: len(active) // 5][:5]
    got = {cid: client.get(f"/predict/purchase/{cid}").json() for cid in picked}
    users = [{"user_id": cid, **got[cid]["features"]} for cid in picked]
    response = client.post("/predict/purchase", json={"users": users})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "purchase_model", "version": "1"}
    assert body["threshold"] == 0.5 and body["horizon_days"] == 30
    assert [p["user_id"] for p in body["predictions"]] == picked
    for p in body["predictions"]:
        assert p["purchase_probability"] == pytest.approx(
            got[p["user_id"]]["purchase_probability"], abs=1e-12
        )
        assert p["will_purchase"] is (p["purchase_probability"] >= 0.5)


def test_the_documented_example_scores_with_category_shares_as_zero(trained_world, api):
    client, _ = api
    schema = client.get("/openapi.json").json()["components"]["schemas"]["PurchaseRequest"]
    example = schema["examples"][0]
    assert example == {"users": [PURCHASE_EXAMPLE]}
    response = client.post("/predict/purchase", json=example)
    assert response.status_code == 200, response.text
    model = served_model(trained_world)
    shares = [c for c in model.columns if c.startswith("cat_share_")]
    assert shares  # the example leaves every one out
    frame = pd.DataFrame([{**PURCHASE_EXAMPLE, **dict.fromkeys(shares, 0.0)}])
    direct = float(model.predict(None, frame)[PURCHASE_PROBABILITY].iloc[0])
    [prediction] = response.json()["predictions"]
    assert prediction["user_id"] == 1
    assert prediction["purchase_probability"] == pytest.approx(direct, abs=1e-12)


def mutated(change) -> dict:
    body = {"users": [copy.deepcopy(PURCHASE_EXAMPLE)]}
    change(body)
    return body


BAD_BODIES = {
    "missing feature": (lambda b: b["users"][0].pop("orders_30d"), "users[0].orders_30d", "field required"),
    "unknown field": (lambda b: b["users"][0].update(orders_3od=1), "users[0].orders_3od", "unknown field"),
    "string number": (lambda b: b["users"][0].update(age="35"), "users[0].age", "must be a number or null"),
    "boolean number": (
        lambda b: b["users"][0].update(orders_30d=True),
        "users[0].orders_30d",
        "must be a number or null",
    ),
    "huge number": (
        lambda b: b["users"][0].update(spend_90d=10**400),
        "users[0].spend_90d",
        "must be a finite number",
    ),
    "number category": (
        lambda b: b["users"][0].update(country=1),
        "users[0].country",
        "must be a string or null",
    ),
    "missing user_id": (lambda b: b["users"][0].pop("user_id"), "users[0].user_id", "field required"),
    "user_id zero": (
        lambda b: b["users"][0].update(user_id=0),
        "users[0].user_id",
        "Input should be greater than or equal to 1",
    ),
    "duplicate user": (
        lambda b: b["users"].append(dict(b["users"][0])),
        "users",
        "user_id appears more than once: 1 (users[0], users[1])",
    ),
    "no users": (
        lambda b: b.update(users=[]),
        "users",
        "List should have at least 1 item after validation, not 0",
    ),
    "unknown top-level field": (lambda b: b.update(customers=[]), "customers", "unknown field"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_malformed_body_is_a_422_naming_the_field(api, case):
    client, _ = api
    change, field, message = BAD_BODIES[case]
    body = assert_error(
        client.post("/predict/purchase", json=mutated(change)), 422, "validation_error", field
    )
    assert {"field": field, "message": message} in body["details"]


def test_nan_and_other_media_types_are_refused(api):
    client, _ = api
    text = json.dumps({"users": [PURCHASE_EXAMPLE]}).replace('"age": 35', '"age": NaN')
    nan = client.post("/predict/purchase", content=text, headers={"Content-Type": "application/json"})
    body = assert_error(nan, 422, "validation_error", "users[0].age")
    assert body["details"] == [{"field": "users[0].age", "message": "must be a finite number"}]
    form = client.post("/predict/purchase", content="users=1", headers={"Content-Type": "text/plain"})
    assert_error(form, 415, "unsupported_media_type")
