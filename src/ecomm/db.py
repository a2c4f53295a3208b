"""Connections to PostgreSQL: the server in DATABASE_URL, or the embedded one under ECOMM_HOME.

The embedded server is pgserver's PostgreSQL 16, listening on a unix socket in its data
directory. It is started on first use and keeps running after the starting process exits
(``cleanup_mode=None``) so every later command reuses it; ``ecomm db down`` stops it.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import sqlalchemy as sa
from psycopg2 import sql
from sqlalchemy.engine import URL, Engine, make_url

from ecomm.settings import Settings

# Tuned for bulk loads on a small machine; applied once with ALTER SYSTEM, then restarted.
EMBEDDED_SERVER_SETTINGS = {
    "max_connections": "200",  # Airflow, MLflow, the API and the dashboard share one server
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",  # fewer checkpoints during bulk loads
    "checkpoint_timeout": "15min",
    "maintenance_work_mem": "256MB",
    "work_mem": "32MB",
}


class DatabaseError(RuntimeError):
    """The database cannot be reached or prepared; the message says what to do."""


def _quiet_pgserver() -> None:
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    # platformdirs warns on every import when XDG_RUNTIME_DIR is unset (containers, CI); harmless
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _embedded_server(settings: Settings):
    import pgserver  # imported lazily: only the embedded path needs it

    _quiet_pgserver()
    settings.home.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(settings.pgdata.resolve(), cleanup_mode=None)


def _embedded_running_uri(settings: Settings) -> str | None:
    """The URI of an already running embedded server, without starting one."""
    _quiet_pgserver()
    from pgserver.utils import PostmasterInfo

    pgdata = settings.pgdata.resolve()
    if not (pgdata / "PG_VERSION").exists():
        return None
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return info.get_uri()


def _tune_embedded(server) -> None:
    with contextlib.closing(psycopg2.connect(server.get_uri())) as conn:
        conn.autocommit = True
        cur = conn.cursor()
        stale = []
        for name, value in EMBEDDED_SERVER_SETTINGS.items():
            cur.execute(f"SHOW {name}")
            if cur.fetchone()[0] != value:
                stale.append(name)
                cur.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    if stale:
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo

        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)  # pgserver caches it


def start_embedded(settings: Settings) -> str:
    """Start (or find) the embedded server and return its server URI."""
    last_error: Exception | None = None
    for attempt in range(3):  # pgserver gives pg_ctl 10 s; a busy machine can need a second try
        try:
            server = _embedded_server(settings)
            _tune_embedded(server)
            return server.get_uri()
        except Exception as exc:  # pgserver raises assorted errors; give the user one clear line
            last_error = exc
            from pgserver.postgres_server import PostgresServer

            PostgresServer._instances.pop(settings.pgdata.resolve(), None)  # drop the half-made handle
            time.sleep(1 + attempt)
    log = settings.pgdata / "log"
    raise DatabaseError(
        f"could not start the embedded PostgreSQL in {settings.pgdata} ({last_error}); see {log}"
    ) from last_error


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server; False if it was not running."""
    if _embedded_running_uri(settings) is None:
        return False
    from pgserver._commands import pg_ctl

    server = _embedded_server(settings)
    pg_ctl(["-w", "stop"], pgdata=server.pgdata, user=server.system_user)
    return True


def server_url(settings: Settings, *, start: bool = True) -> URL:
    """URL of the PostgreSQL server (database part: postgres)."""
    if settings.database_url:
        url = make_url(settings.database_url)
    else:
        uri = _embedded_running_uri(settings) or (start_embedded(settings) if start else None)
        if uri is None:
            raise DatabaseError(
                f"the embedded PostgreSQL in {settings.pgdata} is not running; start it with `ecomm db up`"
            )
        url = make_url(uri)
    return url.set(drivername="postgresql+psycopg2")


def database_url(settings: Settings, database: str | None = None, *, start: bool = True) -> URL:
    return server_url(settings, start=start).set(database=database or settings.warehouse_db)


def libpq_dsn(url: URL) -> str:
    """A psycopg2/libpq connection string for a SQLAlchemy URL (socket hosts included)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_databases(settings: Settings) -> list[str]:
    """Create the three databases (docs/architecture.md#databases-and-schemas) if missing; return those created."""
    return [name for name in settings.databases if create_database(settings, name, if_missing=True)]


def create_database(
    settings: Settings, name: str, *, template: str | None = None, if_missing: bool = False
) -> bool:
    """Create database `name` on the server, a copy of `template` when given; True if created.
    `if_missing`: an existing database (even one created concurrently) is left as it is."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with connection(settings, "postgres") as conn:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        if if_missing and _database_exists(conn, name):
            # looked up first: PostgreSQL refuses the statement to a role without CREATEDB before it
            # checks the name, and Compose's roles own their databases without that privilege
            return False
        try:
            conn.cursor().execute(statement)
        except psycopg2.errors.DuplicateDatabase:
            if not if_missing:
                raise
            return False
    return True


def _database_exists(conn, name: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def drop_database(settings: Settings, name: str, *, start: bool = True) -> None:
    """Drop database `name` if it exists, ending the sessions connected to it (`WITH (FORCE)`).
    `start=False`: never start the embedded server for it (DatabaseError if it is not running)."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with connection(settings, "postgres", start=start) as conn:
        conn.autocommit = True  # DROP DATABASE cannot run inside a transaction
        conn.cursor().execute(statement)


def connect(settings: Settings, database: str | None = None, *, start: bool = True):
    """A raw psycopg2 connection (COPY needs it); `start=False`: never start the embedded server
    (DatabaseError if it is not running)."""
    url = database_url(settings, database, start=start)
    try:
        return psycopg2.connect(libpq_dsn(url), connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise connection_error(settings, exc) from exc


def connection_error(settings: Settings, exc: Exception) -> DatabaseError:
    """One clear line for a failed connection (psycopg2's or SQLAlchemy's)."""
    where = "DATABASE_URL" if settings.database_url else f"the embedded server in {settings.pgdata}"
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    first_line = text.splitlines()[0] if text else type(cause).__name__
    return DatabaseError(f"cannot connect to {where}: {first_line}")


@contextlib.contextmanager
def connection(settings: Settings, database: str | None = None, *, start: bool = True) -> Iterator:
    conn = connect(settings, database, start=start)
    try:
        yield conn
    finally:
        conn.close()


def engine(settings: Settings, database: str | None = None) -> Engine:
    return sa.create_engine(database_url(settings, database), pool_pre_ping=True)


def query_frame(conn, sql: str, params: dict | None = None):
    """Run a parameterised query on a psycopg2 connection; the rows as a pandas DataFrame."""
    import pandas as pd  # lazily: most users of this module never build frames

    with conn.cursor() as cur:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=names)


def package_sql(package: str, name: str) -> str:
    """A SQL file shipped in `package`'s `sql/` folder."""
    from importlib.resources import files

    return (files(package) / "sql" / name).read_text(encoding="utf-8")
