"""The prediction API served by real uvicorn (`ecomm serve api`) on a free port, reading the session's
trained world: a real warehouse and a real MLflow registry with churn_model v1 and recommender_model v1
as champions. The README's curl commands, the contract, every bad input, Prometheus, schemathesis."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ecomm import db

from support.api import SEED_USER, assert_error, ready_api

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(trained_world, tmp_path_factory):
    with ready_api(trained_world, tmp_path_factory) as client:
        yield client


@pytest.fixture(scope="module")
def customers(trained_world) -> dict[str, int]:
    """A buyer, a customer with no completed order, and an id the warehouse does not have."""
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT min(c.customer_id) FILTER (WHERE o.n > 0), min(c.customer_id) FILTER (WHERE o.n IS NULL),
                      max(c.customer_id) + 1000
               FROM warehouse.dim_customer c
               LEFT JOIN (SELECT customer_id, count(*) AS n FROM warehouse.fact_order_items
                          WHERE warehouse.is_completed_line(status, return_date) GROUP BY 1) o
                      USING (customer_id)"""
        )
        buyer, no_orders, unknown = cur.fetchone()
    return {"buyer": buyer, "no_orders": no_orders, "unknown": unknown}


# ------------------------------------------------------------------------------------------ README
def readme_curls() -> list[str]:
    """The curl lines of the README's API examples block (between the api-examples markers)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"<!-- api-examples -->(.*?)<!-- /api-examples -->", text, re.S).group(1)
    return [line for line in block.splitlines() if line.startswith("curl ")]


def test_the_readme_curl_commands_work_as_written(api):
    commands = readme_curls()
    assert len(commands) >= 7
    for command in commands:
        assert "localhost:8000" in command
        argv = shlex.split(command.replace("localhost:8000", api.base.removeprefix("http://")))
        argv[1:1] = ["--fail-with-body", "--show-error"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        if "/metrics" in command:
            assert (
                'ecomm_api_requests_total{method="POST",route="/predict/churn",status="200"}' in done.stdout
            )
            continue
        body = json.loads(done.stdout)
        if "/predict/" in command or "/recommend" in command:
            assert set(body["model"]) == {"name", "version"} and body["model"]["version"] == "1"


# -------------------------------------------------------------------------------------- the contract
def test_churn_accepts_the_seed_body_verbatim(api):
    response = api.post("/predict/churn", json={"users": [SEED_USER]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "churn_model", "version": "1"}
    assert body["threshold"] == 0.5
    [prediction] = body["predictions"]
    assert prediction["user_id"] == 1
    assert 0.0 < prediction["churn_probability"] < 1.0
    assert prediction["will_churn"] == (prediction["churn_probability"] >= 0.5)


def test_churn_of_the_seed_body_depends_on_every_field_it_sends(api):
    """The README body with 1 vs 50 orders: the api_fields head is trained on all nine body fields,
    and the answer moves the way the training rows did (the direction the model's metadata records)."""
    churn = {m["name"]: m for m in api.get("/models").json()["models"]}["churn_model"]
    assert churn["metadata"]["heads"]["api_fields"] == [
        "age",
        "country",
        "total_orders",
        "total_spent",
        "days_since_last_order",
        "avg_order_value",
        "customer_duration_days",
        "order_frequency",
        "daily_spend",
    ]
    direction = churn["metadata"]["api_fields_directions"]["total_orders"]
    assert direction in (-1, 1)
    users = [SEED_USER | {"user_id": 1, "total_orders": 1}, SEED_USER | {"user_id": 2, "total_orders": 50}]
    response = api.post("/predict/churn", json={"users": users})
    assert response.status_code == 200, response.text
    one, fifty = (p["churn_probability"] for p in response.json()["predictions"])
    assert direction * (fifty - one) > 0.001, (one, fifty)


def test_churn_scores_a_thousand_users_in_order(api):
    users = [SEED_USER | {"user_id": i, "days_since_last_order": i % 200} for i in range(1, 1001)]
    body = api.post("/predict/churn", json={"users": users}).json()
    assert [p["user_id"] for p in body["predictions"]] == list(range(1, 1001))
    # the same user scored alone gets the same probability as inside the batch
    alone = api.post("/predict/churn", json={"users": [users[17]]}).json()["predictions"][0]
    assert alone["churn_probability"] == pytest.approx(body["predictions"][17]["churn_probability"], abs=1e-7)


def test_churn_of_a_warehouse_customer_uses_the_full_feature_set(api, customers):
    response = api.get(f"/predict/churn/{customers['buyer']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == customers["buyer"]
    assert body["as_of"] == "2025-03-02"  # the day after the last loaded batch (2025-03-01)
    assert body["features"]["days_since_last_order"] >= 0
    assert "sessions_30d" in body["features"] and "age" in body["features"]
    assert body["will_churn"] == (body["churn_probability"] >= body["threshold"])


def test_churn_of_an_unknown_or_orderless_customer_is_a_clear_4xx(api, customers):
    body = assert_error(api.get(f"/predict/churn/{customers['unknown']}"), 404, "not_found")
    assert f"customer {customers['unknown']}" in body["message"]
    body = assert_error(api.get(f"/predict/churn/{customers['no_orders']}"), 422, "not_scorable")
    assert "no completed order" in body["message"]


def test_recommendations_for_a_known_customer(api, customers, trained_world):
    body = api.get(f"/recommendations/{customers['buyer']}", params={"k": 7}).json()
    assert body["model"] == {"name": "recommender_model", "version": "1"}
    assert body["cold_start"] is False
    assert [i["rank"] for i in body["items"]] == list(range(1, 8))
    assert len({i["product_id"] for i in body["items"]}) == 7
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT product_id, product_name, category, list_price::float8 FROM warehouse.dim_product"
        )
        catalog = {pid: (name, cat, price) for pid, name, cat, price in cur.fetchall()}
    for item in body["items"]:
        assert (item["name"], item["category"], item["price"]) == catalog[item["product_id"]]
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert body["items"][0]["source"] == "reranked" and body["items"][0]["cold_start"] is False
    assert {i["source"] for i in body["items"]} <= {"reranked", "reranked_new_item"}


def test_recommendations_leave_out_what_the_customer_bought_before_training_ended(
    api, customers, trained_world
):
    import mlflow

    from ecomm.ml import tracking

    tracking.configure(trained_world)
    info = mlflow.models.get_model_info("models:/recommender_model@champion")
    train_end = info.metadata["train_end"]
    with db.connection(trained_world) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT product_id FROM warehouse.fact_order_items
               WHERE customer_id = %s AND order_date < %s AND warehouse.is_completed_line(status, return_date)""",
            (customers["buyer"], train_end),
        )
        bought = {pid for (pid,) in cur.fetchall()}
    assert bought  # the buyer had bought something before the model's training ended
    body = api.get(f"/recommendations/{customers['buyer']}", params={"k": 100}).json()
    assert len(body["items"]) == 100
    assert not bought & {i["product_id"] for i in body["items"]}


def test_an_unknown_customer_gets_the_labelled_fallback(api, customers):
    body = api.get(f"/recommendations/{customers['unknown']}").json()
    assert body["cold_start"] is True and len(body["items"]) == 10
    assert {i["source"] for i in body["items"]} == {"cold_start_global"}
    post = api.post(
        "/recommend/products", json={"user_id": customers["unknown"], "max_recommendations": 3}
    ).json()
    assert [i["product_id"] for i in post["items"]] == [i["product_id"] for i in body["items"][:3]]


# --------------------------------------------------------------------------- POST /recommendations
def _served_calibration() -> dict:
    import mlflow

    model = mlflow.pyfunc.load_model("models:/recommender_model@champion").unwrap_python_model()
    return model.state["calibration"]


def _catalog(world) -> dict[int, tuple]:
    with db.connection(world) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT product_id, product_name, category, list_price::float8 FROM warehouse.dim_product"
        )
        return {pid: (name, cat, price) for pid, name, cat, price in cur.fetchall()}


def test_post_recommendations_lists_calibrated_explained_items(api, customers, trained_world):
    from ecomm.ml import tracking

    tracking.configure(trained_world)
    curves = _served_calibration()
    body = api.post("/recommendations", json={"user_id": customers["buyer"], "n_items": 7}).json()
    get = api.get(f"/recommendations/{customers['buyer']}", params={"k": 7}).json()
    assert body["model"] == {"name": "recommender_model", "version": "1"}
    assert body["user_id"] == customers["buyer"] and body["cold_start"] is False
    assert [i["product_id"] for i in body["items"]] == [i["product_id"] for i in get["items"]]
    assert [i["rank"] for i in body["items"]] == list(range(1, 8))
    assert {i["source"] for i in body["items"]} <= {"reranked", "reranked_new_item"}
    assert [i["confidence"] for i in body["items"]] == [float(curves["personal"][r]) for r in range(7)]
    assert all(0 <= i["confidence"] <= 1 for i in body["items"])
    names = {name for name, _, _ in _catalog(trained_world).values()}
    for item in body["items"]:
        assert set(item) == {"product_id", "rank", "score", "confidence", "source", "explanation"}
        match = re.fullmatch(r"because you (bought|viewed) (.+)", item["explanation"])
        assert item["explanation"] == "" or (match and match.group(2) in names), item
    assert any(i["explanation"] for i in body["items"])  # a buyer's history explains some items


def test_post_recommendations_include_metadata_adds_the_catalogs_fields(api, customers, trained_world):
    catalog = _catalog(trained_world)
    body = api.post(
        "/recommendations", json={"user_id": customers["buyer"], "n_items": 3, "include_metadata": True}
    ).json()
    assert len(body["items"]) == 3
    for item in body["items"]:
        assert (item["name"], item["category"], item["price"]) == catalog[item["product_id"]]


def test_post_recommendations_min_confidence_filters_items(api, customers):
    full = api.post("/recommendations", json={"user_id": customers["buyer"], "n_items": 100}).json()["items"]
    threshold = sorted({i["confidence"] for i in full})[len({i["confidence"] for i in full}) // 2]
    kept = api.post(
        "/recommendations", json={"user_id": customers["buyer"], "n_items": 100, "min_confidence": threshold}
    ).json()["items"]
    assert kept == [i for i in full if i["confidence"] >= threshold]
    assert 0 < len(kept) < len(full)
    none = api.post(
        "/recommendations", json={"user_id": customers["buyer"], "n_items": 100, "min_confidence": 1}
    ).json()
    assert none["items"] == [] and none["cold_start"] is False


def test_post_recommendations_for_an_unknown_user_is_a_labelled_cold_start(api, customers, trained_world):
    from ecomm.ml import tracking

    tracking.configure(trained_world)
    curves = _served_calibration()
    body = api.post("/recommendations", json={"user_id": customers["unknown"], "n_items": 4}).json()
    assert body["cold_start"] is True and body["user_id"] == customers["unknown"]
    assert [i["source"] for i in body["items"]] == ["cold_start_global"] * 4
    assert [i["explanation"] for i in body["items"]] == ["popular in the shop"] * 4
    assert [i["confidence"] for i in body["items"]] == [float(curves["popular"][r]) for r in range(4)]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("n_items", 0, "greater than or equal to 1"),
        ("n_items", 101, "less than or equal to 100"),
        ("min_confidence", -0.1, "greater than or equal to 0"),
        ("min_confidence", 1.1, "less than or equal to 1"),
        ("include_metadata", "yes", "boolean"),
        ("user_id", 0, "greater than or equal to 1"),
    ],
)
def test_post_recommendations_bad_bodies_name_the_field(api, field, value, message):
    response = api.post("/recommendations", json={"user_id": 1, field: value})
    body = assert_error(response, 422, "validation_error", field)
    assert message in body["message"]


def test_post_recommendations_refuses_unknown_fields_and_a_missing_user(api):
    assert_error(api.post("/recommendations", json={"user_id": 1, "k": 5}), 422, "validation_error", "k")
    assert_error(api.post("/recommendations", json={"n_items": 5}), 422, "validation_error", "user_id")


def test_operations_routes(api):
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready").json()
    assert ready == {
        "status": "ready",
        "checks": {"churn_model": "v1", "recommender_model": "v1", "warehouse": "ok", "registry": "ok"},
    }
    models = api.get("/models").json()
    assert models["registry"] == "reachable"
    by_name = {m["name"]: m for m in models["models"]}
    assert by_name["churn_model"]["version"] == "1" and by_name["churn_model"]["loaded"] is True
    assert by_name["churn_model"]["registry_aliases"]["champion"] == "1"
    assert 0.5 < by_name["churn_model"]["metrics"]["xgboost_roc_auc"] < 1.0
    assert by_name["recommender_model"]["metrics"]["model_ndcg_at_10"] > 0
    assert "/predict/churn" in api.get("/openapi.json").json()["paths"]
    assert api.get("/docs").status_code == 200


def _counter(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}{{{re.escape(labels)}}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_predictions_per_model_version_and_requests_per_route(api):
    labels = 'model="churn_model",version="1"'
    before = _counter(api.get("/metrics").text, "ecomm_api_predictions_total", labels)
    api.post("/predict/churn", json={"users": [SEED_USER | {"user_id": i} for i in range(1, 26)]})
    text = api.get("/metrics").text
    assert _counter(text, "ecomm_api_predictions_total", labels) == before + 25
    assert 'ecomm_api_request_seconds_bucket{le="0.005",method="POST",route="/predict/churn"}' in text
    assert (
        _counter(text, "ecomm_api_model_loads_total", 'model="churn_model",outcome="loaded",version="1"') == 1
    )


def test_metrics_name_the_version_each_model_serves(api):
    served = {
        s.labels["model"]: (s.labels["version"], s.value)
        for family in text_string_to_metric_families(api.get("/metrics").text)
        for s in family.samples
        if s.name == "ecomm_model_served_version"
    }
    assert served == {
        "churn_model": ("1", 1.0),
        "recommender_model": ("1", 1.0),
        "purchase_model": ("1", 1.0),
    }


# -------------------------------------------------------------------------------------- bad inputs
def test_bad_churn_bodies_name_the_field(api):
    no_age = {k: v for k, v in SEED_USER.items() if k != "age"}
    assert_error(
        api.post("/predict/churn", json={"users": [no_age]}), 422, "validation_error", "users[0].age"
    )
    wrong_type = SEED_USER | {"total_orders": "ten"}
    assert_error(
        api.post("/predict/churn", json={"users": [wrong_type]}),
        422,
        "validation_error",
        "users[0].total_orders",
    )
    negative = SEED_USER | {"age": -3}
    body = assert_error(
        api.post("/predict/churn", json={"users": [SEED_USER, negative]}),
        422,
        "validation_error",
        "users[1].age",
    )
    assert "greater than or equal to 16" in body["details"][0]["message"]
    assert_error(api.post("/predict/churn", json={"users": []}), 422, "validation_error", "users")
    assert_error(
        api.post("/predict/churn", json={"users": [SEED_USER] * 1001}), 422, "validation_error", "users"
    )
    typo = SEED_USER | {"agee": 3}
    assert_error(api.post("/predict/churn", json={"users": [typo]}), 422, "validation_error", "users[0].agee")
    assert_error(api.post("/predict/churn", json=[SEED_USER]), 422, "validation_error")


def _churn(api, *users: dict):
    return api.post("/predict/churn", json={"users": list(users)})


@pytest.mark.parametrize("age", [0, 15, 111])
def test_an_age_outside_the_warehouses_16_to_110_is_refused(api, age):
    body = assert_error(_churn(api, SEED_USER | {"age": age}), 422, "validation_error", "users[0].age")
    assert (
        f"{'greater' if age < 16 else 'less'} than or equal to {16 if age < 16 else 110}" in body["message"]
    )


def test_the_youngest_and_oldest_customer_ages_are_scored(api):
    response = _churn(api, SEED_USER | {"age": 16}, SEED_USER | {"user_id": 2, "age": 110})
    assert response.status_code == 200, response.text
    assert [p["user_id"] for p in response.json()["predictions"]] == [1, 2]


@pytest.mark.parametrize(
    "field,value",
    [("total_orders", True), ("total_spent", False), ("total_spent", "500"), ("age", "35"), ("age", 35.0)],
)
def test_numbers_are_strict_json_numbers(api, field, value):
    body = assert_error(_churn(api, SEED_USER | {field: value}), 422, "validation_error", f"users[0].{field}")
    assert body["details"][0]["message"] in (
        "Input should be a valid integer",
        "Input should be a valid number",
    )


def test_countries_are_read_as_names_or_iso_codes_in_any_case(api):
    spellings = ["United States", "US", "us", "united states", "USA", "United States of America"]
    users = [SEED_USER | {"user_id": i + 1, "country": c} for i, c in enumerate(spellings)]
    predictions = _churn(api, *users).json()["predictions"]
    assert {p["churn_probability"] for p in predictions} == {predictions[0]["churn_probability"]}
    assert [p["warnings"] for p in predictions] == [[]] * len(spellings)
    uk = _churn(api, SEED_USER | {"country": "GB"}, SEED_USER | {"user_id": 2, "country": "united kingdom"})
    assert [p["warnings"] for p in uk.json()["predictions"]] == [[], []]


def test_a_country_the_model_does_not_know_is_scored_as_unknown_and_said_so(api):
    users = [
        SEED_USER | {"user_id": 1, "country": "Atlantis"},
        SEED_USER | {"user_id": 2, "country": "JP"},
        SEED_USER | {"user_id": 3, "country": "United States"},
    ]
    atlantis, japan, known = _churn(api, *users).json()["predictions"]
    [warning] = atlantis["warnings"]
    assert warning.startswith(
        "country 'Atlantis' is not a country name or ISO 3166 code; scored as an unknown"
    )
    assert "United States" in warning  # the countries the model knows are listed
    [warning] = japan["warnings"]
    assert warning.startswith("country 'JP' (Japan) is not one the model was trained on")
    assert atlantis["churn_probability"] == japan["churn_probability"]  # both: the unknown category
    assert known["warnings"] == []


def test_a_user_id_twice_in_one_request_is_refused_naming_it(api):
    users = [SEED_USER, SEED_USER | {"user_id": 2}, SEED_USER | {"age": 50}, SEED_USER | {"user_id": 2}]
    body = assert_error(_churn(api, *users), 422, "validation_error", "users")
    assert body["details"] == [
        {
            "field": "users",
            "message": "user_id appears more than once: 1 (users[0], users[2]); 2 (users[1], users[3])",
        }
    ]


@pytest.mark.parametrize("user_id", [0, -1])
def test_ids_are_positive_in_a_body_as_in_a_path(api, user_id):
    assert_error(_churn(api, SEED_USER | {"user_id": user_id}), 422, "validation_error", "users[0].user_id")
    assert_error(
        api.post("/recommend/products", json={"user_id": user_id}), 422, "validation_error", "user_id"
    )
    assert_error(api.get(f"/predict/churn/{user_id}"), 422, "validation_error", "customer_id")


@pytest.mark.parametrize(
    "path,body",
    [
        ("/predict/churn", {"users": [SEED_USER]}),
        ("/recommend/products", {"user_id": 1}),
        ("/recommendations", {"user_id": 1}),
        ("/forecast/batch", {"series": [{"product_id": 1}]}),
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_415(api, path, body, content_type):
    response = api.post(path, content=json.dumps(body), headers={"content-type": content_type})
    body = assert_error(response, 415, "unsupported_media_type")
    assert body["message"] == f"the body must be JSON (Content-Type: application/json), not '{content_type}'"


@pytest.mark.parametrize("k", [0, 21, 100])
def test_max_recommendations_is_1_to_20(api, k):
    response = api.post("/recommend/products", json={"user_id": 1, "max_recommendations": k})
    body = assert_error(response, 422, "validation_error", "max_recommendations")
    assert f"than or equal to {1 if k < 1 else 20}" in body["message"]


def test_twenty_recommendations_is_the_most(api):
    body = api.post("/recommend/products", json={"user_id": 1, "max_recommendations": 20}).json()
    assert [i["rank"] for i in body["items"]] == list(range(1, 21))


def test_invalid_json_and_huge_bodies(api):
    body = assert_error(
        api.post("/predict/churn", content=b'{"users": [', headers={"content-type": "application/json"}),
        400,
        "invalid_json",
    )
    assert "not valid JSON" in body["message"]
    huge = b'{"users": [' + b" " * 2_000_000 + b"]}"
    body = assert_error(
        api.post("/predict/churn", content=huge, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert "1048576 bytes" in body["message"]

    def chunks():  # no Content-Length: the limit still holds
        for _ in range(40):
            yield b" " * 50_000

    assert_error(
        api.post("/predict/churn", content=chunks(), headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )


def test_bad_paths_and_queries(api):
    assert_error(api.get("/recommendations/abc"), 422, "validation_error", "customer_id")
    assert_error(api.get("/recommendations/5", params={"k": 0}), 422, "validation_error", "k")
    assert_error(api.get("/recommendations/5", params={"k": 101}), 422, "validation_error", "k")
    assert_error(api.get("/predict/churn/-4"), 422, "validation_error", "customer_id")
    assert_error(api.get("/nope"), 404, "not_found")
    assert_error(api.delete("/predict/churn"), 405, "method_not_allowed")
    assert_error(
        api.post("/recommend/products", json={"user_id": 1, "max_recommendations": "many"}),
        422,
        "validation_error",
        "max_recommendations",
    )


def test_cors_allows_the_dashboard_origin_only(api):
    headers = {"Origin": "http://localhost:8501", "Access-Control-Request-Method": "POST"}
    allowed = api.options("/predict/churn", headers=headers)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:8501"
    denied = api.options("/predict/churn", headers=headers | {"Origin": "http://evil.example"})
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers


def test_schemathesis_finds_no_server_error(api, tmp_path):
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{api.base}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--seed",
            "7",
            "--workers",
            "1",
            "--phases",
            "examples,coverage,fuzzing",
            "--no-shrink",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert "No issues found" in done.stdout, done.stdout[-3000:]
    generated, passed = map(int, re.search(r"(\d+) generated, (\d+) passed", done.stdout).groups())
    assert generated == passed > 300  # every operation was exercised, none answered 5xx
