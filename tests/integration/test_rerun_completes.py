"""A re-run completes what a crashed run left and never hides a failed check (issue 21, 10 and 11),
through `ecomm load` as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ecomm import db

from support.batches import DAY, customer, order_line, product, small_batch, write_batch
from support.cli import ecomm

ECOMM = [sys.executable, "-m", "ecomm.cli"]


@pytest.fixture
def env(warehouse, tmp_path) -> dict:
    url = db.libpq_dsn(db.server_url(warehouse))
    return {
        **os.environ,
        "DATABASE_URL": url,
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_HOME": str(tmp_path),
    }


def ecomm_load(path, env, cwd=None) -> subprocess.CompletedProcess:
    """`ecomm load PATH` (in this process: support.cli; the kill test below runs a real process)."""
    return ecomm("load", str(path), env=env, cwd=cwd)


def test_kill_after_commit_before_checks_rerun_checks(warehouse, sql, env, tmp_path):
    """`kill -9` of the loader after its batch committed, while its checks wait: the re-run loads
    nothing, and still checks the batch and builds the marts."""
    batch = small_batch(tmp_path / "raw")
    blocker = db.connect(warehouse)
    with blocker.cursor() as cur:  # the checks' INSERT waits on this lock: the batch is committed by then
        cur.execute("LOCK TABLE audit.quality_checks IN EXCLUSIVE MODE")
    proc = subprocess.Popen(
        [*ECOMM, "load", str(batch)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.time() + 120
        while not sql.one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query LIKE 'INSERT INTO audit.quality_checks%%'"
        ):
            assert proc.poll() is None and time.time() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        blocker.rollback()
        blocker.close()
    assert sql(
        "SELECT status, checks_passed, (SELECT count(*) FROM audit.mart_builds b WHERE b.batch_date = r.batch_date) FROM audit.load_runs r"
    ) == [("loaded", None, 0)]
    assert sql.one("SELECT count(*) FROM warehouse.fact_order_items") == 20
    assert sql.one("SELECT count(*) FROM audit.quality_checks") == 0
    assert sql.one("SELECT to_regclass('marts.daily_sales') IS NULL")  # never built
    status = ecomm("status", env=env)
    assert "batches to check again" in status.stdout
    assert f"│ {DAY} │ never checked │ missing │" in status.stdout

    rerun = ecomm_load(batch, env)

    assert rerun.returncode == 0, rerun.stderr
    assert "1 batch(es): 0 loaded, 1 skipped, 0 rejected" in rerun.stdout
    assert f"checked again (unchecked or failed before): {DAY}" in rerun.stdout
    assert f"marts built for batch(es) an earlier run left out: {DAY}" in rerun.stdout
    run_id = sql.one("SELECT run_id FROM audit.load_runs")
    assert sql("SELECT DISTINCT batch_date, load_run_id, passed FROM audit.quality_checks") == [
        (DAY, run_id, True)
    ]
    assert sql(
        "SELECT checks_passed, (SELECT count(*) FROM audit.mart_builds b WHERE b.batch_date = r.batch_date) FROM audit.load_runs r"
    ) == [(True, 1)]
    assert sql("SELECT order_date, orders, net_revenue FROM marts.daily_sales") == [(DAY, 20, 700)]
    # complete now: a third run has nothing left to do
    third = ecomm_load(batch, env)
    assert third.returncode == 0 and "checked again" not in third.stdout and "marts built" not in third.stdout


def test_failed_check_not_hidden_by_rerun(warehouse, sql, env, tmp_path):
    """A failed check fails every re-run while it stands (each re-run checks the batch again), and
    stops failing once the data is fixed."""
    batch = write_batch(
        tmp_path / "raw",
        customers=[customer(1), customer(2, email="C1@example.com")],
        products=[product(1)],
        order_items=[order_line(1, 1, 1, 1)],
    )
    failure = f"failed check duplicate_customer_emails ({DAY}): 1 offending rows in batch {DAY}"

    first = ecomm_load(batch, env)
    assert first.returncode == 1
    assert failure in first.stderr and "Traceback" not in first.stderr
    assert "1 batch(es): 1 loaded, 0 skipped, 0 rejected" in first.stdout

    second = ecomm_load(batch, env)
    assert second.returncode == 1
    assert failure in second.stderr
    assert "1 batch(es): 0 loaded, 1 skipped, 0 rejected" in second.stdout
    assert f"checked again (unchecked or failed before): {DAY}" in second.stdout
    assert sql(
        "SELECT count(*) FROM audit.quality_checks WHERE check_name = 'duplicate_customer_emails' AND NOT passed"
    ) == [(2,)]

    with db.connection(warehouse) as conn, conn.cursor() as cur:  # the data is fixed in the warehouse
        cur.execute("UPDATE warehouse.dim_customer SET email = 'c2@example.com' WHERE customer_id = 2")
        conn.commit()
    fixed = ecomm_load(batch, env)
    assert fixed.returncode == 0, fixed.stderr
    assert sql("SELECT checks_passed FROM audit.load_runs") == [(True,)]
    after = ecomm_load(batch, env)
    assert after.returncode == 0 and "checked again" not in after.stdout


def test_a_relative_path_is_recorded_absolute_for_later_checks(sql, env, tmp_path):
    """The checks of a later run (from another directory) read the raw files again from source_dir."""
    batch = small_batch(tmp_path / "raw")
    assert ecomm_load("raw", env, cwd=tmp_path).returncode == 0
    assert sql.one("SELECT source_dir FROM audit.load_runs") == str(batch)


def test_pipeline_run_after_a_crash_checks_the_batch_and_builds_the_marts(warehouse, sql, tmp_path):
    """`ecomm pipeline run` (and the DAG's steps) complete a load whose process died after its commit."""
    from ecomm.pipeline import run_for_date
    from ecomm.warehouse.load import load_directory

    batch = small_batch(tmp_path / "raw")
    with db.connection(warehouse) as conn:  # the state a kill -9 after the commit leaves
        assert [r.status for r in load_directory(conn, batch, threshold=0.05)] == ["loaded"]
    assert sql(
        "SELECT checks_passed, (SELECT count(*) FROM audit.mart_builds b WHERE b.batch_date = r.batch_date) FROM audit.load_runs r"
    ) == [(None, 0)]

    report = run_for_date(warehouse, DAY, tmp_path / "raw")

    assert [b.status for b in report.batches] == ["skipped"] and report.ok
    assert report.rechecked_dates == [DAY] and report.marts_pending == [DAY]
    assert sql(
        "SELECT checks_passed, (SELECT count(*) FROM audit.mart_builds b WHERE b.batch_date = r.batch_date) FROM audit.load_runs r"
    ) == [(True, 1)]
    assert sql("SELECT order_date, orders, net_revenue FROM marts.daily_sales") == [(DAY, 20, 700)]
