"""The services `make up` runs, each a command with its port, health check and log.

Services join this list as they land (Airflow, the API, the dashboard); a service that does not
exist yet is simply not here, never a placeholder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ecomm import db
from ecomm.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[3]
MONITORING = REPO_ROOT / "monitoring"  # Prometheus's config and alert rules (also Compose's)
PROMETHEUS_MISSING = (
    "prometheus: not started (no `prometheus` binary on PATH; Debian's package provides it: "
    "apt-get install prometheus)"
)


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str  # GET must answer 200 (and pass `health_ok` when given)
    url: str = ""  # what a person opens; empty for background processes
    port: int | None = None  # checked free before start
    port_setting: str = ""  # the .env setting that moves the port, named in port-in-use errors
    credentials: str = ""
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))  # the whole environment
    health_ok: Callable[[dict], bool] | None = None  # judge the health URL's JSON body
    startup_seconds: float = 240.0
    # a background worker without a port of its own: healthy = its process alive and health_url
    # (what it depends on) answering
    health_needs_process: bool = False


def check_health(service: Service, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(service.health_url, timeout=timeout) as response:
            if response.status != 200:
                return False
            return service.health_ok is None or service.health_ok(json.loads(response.read()))
    except (OSError, ValueError):
        return False


def print_services(console: Console, title: str, rows: list[tuple[Service, str]]) -> None:
    """The services beside their status (Rich markup), every URL whole so it can be opened or copied:
    a table when it fits the terminal (the default URLs do in 80 columns), else one line per service."""
    table = services_table(title, rows)
    if Measurement.get(console, console.options.update_width(10_000), table).minimum <= console.width:
        console.print(table)
        return
    console.print(title, highlight=False)
    for service, status in rows:  # long lines: the terminal wraps them, nothing is cut
        login = f"  ({service.credentials})" if service.credentials else ""
        console.print(
            f"  {service.name}  {status}  {service.url or '(background)'}{login}",
            highlight=False,
            soft_wrap=True,
        )


def services_table(title: str, rows: list[tuple[Service, str]]) -> Table:
    """The services' table: the URL column is at least as wide as the longest URL (never cut or
    folded), and the login goes under the URL rather than in a column of its own."""
    longest = max((len(service.url) for service, _ in rows), default=0)
    table = Table(title=title, title_justify="left")
    table.add_column("service", overflow="fold")
    table.add_column("url / login", min_width=longest)
    table.add_column("status", no_wrap=True)
    for service, status in rows:
        where = Text(service.url or "(background)")
        if service.credentials:
            where.append("\n" + service.credentials, style="dim")
        table.add_row(service.name, where, status)
    return table


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def mlflow_backend_uri(settings: Settings) -> str:
    return db.database_url(settings, settings.mlflow_db).render_as_string(hide_password=False)


def planned_services(settings: Settings) -> list[Service]:
    return [
        mlflow_service(settings),
        _jupyter(settings),
        *_airflow(settings),
        _api(settings),
        *([stream_service(settings)] if streams(settings) else []),
        streamlit_service(settings),
        dbt_docs_service(settings),
        *([prometheus] if (prometheus := prometheus_service(settings)) else []),
    ]


def mlflow_service(settings: Settings) -> Service:
    settings.mlflow_artifacts_dir.mkdir(parents=True, exist_ok=True)
    port = settings.mlflow_port
    return Service(
        name="mlflow",
        command=[
            _bin("mlflow"),
            "server",
            "--backend-store-uri",
            mlflow_backend_uri(settings),
            "--serve-artifacts",
            "--artifacts-destination",
            str(settings.mlflow_artifacts_dir.resolve()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        health_url=f"http://127.0.0.1:{port}/health",
        url=f"http://localhost:{port}",
        port=port,
        port_setting="ECOMM_MLFLOW_PORT",
    )


def _api(settings: Settings) -> Service:
    """Healthy = /ready: both champions loaded (the bootstrap trained them) and the warehouse up."""
    port = settings.api_port
    return Service(
        name="api",
        command=[_bin("ecomm"), "serve", "api", "--host", "127.0.0.1", "--port", str(port)],
        health_url=f"http://127.0.0.1:{port}/ready",
        url=f"http://localhost:{port}/docs",
        port=port,
        port_setting="ECOMM_API_PORT",
        credentials="X-API-Key if ECOMM_API_KEYS is set",
    )


STREAM_OFF_IMPORTED = (
    "stream not started: imported data has no simulated shop to replay (ECOMM_SOURCE=imported)"
)


def streams(settings: Settings) -> bool:
    """The live shop runs when it is on and there is a simulated shop to replay."""
    return settings.stream_service and not settings.imported


def stream_service(settings: Settings) -> Service:
    """The live shop: `ecomm stream --follow` replays the next business date into the API's /events
    at ECOMM_STREAM_SPEED (off with ECOMM_STREAM_SERVICE=false)."""
    return Service(
        name="stream",
        command=[_bin("ecomm"), "stream", "--follow"],
        health_url=f"http://127.0.0.1:{settings.api_port}/health",
        health_needs_process=True,
    )


def _jupyter(settings: Settings) -> Service:
    notebooks = REPO_ROOT / "notebooks"
    notebooks.mkdir(exist_ok=True)
    port, token = settings.jupyter_port, settings.jupyter_token
    return Service(
        name="jupyterlab",
        command=[
            _bin("jupyter"),
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={notebooks}",
        ],
        health_url=f"http://127.0.0.1:{port}/api",
        url=f"http://localhost:{port}/lab?token={token}",
        port=port,
        port_setting="ECOMM_JUPYTER_PORT",
        credentials=f"token {token}",
    )


def streamlit_service(settings: Settings) -> Service:
    """The dashboard; its maps' outlines are served from streamlit/static/ (no CDN needed)."""
    port = settings.streamlit_port
    return Service(
        name="streamlit",
        command=[
            _bin("streamlit"),
            "run",
            str(REPO_ROOT / "streamlit" / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.enableStaticServing",
            "true",
            "--client.toolbarMode",
            "viewer",
        ],
        health_url=f"http://127.0.0.1:{port}/_stcore/health",
        url=f"http://localhost:{port}",
        port=port,
        port_setting="ECOMM_STREAMLIT_PORT",
    )


def dbt_docs_service(settings: Settings) -> Service:
    """The marts' dbt docs (lineage, tests): `ecomm serve dbt-docs` generates them from the warehouse
    (the bootstrap built the marts), then serves them with `dbt docs serve`."""
    port = settings.dbt_docs_port
    return Service(
        name="dbt-docs",
        command=[_bin("ecomm"), "serve", "dbt-docs", "--host", "127.0.0.1", "--port", str(port)],
        health_url=f"http://127.0.0.1:{port}/",
        url=f"http://localhost:{port}",
        port=port,
        port_setting="ECOMM_DBT_DOCS_PORT",
        startup_seconds=180.0,
    )


def prometheus_config(settings: Settings) -> Path:
    """monitoring/prometheus.yml with this machine's addresses: the API on its port, the rules by
    absolute path. Written under ECOMM_HOME/run/ (what `make up`'s Prometheus reads)."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["rule_files"] = [str(MONITORING / name) for name in config["rule_files"]]
    [api_job] = config["scrape_configs"]
    api_job["static_configs"] = [{"targets": [f"127.0.0.1:{settings.api_port}"]}]
    path = settings.home / "run" / "prometheus.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def prometheus_service(settings: Settings) -> Service | None:
    """Prometheus scraping the API, with the alert rules; None when no `prometheus` binary is on PATH
    (the platform runs without it: `make up` says so)."""
    binary = shutil.which("prometheus")
    if binary is None:
        return None
    port = settings.prometheus_port
    return Service(
        name="prometheus",
        command=[
            binary,
            f"--config.file={prometheus_config(settings)}",
            f"--storage.tsdb.path={(settings.home / 'prometheus').resolve()}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        health_url=f"http://127.0.0.1:{port}/-/ready",
        url=f"http://localhost:{port}/alerts",
        port=port,
        port_setting="ECOMM_PROMETHEUS_PORT",
        startup_seconds=60.0,
    )


def _airflow(settings: Settings) -> list[Service]:
    """api-server (the UI), scheduler, dag-processor and triggerer; the api-server reports the
    health of the other three, so each is healthy when the api-server says so."""
    from ecomm.orchestration.config import airflow_env, airflow_login, service_commands

    env = airflow_env(settings)
    port = settings.airflow_port
    health_url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    login = airflow_login(settings)
    services = []
    for component, command in service_commands().items():
        key = component.replace("-", "_")
        is_ui = component == "api-server"
        services.append(
            Service(
                name=f"airflow-{component}",
                command=command,
                health_url=health_url,
                url=f"http://localhost:{port}" if is_ui else "",
                port=port if is_ui else None,
                port_setting="ECOMM_AIRFLOW_PORT" if is_ui else "",
                credentials=f"{login.username} / {login.password}" if is_ui else "",
                env=env,
                health_ok=None
                if is_ui
                else (lambda body, key=key: body.get(key, {}).get("status") == "healthy"),
            )
        )
    return services
