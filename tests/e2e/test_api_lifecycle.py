"""The API's model store against a real MLflow tracking server: a champion promoted while requests
flow is swapped in without a failed request; with MLflow stopped the loaded models keep serving and
/ready tells the truth. And an API with keys and an empty registry: 401 before anything, 503 after.

The MLflow server's backend is a copy of the trained world's MLflow database (the artifacts are the
same files), so promoting versions here changes nothing for other tests."""

from __future__ import annotations

import os
import threading
import time
import uuid

import httpx
import pytest

from ecomm import db
from ecomm.platform.services import mlflow_service

from support.api import SEED_USER, assert_error, start_api
from support.servers import ServerProcess, free_port

CHURN = "churn_model"


def _admin(settings, *statements: str) -> None:
    with db.connection(settings, "postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


@pytest.fixture(scope="module")
def mlflow_copy(trained_world):
    name = f"mlflow_swap_{uuid.uuid4().hex[:8]}"
    source = trained_world.mlflow_db
    _admin(
        trained_world,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{source}'",
    )
    db.create_database(trained_world, name, template=source)
    yield trained_world.model_copy(update={"mlflow_db": name})
    db.drop_database(trained_world, name)


@pytest.fixture(scope="module")
def mlflow_server(mlflow_copy, tmp_path_factory):
    # the same command as `make up` runs; artifacts: the session home's (where the models were logged)
    service = mlflow_service(mlflow_copy.model_copy(update={"mlflow_port": free_port()}))
    server = ServerProcess(
        service.command,
        dict(os.environ),
        service.health_url,
        tmp_path_factory.mktemp("mlflow-log") / "mlflow.log",
    ).start(timeout=180)
    yield server, service.health_url.removesuffix("/health")
    server.stop()


@pytest.fixture(scope="module")
def swap_api(mlflow_copy, mlflow_server, tmp_path_factory):
    _, uri = mlflow_server
    settings = mlflow_copy.model_copy(update={"mlflow_tracking_uri": uri})
    server, base = start_api(settings, tmp_path_factory, ECOMM_API_MODEL_POLL_SECONDS="0.5")
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client, uri
    server.stop()


def wait_for(condition, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _champion_versions(client: httpx.Client, stop: threading.Event, seen: list) -> None:
    while not stop.is_set():
        response = client.post("/predict/churn", json={"users": [SEED_USER]})
        seen.append((response.status_code, response.json().get("model", {}).get("version")))


def test_a_promoted_champion_is_swapped_in_without_a_failed_request(swap_api):
    from mlflow import MlflowClient

    api, uri = swap_api
    wait_for(lambda: api.get("/ready").json()["checks"]["churn_model"] == "v1", "churn_model v1 loaded")
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    v1 = registry.get_model_version(CHURN, "1")
    v2 = registry.create_model_version(
        CHURN, source=v1.source, run_id=v1.run_id, model_id=v1.source.removeprefix("models:/")
    )
    assert v2.version == "2"

    seen: list[tuple[int, str]] = []
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=_champion_versions, args=(httpx.Client(base_url=api.base_url, timeout=30), stop, seen)
        )
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    time.sleep(1.0)
    registry.set_registered_model_alias(CHURN, "champion", "2")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(v == "2" for _, v in seen[-4:]):
        time.sleep(0.2)
    time.sleep(1.0)
    stop.set()
    for w in workers:
        w.join(timeout=30)

    assert {status for status, _ in seen} == {200}, seen[:5]
    versions = [v for _, v in seen]
    assert versions[0] == "1" and versions[-1] == "2"
    assert set(versions) == {"1", "2"}
    models = {m["name"]: m for m in api.get("/models").json()["models"]}
    assert models[CHURN]["version"] == "2" and models[CHURN]["registry_aliases"]["champion"] == "2"


def test_with_mlflow_stopped_the_loaded_models_keep_serving(swap_api, mlflow_server):
    api, _ = swap_api
    server, _ = mlflow_server
    server.stop()
    deadline = time.monotonic() + 30
    ready = api.get("/ready")
    while time.monotonic() < deadline and ready.json()["checks"]["registry"] == "ok":
        time.sleep(0.5)
        ready = api.get("/ready")
    checks = ready.json()["checks"]
    assert checks["registry"].startswith("unreachable: ")
    # still ready: both models are loaded and the warehouse answers
    assert ready.status_code == 200 and checks["churn_model"] == "v2" and checks["warehouse"] == "ok"
    for _ in range(20):
        response = api.post("/predict/churn", json={"users": [SEED_USER]})
        assert response.status_code == 200 and response.json()["model"]["version"] == "2"
    assert api.get("/models").json()["registry"] == checks["registry"].removeprefix("unreachable: ")


@pytest.fixture(scope="module")
def keyed_empty_api(trained_world, tmp_path_factory):
    """API keys on, and a registry without any model."""
    name = f"mlflow_empty_{uuid.uuid4().hex[:8]}"
    db.create_database(trained_world, name)
    settings = trained_world.model_copy(update={"mlflow_db": name})
    server, base = start_api(settings, tmp_path_factory, ECOMM_API_KEYS='["key-one", "key-two"]')
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client
    server.stop()
    db.drop_database(trained_world, name)


def test_api_keys_are_checked_before_anything_else(keyed_empty_api):
    api = keyed_empty_api
    body = {"users": [SEED_USER]}
    message = assert_error(api.post("/predict/churn", json=body), 401, "unauthorized")["message"]
    assert message == "this API needs an X-API-Key header"
    wrong = api.post("/predict/churn", json=body, headers={"X-API-Key": "key-three"})
    assert assert_error(wrong, 401, "unauthorized")["message"] == "the X-API-Key is not valid"
    assert_error(api.get("/models"), 401, "unauthorized")
    assert api.get("/health").status_code == 200  # probes need no key


def test_without_a_registered_model_predictions_are_503_never_a_stand_in(keyed_empty_api):
    api = keyed_empty_api
    headers = {"X-API-Key": "key-two"}
    response = api.post("/predict/churn", json={"users": [SEED_USER]}, headers=headers)
    body = assert_error(response, 503, "model_unavailable")
    assert (
        body["message"] == "no version of churn_model is loaded (churn_model has no champion in the registry)"
    )
    assert_error(api.get("/recommendations/3", headers=headers), 503, "model_unavailable")
    ready = api.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "churn_model": "not loaded: churn_model has no champion in the registry",
        "recommender_model": "not loaded: recommender_model has no champion in the registry",
        "warehouse": "ok",
        "registry": "ok",
    }
