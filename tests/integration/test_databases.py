"""Creating and dropping databases: one helper (ecomm.db) for the product, the tests and the benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

from ecomm import db
from ecomm.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _exists(settings, name: str) -> bool:
    with db.connection(settings, "postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None


def _as_superuser(settings, statement: str) -> None:
    with db.connection(settings, "postgres") as conn:
        conn.autocommit = True
        conn.cursor().execute(statement)


@pytest.fixture
def name(template_warehouse):
    """A database name that needs quoting (a quote, a space, capitals); dropped after the test."""
    name = f'Odd "name" {uuid.uuid4().hex[:6]}'
    yield name
    db.drop_database(template_warehouse, name)


def test_create_quotes_the_name_and_if_missing_keeps_an_existing_one(template_warehouse, name):
    assert db.create_database(template_warehouse, name) is True
    assert _exists(template_warehouse, name)
    assert db.create_database(template_warehouse, name, if_missing=True) is False
    with pytest.raises(psycopg2.errors.DuplicateDatabase):
        db.create_database(template_warehouse, name)


def test_if_missing_needs_no_createdb_privilege_for_an_existing_database(template_warehouse, name):
    # Compose's db-migrate runs ensure_databases as the warehouse's owner, a role without CREATEDB
    role = f"no_createdb_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name)
    _as_superuser(template_warehouse, f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    owner = template_warehouse.model_copy(
        update={"database_url": db.server_url(template_warehouse).set(username=role).render_as_string(False)}
    )
    try:
        assert db.create_database(owner, name, if_missing=True) is False
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            db.create_database(owner, f"{name} new", if_missing=True)
    finally:
        _as_superuser(template_warehouse, f'DROP ROLE "{role}"')


def test_create_from_a_template_copies_it(template_warehouse, name):
    db.create_database(template_warehouse, name, template=template_warehouse.warehouse_db)
    copy = template_warehouse.model_copy(update={"warehouse_db": name})
    with db.connection(copy) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('warehouse.fact_order_items') IS NOT NULL")
        assert cur.fetchone()[0] is True


def test_drop_ends_open_sessions_and_ignores_a_missing_database(template_warehouse, name):
    db.create_database(template_warehouse, name)
    open_session = db.connect(template_warehouse, name)
    try:
        db.drop_database(template_warehouse, name)  # WITH (FORCE): the open session does not block it
    finally:
        open_session.close()
    assert not _exists(template_warehouse, name)
    db.drop_database(template_warehouse, name)  # already gone: no error


def test_drop_without_start_never_starts_a_server(tmp_path):
    stopped = Settings(_env_file=None, home=tmp_path, database_url=None)
    with pytest.raises(db.DatabaseError, match="the embedded PostgreSQL in .* is not running"):
        db.drop_database(stopped, "anything", start=False)
    assert not stopped.pgdata.exists()


def test_no_other_code_writes_create_or_drop_database():
    """The SQL lives in ecomm.db only (the deployment's shell scripts aside: they run before Python)."""
    statement = re.compile(r"(CREATE|DROP) DATABASE")  # the SQL is written in capitals here
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("src", "tests", "benchmarks", "docker", "airflow")
        for path in (REPO / folder).rglob("*.py")
        if path != REPO / "src/ecomm/db.py"
        and path != Path(__file__)
        and path.name != "test_deploy_docker.py"  # asserts the init script's SQL text
        and statement.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


WATCHED_SESSION = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from ecomm import db
from ecomm.settings import Settings
from support import pg_watchdog
home = Path(sys.argv[1])
db.start_embedded(Settings(_env_file=None, home=home, database_url=None))
pg_watchdog.start(home)
print("up", flush=True)
time.sleep(600)
"""


def test_a_killed_session_leaves_no_embedded_server_running(tmp_path):
    """The session fixture's watchdog (tests/support/pg_watchdog.py): a process killed before its
    teardown (a crashed worker, a CI timeout) does not leave its embedded PostgreSQL behind."""
    session = subprocess.Popen(
        [sys.executable, "-c", WATCHED_SESSION, str(tmp_path), str(REPO / "tests")],
        stdout=subprocess.PIPE,
        text=True,
    )
    settings = Settings(_env_file=None, home=tmp_path, database_url=None)
    try:
        assert session.stdout.readline() == "up\n"
        assert db._embedded_running_uri(settings) is not None
    finally:
        session.kill()
        session.wait()
    try:
        deadline = time.monotonic() + 120
        while db._embedded_running_uri(settings) is not None:
            assert time.monotonic() < deadline, "the killed session's server still runs"
            time.sleep(0.5)
    finally:
        db.stop_embedded(settings)  # only if the watchdog failed: this test leaves nothing either
