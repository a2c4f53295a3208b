"""`python -m ecomm.platform up|down|status` (what the Makefile calls)."""

from __future__ import annotations

import typer

from ecomm.cli import UserError, db_down, db_migrate, db_up, err, generate, load, out, status, user_errors
from ecomm.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


def _warehouse_is_empty() -> bool:
    from ecomm import db

    with db.connection(get_settings()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit.load_runs WHERE status = 'loaded'")
        return cur.fetchone()[0] == 0


@app.command()
@user_errors
def up() -> None:
    """Start PostgreSQL, migrate, and load a year of history when the warehouse is empty."""
    settings = get_settings()
    db_up()
    db_migrate()
    if _warehouse_is_empty():
        if not (settings.raw_dir / "_state").exists():
            err.print(
                f"bootstrapping: simulating {settings.history_days} days of history into {settings.raw_dir}"
            )
            generate(
                out_dir=None, seed=None, as_of=None, days=None, customers=None, products=None, next_day=False
            )
        try:
            load(path=settings.raw_dir, force=False)
        except typer.Exit as exc:
            if exc.exit_code:
                raise UserError("the history did not load cleanly; see the messages above") from None
    status()
    out.print("platform up: the warehouse is ready (services join in later releases)")


@app.command()
@user_errors
def down() -> None:
    """Stop what `up` started; the data stays in ECOMM_HOME."""
    if get_settings().database_url:
        out.print("DATABASE_URL is set: nothing of ours to stop")
        return
    db_down()


@app.command("status")
@user_errors
def show_status() -> None:
    """What runs and what the warehouse holds."""
    from ecomm import db

    try:
        db.server_url(get_settings(), start=False)  # does not start the embedded server
    except db.DatabaseError:
        out.print("embedded PostgreSQL: stopped (start everything with `make up`)")
        return
    status()


if __name__ == "__main__":
    app()
