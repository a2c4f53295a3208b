"""The services `make up` runs, each a command with its port, health check and log.

Services join this list as they land (Airflow, the API, the dashboard); a service that does not
exist yet is simply not here, never a placeholder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Service:
    name: str
    command: list[str]
    port: int
    port_setting: str  # the .env setting that moves the port, named in port-in-use errors
    health_path: str
    url: str
    credentials: str = ""
    env: dict[str, str] = field(default_factory=dict)
    startup_seconds: float = 180.0

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.health_path}"


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def mlflow_backend_uri(settings: Settings) -> str:
    return db.database_url(settings, settings.mlflow_db).render_as_string(hide_password=False)


def planned_services(settings: Settings) -> list[Service]:
    settings.mlflow_artifacts_dir.mkdir(parents=True, exist_ok=True)
    mlflow = Service(
        name="mlflow",
        command=[
            _bin("mlflow"), "server",
            "--backend-store-uri", mlflow_backend_uri(settings),
            "--serve-artifacts", "--artifacts-destination", str(settings.mlflow_artifacts_dir.resolve()),
            "--host", "127.0.0.1", "--port", str(settings.mlflow_port), "--workers", "1",
        ],
        port=settings.mlflow_port,
        port_setting="ECOMM_MLFLOW_PORT",
        health_path="/health",
        url=f"http://localhost:{settings.mlflow_port}",
    )
    notebooks = REPO_ROOT / "notebooks"
    notebooks.mkdir(exist_ok=True)
    jupyter = Service(
        name="jupyterlab",
        command=[
            _bin("jupyter"), "lab", "--no-browser", "--allow-root", "--ip", "127.0.0.1",
            "--port", str(settings.jupyter_port), "--ServerApp.port_retries=0",
            f"--ServerApp.token={settings.jupyter_token}", f"--ServerApp.root_dir={notebooks}",
        ],
        port=settings.jupyter_port,
        port_setting="ECOMM_JUPYTER_PORT",
        health_path="/api",
        url=f"http://localhost:{settings.jupyter_port}/lab?token={settings.jupyter_token}",
        credentials=f"token {settings.jupyter_token}",
    )
    return [mlflow, jupyter]
