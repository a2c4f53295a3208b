"""`ecomm db migrate`: Alembic upgrade to head (re-running is a no-op)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ecomm import db
from ecomm.settings import Settings


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ecomm.warehouse") / "migrations"))
    return cfg


def current_revision(settings: Settings) -> str | None:
    engine = db.engine(settings)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS audit")
            return MigrationContext.configure(
                conn, opts={"version_table_schema": "audit"}
            ).get_current_revision()
    finally:
        # no pooled connection may outlive the call: a database with a session left open cannot
        # serve as a template for a new database or be dropped
        engine.dispose()


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def migrate(settings: Settings) -> tuple[str | None, str]:
    """Create the databases if missing and upgrade the warehouse; returns (before, after)."""
    db.ensure_databases(settings)
    before = current_revision(settings)
    cfg = _config()
    engine = db.engine(settings)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    engine.dispose()
    return before, head_revision()
