"""`python -m ecomm.platform up|down|status|supervise` (what the Makefile calls)."""

from __future__ import annotations

import time

import typer

from ecomm.cli import db_down, db_migrate, db_up, pipeline_bootstrap, status
from ecomm.console import UserError, err, out, user_errors
from ecomm.orchestration.config import OrchestrationError, migrate_metadata
from ecomm.platform import supervisor
from ecomm.platform.services import (
    PROMETHEUS_MISSING,
    STREAM_OFF_IMPORTED,
    Service,
    check_health,
    planned_services,
    print_services,
    prometheus_service,
    streams,
)
from ecomm.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


def _service_rows() -> list[tuple[Service, str]]:
    settings = get_settings()
    paths = supervisor.Paths.of(settings)
    state = supervisor.read_state(paths)
    rows = []
    for service in planned_services(settings):
        pid = state.get(service.name, {}).get("pid")
        alive = supervisor.pid_alive(pid)
        if check_health(service) and (alive or not service.health_needs_process):
            health = "[green]healthy[/]"
        elif alive:
            health = "[yellow]starting[/]"
        else:
            health = "[red]stopped[/]"
        rows.append((service, health))
    return rows


def _first_pipeline_run(settings) -> None:
    """Unpause the DAGs (the import inbox only on imported data); the scheduler then runs the data
    pipeline for the latest day (catchup is off), which the bootstrap already loaded, so it succeeds
    quickly. Wait for that success."""
    from ecomm.orchestration.rest import DAG_IDS, AirflowClient

    client = AirflowClient(settings)
    client.wait_for_dags()
    for dag_id in DAG_IDS:
        if dag_id != "import_inbox" or settings.imported:
            client.unpause(dag_id)
    run = client.wait_for_success("ecommerce_data_pipeline")
    err.print(f"ecommerce_data_pipeline: run {run['dag_run_id']} succeeded")


@app.command()
@user_errors
def up() -> None:
    """Start PostgreSQL, migrate, bootstrap (history, first models), then every service; wait until healthy."""
    settings = get_settings()
    phases: dict[str, float] = {}
    clock = started = time.perf_counter()

    def phase(name: str) -> None:  # seconds since the previous phase ended
        nonlocal clock
        phases[name], clock = time.perf_counter() - clock, time.perf_counter()

    db_up()
    try:
        supervisor.preflight(settings)
    except supervisor.PlatformError as exc:
        raise UserError(str(exc)) from None
    db_migrate()
    phase("database")
    pipeline_bootstrap()  # history and first models when missing (also a one-shot job in compose)
    phase("bootstrap")
    try:
        migrate_metadata(settings)
        supervisor.launch(settings)
        supervisor.wait_healthy(settings, on_ready=lambda s: err.print(f"{s.name} is healthy"))
        phase("services healthy")
        _first_pipeline_run(settings)
        phase("first pipeline run")
    except (supervisor.PlatformError, OrchestrationError, TimeoutError, RuntimeError) as exc:
        raise UserError(str(exc)) from None
    status()
    print_services(out, "services", _service_rows())
    if prometheus_service(settings) is None:
        out.print(PROMETHEUS_MISSING)
    if settings.stream_service and not streams(settings):
        out.print(STREAM_OFF_IMPORTED)
    out.print(
        f"platform up in {time.perf_counter() - started:.0f}s "
        f"({', '.join(f'{name} {seconds:.0f}s' for name, seconds in phases.items())}); "
        f"logs in {settings.home / 'logs'}; stop with `make down`"
    )


@app.command()
@user_errors
def down() -> None:
    """Stop every service and the embedded PostgreSQL; the data stays in ECOMM_HOME."""
    settings = get_settings()
    out.print("services stopped" if supervisor.shutdown(settings) else "services were not running")
    if settings.database_url:
        out.print("DATABASE_URL is set: that server is not ours to stop")
        return
    db_down()


@app.command("status")
@user_errors
def show_status() -> None:
    """What runs and what the warehouse holds (starts nothing)."""
    from ecomm import db

    try:
        db.server_url(get_settings(), start=False)
    except db.DatabaseError:  # checked first: building the service list needs the database
        out.print("platform stopped: embedded PostgreSQL is not running (start everything with `make up`)")
        return
    print_services(out, "services", _service_rows())
    status()


@app.command(hidden=True)
def supervise() -> None:
    """Run the services in the foreground until SIGTERM (started detached by `up`)."""
    supervisor.supervise(get_settings())


if __name__ == "__main__":
    app()
