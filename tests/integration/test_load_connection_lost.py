"""The server going away mid-load (issue 21, item 14): one line naming the real problem and saying
that nothing of the range was committed, exit 1, no traceback; a rerun once the server is back loads
everything. Before: the rollback in the error path raised "InterfaceError: connection already closed",
which hid the real error behind a traceback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import LOAD_LOCK_KEY, ConnectionLost, load_directory

from support.batches import DAY, order_line, small_batch, write_batch

NEXT_DAY = DAY + timedelta(days=1)


def _wait_until(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_server_ending_the_loaders_connection_is_one_clear_error(warehouse, sql, tmp_path):
    small_batch(tmp_path, DAY)
    write_batch(tmp_path, NEXT_DAY, order_items=[order_line(2000 + i, 1, 1, 1, NEXT_DAY) for i in range(5)])
    conn = db.connect(warehouse)
    loader = conn.get_backend_pid()

    def terminate_after_first_date(result) -> None:  # the first date is staged, in the transaction
        if result.batch_date == DAY:
            sql("SELECT pg_terminate_backend(%s)", (loader,))
            _wait_until(
                lambda: not sql("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (loader,)),
                "the backend to end",
            )

    with pytest.raises(ConnectionLost) as lost:
        load_directory(conn, tmp_path, threshold=0.05, progress=terminate_after_first_date)
    assert str(lost.value) == (
        "the database connection was lost during the load (server closed the connection unexpectedly); "
        f"nothing of {DAY}..{NEXT_DAY} was committed: run the load again once the server is back"
    )
    assert conn.closed
    assert sql("SELECT count(*) FROM warehouse.fact_order_items") == [(0,)]
    assert sql("SELECT count(*) FROM audit.load_runs") == [(0,)]

    with db.connection(warehouse) as again:  # the rerun loads both dates, whole
        assert [r.status for r in load_directory(again, tmp_path, threshold=0.05)] == ["loaded", "loaded"]
    assert sql("SELECT batch_date, count(*) FROM warehouse.fact_order_items GROUP BY 1 ORDER BY 1") == [
        (DAY, 20),
        (NEXT_DAY, 5),
    ]


# --- `ecomm load` against a server of its own, whose postmaster is killed ------------------------
@pytest.fixture
def own_server(tmp_path):
    """Environment of `ecomm` with an embedded server of its own (never the session's shared one),
    stopped at the end."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ECOMM_DATABASE_URL")}
    env |= {"ECOMM_HOME": str(tmp_path / "home"), "ECOMM_WAREHOUSE_DB": "data_warehouse"}
    yield env
    subprocess.run(
        [sys.executable, "-m", "ecomm.cli", "db", "down"], env=env, capture_output=True, timeout=60
    )


def _ecomm(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "ecomm.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _warehouse(env: dict):
    """A connection to the own server's warehouse (never starting a server)."""
    settings = Settings(_env_file=None, home=Path(env["ECOMM_HOME"]), warehouse_db="data_warehouse")
    return db.connect(settings, start=False)


def _crash(pgdata: Path) -> None:
    """Stop the server the way a crash does: `pg_ctl stop -m immediate` (every server process quits at
    once, no checkpoint; crash recovery at the next start). Not SIGKILL of the postmaster: in a
    container whose init does not reap orphans, the killed postmaster stays a zombie and its
    postmaster.pid makes PostgreSQL refuse to start again ("another postmaster running")."""
    from pgserver._commands import pg_ctl

    server = db._embedded_server(Settings(_env_file=None, home=pgdata.parent))
    pg_ctl(["-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)


def test_ecomm_load_with_its_server_killed_mid_load_is_one_line_and_a_rerun_loads_all(own_server, tmp_path):
    env = own_server
    batch = small_batch(tmp_path / "raw")
    assert _ecomm(env, "db", "migrate").returncode == 0  # starts the server, creates the databases

    holder = _warehouse(env)  # holds the load lock: the loader waits for it inside its transaction
    holder.autocommit = True
    holder.cursor().execute("SELECT pg_advisory_lock(%s)", (LOAD_LOCK_KEY,))
    load = subprocess.Popen(
        [sys.executable, "-m", "ecomm.cli", "load", str(batch)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def loader_waits() -> bool:
            with holder.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
                return cur.fetchone() is not None

        _wait_until(loader_waits, "the loader to wait for the load lock", seconds=120)
        _crash(Path(env["ECOMM_HOME"]) / "pgdata")
        _, stderr = load.communicate(timeout=60)
    finally:
        load.kill()
    holder.close()

    assert load.returncode == 1
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert line.startswith("error: the database connection was lost during the load (")
    assert line.endswith(f"); nothing of {DAY} was committed: run the load again once the server is back")

    assert _ecomm(env, "db", "up").returncode == 0  # the server is back (after crash recovery)
    with contextlib.closing(_warehouse(env)) as conn:  # the rerun (the loader itself: no marts build)
        assert sql_rows(conn, "SELECT count(*) FROM audit.load_runs") == [(0,)]
        assert [r.status for r in load_directory(conn, batch, threshold=0.05)] == ["loaded"]
        assert sql_rows(conn, "SELECT count(*), sum(revenue) FROM warehouse.fact_order_items") == [(20, 700)]


def sql_rows(conn, query: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()
