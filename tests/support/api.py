"""Helpers of the API's end-to-end tests: the seed user, starting `ecomm serve api`, error asserts."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from support.servers import ServerProcess, free_port, settings_env

SEED_USER = {
    "user_id": 1,
    "age": 35,
    "country": "United States",
    "total_orders": 10,
    "total_spent": 500.0,
    "days_since_last_order": 15,
    "avg_order_value": 50.0,
    "customer_duration_days": 365,
    "order_frequency": 0.0274,
    "daily_spend": 1.37,
}


def start_api(settings, tmp_path_factory, **env) -> tuple[ServerProcess, str]:
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    server = ServerProcess(
        [sys.executable, "-m", "ecomm.cli", "serve", "api", "--port", str(port)],
        settings_env(settings, **env),
        f"http://127.0.0.1:{port}/health",
        log,
    ).start()
    return server, f"http://127.0.0.1:{port}"


@contextmanager
def ready_api(settings, tmp_path_factory) -> Iterator[httpx.Client]:
    """A client of `ecomm serve api` on `settings`, once /ready says 200 (its URL in `client.base`)."""
    server, base = start_api(settings, tmp_path_factory)
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/ready").status_code == 200, server.tail()
            client.base = base
            yield client
    finally:
        server.stop()


def assert_error(response, status: int, error: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert body["error"] == error
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text and "SELECT" not in response.text
    if field is not None:
        assert field in [d["field"] for d in body["details"]], body
        assert field in body["message"]
    return body
