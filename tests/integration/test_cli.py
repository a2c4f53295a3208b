"""The `ecomm` command as a user runs it: exit codes and one-line errors, against the real server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecomm import db

from support.batches import small_batch

ECOMM = [sys.executable, "-m", "ecomm.cli"]


def run(*args, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*ECOMM, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.fixture
def env(warehouse, tmp_path) -> dict:
    """The test warehouse's server as DATABASE_URL, with the warehouse database name."""
    url = db.libpq_dsn(db.server_url(warehouse))
    return {"DATABASE_URL": url, "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db, "ECOMM_HOME": str(tmp_path)}


def _one_line_error(result, expected: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == f"error: {expected}"


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("db", "generate", "load", "pipeline", "status"):
        assert f" {command} " in result.stdout


def test_missing_directory(env):
    _one_line_error(run("load", "/no/such/dir", env=env), "/no/such/dir: no such directory")


def test_directory_without_batches(env, tmp_path):
    _one_line_error(
        run("load", str(tmp_path), env=env), f"{tmp_path}: no batch directories (named YYYY-MM-DD) inside"
    )


def test_bad_date(env):
    _one_line_error(
        run("pipeline", "run", "--date", "2025-13-01", env=env),
        "--date: '2025-13-01' is not a date (expected YYYY-MM-DD)",
    )


def test_unreachable_database(tmp_path):
    result = run(
        "status", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x", "ECOMM_HOME": str(tmp_path)}
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot connect to DATABASE_URL: ")


def test_migrate_twice_is_a_no_op(env):
    first, second = run("db", "migrate", env=env), run("db", "migrate", env=env)
    assert first.returncode == second.returncode == 0
    assert second.stdout.strip() == "warehouse at revision 0002"


def test_load_then_status(env, tmp_path):
    batch = small_batch(tmp_path / "raw")
    loaded = run("load", str(batch.parent), env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "1 batch(es): 1 loaded, 0 skipped, 0 rejected" in loaded.stdout
    again = run("load", str(batch.parent), env=env)
    assert "1 batch(es): 0 loaded, 1 skipped, 0 rejected" in again.stdout
    status = run("status", env=env)
    assert status.returncode == 0
    assert "fact_order_items" in status.stdout and "│ 20 " in status.stdout


def test_rejected_batch_exits_non_zero_with_reason(env, tmp_path):
    batch = small_batch(tmp_path / "raw")
    (batch / "reviews.csv").write_bytes(b"")
    result = run("load", str(batch), env=env)
    assert result.returncode == 1
    assert f"rejected batch {batch.name}: {batch / 'reviews.csv'}: file is empty" in " ".join(
        result.stderr.split()
    )
