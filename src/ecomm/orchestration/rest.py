"""A small client of Airflow's REST API v2 (JWT from /auth/token), for the platform runner."""

from __future__ import annotations

import json
import time
import urllib.request

from ecomm.orchestration.config import airflow_login
from ecomm.settings import Settings

DAG_IDS = (
    "ecommerce_data_pipeline",
    "ml_training_pipeline",
    "model_monitoring",
    "causal_report",
    "demand_forecast",
    "import_inbox",
)


class AirflowClient:
    def __init__(self, settings: Settings) -> None:
        self.base = f"http://127.0.0.1:{settings.airflow_port}"
        self.login = airflow_login(settings)
        self._token: str | None = None

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def token(self) -> str:
        if self._token is None:
            answer = self._request(
                "POST",
                "/auth/token",
                {"username": self.login.username, "password": self.login.password},
                auth=False,
            )
            self._token = answer["access_token"]
        return self._token

    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self._request("GET", "/api/v2/dags?limit=100")["dags"]]

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def runs(self, dag_id: str) -> list[dict]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-logical_date&limit=5")[
            "dag_runs"
        ]

    def wait_for_dags(self, dag_ids=DAG_IDS, timeout: float = 180) -> None:
        """The dag-processor parses the files a little after start; wait until every DAG is known."""
        deadline = time.time() + timeout
        while not set(dag_ids) <= set(self.dag_ids()):
            if time.time() > deadline:
                missing = sorted(set(dag_ids) - set(self.dag_ids()))
                raise TimeoutError(
                    f"Airflow did not list the DAGs {', '.join(missing)} within {timeout:.0f}s"
                )
            time.sleep(2)

    def wait_for_success(self, dag_id: str, timeout: float = 600) -> dict:
        """Wait for the newest run of a DAG to finish; returns it (raises if it failed or timed out)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            runs = self.runs(dag_id)
            if runs and runs[0]["state"] == "success":
                return runs[0]
            if runs and runs[0]["state"] == "failed":
                raise RuntimeError(f"{dag_id} run {runs[0]['dag_run_id']} failed; see the Airflow UI")
            time.sleep(3)
        raise TimeoutError(f"{dag_id} had no successful run within {timeout:.0f}s")
