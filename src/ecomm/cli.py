"""The `ecomm` command: wires subcommands to the package; no logic of its own."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecomm.causal.cli import app as causal_app
from ecomm.console import UserError, err, out, user_errors
from ecomm.imports.cli import app as import_app
from ecomm.ml.cli import app as ml_app
from ecomm.settings import Settings, get_settings

app = typer.Typer(
    help="E-commerce analytics & ML platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The PostgreSQL server and the warehouse schema.", no_args_is_help=True)
pipeline_app = typer.Typer(
    help="The daily data pipeline (generate -> validate -> load -> check).", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(pipeline_app, name="pipeline")
marts_app = typer.Typer(help="The marts: the dbt project in dbt/ (incremental models).", no_args_is_help=True)
app.add_typer(marts_app, name="marts")
app.add_typer(ml_app)  # `train churn|recommender|segments` and `evaluate`
app.add_typer(causal_app, name="causal")
serve_app = typer.Typer(help="Run a service in the foreground.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
app.add_typer(import_app, name="import")


def _settings() -> Settings:
    return get_settings()


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)") from None


# ------------------------------------------------------------------------------------------ db
@db_app.command("up")
@user_errors
def db_up() -> None:
    """Start the embedded PostgreSQL (unless DATABASE_URL is set) and create the databases."""
    from ecomm import db

    settings = _settings()
    created = db.ensure_databases(settings)
    where = "DATABASE_URL" if settings.database_url else f"embedded, data in {settings.pgdata}"
    out.print(f"PostgreSQL up ({where}); databases created: {', '.join(created) or 'none (all present)'}")
    out.print(db.libpq_dsn(db.database_url(settings)), highlight=False, soft_wrap=True)


@db_app.command("down")
@user_errors
def db_down() -> None:
    """Stop the embedded PostgreSQL (data is kept)."""
    from ecomm import db

    settings = _settings()
    if settings.database_url:
        raise UserError("DATABASE_URL is set: that server is not ours to stop")
    out.print("stopped" if db.stop_embedded(settings) else "not running")


@db_app.command("url")
@user_errors
def db_url(
    database: Annotated[str | None, typer.Option(help="Database name (default: the warehouse).")] = None,
) -> None:
    """Print the connection URL (starts nothing: a stopped embedded server is an error)."""
    from ecomm import db

    print(db.libpq_dsn(db.database_url(_settings(), database, start=False)))


@db_app.command("migrate")
@user_errors
def db_migrate() -> None:
    """Create or update the warehouse schemas and tables (Alembic; re-running is a no-op)."""
    from ecomm.warehouse.migrate import migrate

    before, after = migrate(_settings())
    out.print(f"warehouse at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


# ------------------------------------------------------------------------------------ generate
@app.command()
@user_errors
def generate(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write batches (default: ECOMM_HOME/raw).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: ECOMM_SEED).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last business date, YYYY-MM-DD (default: yesterday).")
    ] = None,
    days: Annotated[int | None, typer.Option(help="Days of history (default: ECOMM_HISTORY_DAYS).")] = None,
    customers: Annotated[int | None, typer.Option(help="Customers by the end of history.")] = None,
    products: Annotated[int | None, typer.Option(help="Products in the catalog.")] = None,
    next_day: Annotated[
        bool, typer.Option("--next", help="Continue an existing world by one business date.")
    ] = False,
) -> None:
    """Simulate the shop: raw CSV batches per business date, plus the planted ground truth."""
    from ecomm.datagen import GeneratorConfig, generate_history, generate_next_day
    from ecomm.datagen.config import planted_regimes

    settings = _settings()
    target = out_dir or settings.raw_dir
    with _progress("simulating days") as tick:
        if next_day:
            summary = generate_next_day(target, progress=tick)
        else:
            config = GeneratorConfig(
                seed=settings.seed if seed is None else seed,
                as_of=_parse_date(as_of, "--as-of") or date.today() - timedelta(days=1),
                days=days or settings.history_days,
                customers=customers or settings.customers,
                products=products or settings.products,
                regimes=planted_regimes(settings),
            )
            summary = generate_history(config, target, progress=tick)
    out.print(
        f"wrote {len(summary.dates)} batch(es) {summary.first_date} .. {summary.last_date} to {target} "
        f"in {summary.seconds:.1f}s"
    )
    _print_counts(summary.rows)


# ---------------------------------------------------------------------------------------- load
@app.command()
@user_errors
def load(
    path: Annotated[Path, typer.Argument(help="A batch directory (YYYY-MM-DD) or a directory of them.")],
    force: Annotated[
        bool, typer.Option(help="Re-process batches already loaded (still changes nothing).")
    ] = False,
    marts: Annotated[
        bool,
        typer.Option(
            help="Build the marts of the dates loaded (--no-marts: the next load or `ecomm marts build` does)."
        ),
    ] = True,
) -> None:
    """Validate and load raw batches into the warehouse, then check quality and refresh the marts."""
    from ecomm.warehouse.load import batch_directories
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.run import load_path

    settings = _settings()
    total = len(batch_directories(path))  # fails early, clearly, on a wrong path
    migrate(settings)
    with _progress("loading batches", total=total) as tick:
        report = load_path(
            settings, path, force=force, marts=marts, progress=lambda _r: tick("loading batches", 1, 0)
        )
    _report_load(report)


@pipeline_app.command("run")
@user_errors
def pipeline_run(
    day: Annotated[str, typer.Option("--date", help="Business date to produce and load, YYYY-MM-DD.")],
    raw_dir: Annotated[
        Path | None, typer.Option(help="The simulated world (default: ECOMM_HOME/raw).")
    ] = None,
) -> None:
    """Generate the date's batch if needed (continuing the world), then load and check it."""
    from ecomm.pipeline import run_for_date

    settings = _settings()
    report = run_for_date(settings, _parse_date(day, "--date"), raw_dir or settings.raw_dir)
    _report_load(report)


@marts_app.command("build")
@user_errors
def marts_build(
    day: Annotated[
        list[str] | None, typer.Option("--date", help="A loaded batch to process (repeatable), YYYY-MM-DD.")
    ] = None,
    full_refresh: Annotated[bool, typer.Option(help="Rebuild every mart from all of history.")] = False,
) -> None:
    """`dbt build` of the marts (models, unit tests, key tests) for the given batches and every loaded
    batch not built yet; the first build, or --full-refresh, rebuilds from all of history."""
    from ecomm.warehouse.marts import build_marts

    dates = [_parse_date(d, "--date") for d in day or []]
    seconds = build_marts(_settings(), dates, full_refresh=full_refresh)
    parts = ", ".join(f"{name} {s:.1f}s" for name, s in seconds.items())
    out.print(f"marts built in {sum(seconds.values()):.1f}s ({parts})", highlight=False)


@marts_app.command("docs")
@user_errors
def marts_docs() -> None:
    """`dbt docs generate`: the catalog and lineage `ecomm serve dbt-docs` serves."""
    from ecomm.warehouse.marts import generate_docs

    out.print(f"dbt docs generated in {generate_docs(_settings())}", highlight=False)


@pipeline_app.command("bootstrap")
@user_errors
def pipeline_bootstrap() -> None:
    """First start (idempotent): simulate and load the history if the warehouse is empty, train
    each model that has no champion, compute the causal report if none is stored. A second run
    does nothing."""
    from ecomm.bootstrap import bootstrap

    settings = _settings()
    with _progress("bootstrapping") as tick:
        result = bootstrap(settings, progress=tick, say=lambda message: err.print(message, highlight=False))
    if result.generated is not None:
        _print_counts(result.generated.rows)
    if result.imported is not None:
        from ecomm.imports.cli import print_summary

        print_summary(result.imported)
    if result.load is not None:
        _report_load(result.load)  # exits 1 naming the rejected batches or failed checks
    else:
        out.print(f"warehouse: {result.batches_before} batch(es) loaded already; no history loaded")
    if result.marts_built is not None:
        out.print(f"marts built (dbt build) in {sum(result.marts_built.values()):.1f}s")
    for name, version in result.champions_before.items():
        out.print(f"{name}: champion v{version} registered already; not trained")
    for name, trained in result.trained.items():
        gate = trained.gate
        out.print(
            f"{name}: trained v{trained.version} in {trained.seconds:.0f}s, champion v{gate.champion_after}"
        )
    for name, reason in result.not_trained.items():
        err.print(f"[yellow]{name} not trained:[/] {reason}", highlight=False)
    if result.scored is not None:
        s = result.scored
        out.print(f"churn scores: {s.customers:,} customers as of {s.cutoff} by v{s.model.version}")
    if result.purchase_scored is not None:
        s = result.purchase_scored
        out.print(f"purchase scores: {s.customers:,} customers as of {s.cutoff} by v{s.model.version}")
    for trained in result.trained.values():
        if (stored := getattr(trained, "stored", None)) is not None:  # demand forecasts
            out.print(_forecasts_line(stored))
    if result.forecasts_stored is not None:
        out.print(_forecasts_line(result.forecasts_stored))
    if result.causal_stored:
        out.print(f"causal estimates: {result.causal_stored} stored already; not computed")
    if result.causal is not None:
        out.print(f"causal estimates: {len(result.causal.table)} computed into marts.causal_estimates")
    if result.causal_not_computed is not None:
        err.print(f"[yellow]causal estimates not computed:[/] {result.causal_not_computed}", highlight=False)
    if result.experiments_tagged:
        names = ", ".join(result.experiments_tagged)
        out.print(f"MLflow experiments {names}: tagged to open in the classic ML view")
    if result.did_nothing:
        out.print("bootstrap: nothing to do")


def _forecasts_line(stored) -> str:
    return (
        f"demand forecasts: {stored.forecast_rows:,} rows and {stored.products:,} reorder points as of "
        f"{stored.forecast_date} by v{stored.model_version}"
    )


@app.command()
@user_errors
def stream(
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="Times faster than the clock (default: ECOMM_STREAM_SPEED)."),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option(help="The API (default: http://127.0.0.1:ECOMM_API_PORT).")
    ] = None,
    raw_dir: Annotated[
        Path | None, typer.Option(help="The simulated world (default: ECOMM_HOME/raw).")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            help="Service mode: wait for the API, and after the date stream the next one once loaded."
        ),
    ] = False,
) -> None:
    """The live shop: replay the business date the next daily run will load, as events POSTed to the
    API's /events, in (accelerated) wall-clock time. Imported data (ECOMM_SOURCE=imported) has no shop
    to replay: one line, exit 0 with --follow (the service has nothing to do), exit 1 without."""
    import time as clock

    from ecomm import db
    from ecomm.pipeline import ensure_batch
    from ecomm.stream import replay as r

    settings = _settings()
    if settings.imported:  # nothing to replay: `make up` leaves the service out, Compose's exits here
        from ecomm.platform.services import STREAM_OFF_IMPORTED

        if not follow:
            raise UserError(STREAM_OFF_IMPORTED)
        err.print(STREAM_OFF_IMPORTED, highlight=False)
        return
    world = raw_dir or settings.raw_dir
    rate = speed or settings.stream_speed
    say = lambda message: err.print(message, highlight=False)  # noqa: E731
    with r.api_client(api_url or f"http://127.0.0.1:{settings.api_port}", settings.api_keys) as client:
        if follow:
            r.wait_for_api(client)
        else:
            r.check_api(client)  # a clear error before generating anything
        streamed = None
        while True:
            day = _next_stream_date(settings, world)
            if day != streamed:
                events = r.batch_events(ensure_batch(world, day), day)
                with db.connection(settings) as conn:
                    r.record_started(conn, day, len(events))
                label = f"streaming {day} at {rate:g}x"
                say(f"{label}: {len(events):,} events")  # the service's log says what it does
                with _progress(label, total=len(events)) as tick:
                    result = r.replay(
                        client,
                        events,
                        day,
                        rate,
                        lambda n, label=label: tick(label, n, 0),
                        say,
                        still_wanted=lambda day=day: _still_streaming(settings, world, day, say),
                    )
                if result.overtaken:
                    say(f"the batch of {day} loaded before its replay finished: moving on")
                else:
                    with db.connection(settings) as conn:
                        r.record_finished(conn, day)
                out.print(
                    f"streamed {day}: {result.sent:,} events sent, {result.stored:,} stored, "
                    f"{result.duplicates:,} already stored, {result.rejected:,} rejected",
                    highlight=False,
                )
                streamed = day
            if not follow:
                return
            clock.sleep(60)  # the next date exists once the nightly run has loaded this one


def _still_streaming(settings, world: Path, day, say) -> bool:
    """False once `day`'s batch has loaded; a database that does not answer keeps the replay going."""
    import psycopg2

    from ecomm import db

    try:
        return _next_stream_date(settings, world) == day
    except (db.DatabaseError, psycopg2.Error) as exc:
        say(f"cannot ask the warehouse whether {day} has loaded ({exc}); streaming on")
        return True


def _next_stream_date(settings, world: Path):
    from ecomm import db
    from ecomm.stream.replay import next_stream_date

    with db.connection(settings) as conn:
        return next_stream_date(conn, world)


@app.command()
@user_errors
def status() -> None:
    """What the warehouse holds: revision, batches, row counts, recent loads and failed checks
    (starts nothing: a stopped embedded server is an error)."""
    from ecomm import db
    from ecomm.status import warehouse_status

    settings = _settings()
    db.server_url(settings, start=False)  # a look must not start a server
    info = warehouse_status(settings)
    for title, rows in info.items():
        table = Table(title=title, title_justify="left")
        if rows:
            for column in rows[0]:
                table.add_column(column)
            for row in rows:
                table.add_row(*(str(v) for v in row.values()))
        out.print(table)


# -------------------------------------------------------------------------------------- output
def _progress(label: str, total: int | None = None):
    """A Rich progress bar whose tick(stage, done, total) callback fits generator and loader."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar():
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            disable=not err.is_terminal,  # a bar in a log file is noise
        ) as progress:
            task = progress.add_task(label, total=total)

            def tick(stage: str, done: int, of: int) -> None:
                if of:
                    progress.update(task, description=stage, completed=done, total=of)
                else:
                    progress.update(task, description=stage, advance=done)

            yield tick

    return bar()


def _print_counts(rows: dict[str, int]) -> None:
    table = Table("entity", "rows")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}")
    out.print(table)


def _dates(dates) -> str:
    """Dates for a report line: all of a few, the first and last of many."""
    dates = sorted(dates)
    if len(dates) <= 6:
        return ", ".join(map(str, dates))
    return f"{len(dates)} batches {dates[0]} .. {dates[-1]}"


def _report_load(report) -> None:
    table = Table(
        "batch",
        "status",
        "read",
        "loaded",
        "corrected",
        "unchanged",
        "quarantined",
        "seconds",
        title="batches",
    )
    shown = report.batches if len(report.batches) <= 12 else report.batches[:3] + report.batches[-8:]
    for b in shown:
        table.add_row(
            str(b.batch_date),
            b.status,
            f"{b.total('read'):,}",
            f"{b.total('loaded'):,}",
            f"{b.total('corrected'):,}",
            f"{b.total('unchanged'):,}",
            f"{b.total('quarantined'):,}",
            f"{b.seconds:.2f}",
        )
    out.print(table)
    by_status = {s: sum(b.status == s for b in report.batches) for s in ("loaded", "skipped", "rejected")}
    out.print(f"{len(report.batches)} batch(es): " + ", ".join(f"{n} {s}" for s, n in by_status.items()))
    if report.truth_rows:
        out.print("ground truth loaded: " + ", ".join(f"{k} {v:,}" for k, v in report.truth_rows.items()))
    if report.checks:
        out.print(
            f"quality checks: {sum(c.passed for c in report.checks)}/{len(report.checks)} passed "
            f"over {len(report.checked_dates)} batch(es)"
        )
    if report.resolved:  # their references arrived with this load
        rows = sum(n for by_entity in report.resolved.values() for n in by_entity.values())
        where = "; ".join(
            f"{day} " + ", ".join(f"{name} {n}" for name, n in by_entity.items())
            for day, by_entity in report.resolved.items()
        )
        out.print(f"{rows} row(s) quarantined earlier now loaded ({where})", highlight=False)
    if report.rechecked_dates:  # left unchecked by a killed run, or failed before: never hidden
        out.print("checked again (unchecked or failed before): " + _dates(report.rechecked_dates))
    if report.marts_pending and not report.mart_seconds:  # --no-marts
        out.print(
            f"marts not built: {len(report.marts_pending)} batch(es) pending for the next load "
            "or `ecomm marts build`",
            highlight=False,
        )
    elif report.marts_pending and not any(b.status == "loaded" for b in report.batches):
        out.print("marts built for batch(es) an earlier run left out: " + _dates(report.marts_pending))
    for b in report.batches:  # a re-delivery: what it corrected, what it lacked (never silent)
        if b.status == "loaded" and b.message:
            out.print(f"batch {b.batch_date}: {b.message}", highlight=False, soft_wrap=True)
    if report.phase_seconds:
        out.print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in report.phase_seconds.items()))
    for b in report.rejected:
        err.print(f"[bold red]rejected[/] batch {b.batch_date}: {b.message}", highlight=False, soft_wrap=True)
    for c in report.failed_checks:
        err.print(
            f"[bold red]failed check[/] {c.name} ({c.batch_date or 'all'}): {c.details}", highlight=False
        )
    if not report.ok:
        raise typer.Exit(1)


@serve_app.command("api")
@user_errors
def serve_api(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in containers).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: ECOMM_API_PORT (8000).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Default: ECOMM_API_WORKERS (1).")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (off: /metrics counts them).")] = False,
) -> None:
    """The prediction API (FastAPI under uvicorn): serves the MLflow champions."""
    from ecomm.api.serve import serve_api as run

    settings = _settings()
    run(
        settings,
        host=host,
        port=port or settings.api_port,
        workers=workers or settings.api_workers,
        access_log=access_log,
    )


@serve_app.command("dbt-docs")
@user_errors
def serve_dbt_docs(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 in containers).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: ECOMM_DBT_DOCS_PORT (8081).")] = None,
) -> None:
    """The marts' dbt docs (models, tests, lineage): `dbt docs generate`, then `dbt docs serve`."""
    import os

    from ecomm.warehouse.marts import dbt_env, docs_serve_command, generate_docs

    settings = _settings()
    generate_docs(settings)
    command = docs_serve_command(settings, port or settings.dbt_docs_port, host=host)
    os.execve(command[0], command, dbt_env(settings))


if __name__ == "__main__":
    app()
