"""The `ecomm` command as a user runs it: exit codes and one-line errors, against the real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ecomm import db
from ecomm.settings import PROJECT_ROOT, Settings

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
    for command in (
        "db",
        "generate",
        "load",
        "pipeline",
        "train",
        "predict",
        "evaluate",
        "status",
        "causal",
        "stream",
    ):
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


def test_a_connection_that_may_not_start_the_server_never_does(tmp_path):
    settings = Settings(_env_file=None, home=tmp_path, database_url=None)
    with pytest.raises(db.DatabaseError, match="the embedded PostgreSQL in .* is not running"):
        db.connect(settings, "postgres", start=False)
    assert not settings.pgdata.exists()  # nothing was initialised, nothing started


def test_migrate_twice_is_a_no_op(env):
    first, second = run("db", "migrate", env=env), run("db", "migrate", env=env)
    assert first.returncode == second.returncode == 0
    from ecomm.warehouse.migrate import head_revision

    assert second.stdout.strip() == f"warehouse at revision {head_revision()}"


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


def test_generate_bad_config_is_one_line(env, tmp_path):
    _one_line_error(
        run("generate", "--out", str(tmp_path / "w"), "--days", "10", env=env),
        "days must be >= 60 (the regional campaign needs 8 weeks of pre-period), got 10",
    )


def test_generate_next_without_a_world(env, tmp_path):
    result = run("generate", "--out", str(tmp_path / "none"), "--next", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: no generator state in {tmp_path / 'none' / '_state'}")


def test_generate_then_pipeline_run_for_the_next_day(env, tmp_path):
    out = tmp_path / "world"
    generated = run(
        "generate",
        "--out",
        str(out),
        "--days",
        "60",
        "--customers",
        "200",
        "--products",
        "30",
        "--as-of",
        "2025-05-31",
        env=env,
    )
    assert generated.returncode == 0, generated.stderr
    assert f"wrote 60 batch(es) 2025-04-02 .. 2025-05-31 to {out}" in generated.stdout
    assert run("load", str(out), env=env).returncode == 0
    result = run("pipeline", "run", "--date", "2025-06-01", "--raw-dir", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "1 batch(es): 1 loaded, 0 skipped, 0 rejected" in result.stdout
    assert (out / "2025-06-01" / "order_items.csv").exists()
    before = run("pipeline", "run", "--date", "2025-03-01", "--raw-dir", str(out), env=env)
    _one_line_error(before, "2025-03-01 is before the first day of the simulated world (2025-04-02)")


# ------------------------------------------------------- read-only commands, from another folder
def _no_ecomm_settings(monkeypatch) -> None:
    """A user's shell: no ECOMM_* or DATABASE_URL (the CLI reads the project's .env itself)."""
    for name in list(os.environ):
        if name.startswith("ECOMM_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


def _postgres_on(pgdata: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and str(pgdata) in " ".join(p.info["cmdline"] or [])
    ]


@pytest.mark.parametrize("command", [("db", "url"), ("status",)])
@pytest.mark.parametrize("home", ["absolute", "relative"])
def test_a_look_at_a_stopped_server_starts_nothing(command, home, tmp_path, monkeypatch):
    _no_ecomm_settings(monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = f"test-home-{os.getpid()}-{tmp_path.name}"
    setting = str(tmp_path / name) if home == "absolute" else name
    expected_home = tmp_path / name if home == "absolute" else PROJECT_ROOT / name  # relative: the project's
    try:
        result = run(*command, env={"ECOMM_HOME": setting}, cwd=elsewhere)
        _one_line_error(
            result,
            f"the embedded PostgreSQL in {expected_home / 'pgdata'} is not running; start it with `ecomm db up`",
        )
        assert not expected_home.exists() and list(elsewhere.iterdir()) == []
        assert _postgres_on(expected_home) == []
    finally:  # what a look must never leave, in the current folder or the project: a server of its own
        for pid in _postgres_on(tmp_path) + _postgres_on(expected_home):
            psutil.Process(pid).terminate()
        if home == "relative":
            shutil.rmtree(expected_home, ignore_errors=True)


def test_db_url_from_another_folder_is_the_projects(tmp_path, monkeypatch):
    """No ECOMM_HOME: the project's home (or its .env's), whatever the current folder."""
    _no_ecomm_settings(monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    project = Settings()  # in-process, the same resolution: the project's .env, then its .ecomm/
    assert project.home.is_absolute() and not project.home.is_relative_to(elsewhere)
    running_before = project.database_url is not None or db._embedded_running_uri(project) is not None
    result = run("db", "url", cwd=elsewhere)
    assert list(elsewhere.iterdir()) == []
    if running_before:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == db.libpq_dsn(db.database_url(project, start=False))
    else:
        _one_line_error(
            result,
            f"the embedded PostgreSQL in {project.pgdata} is not running; start it with `ecomm db up`",
        )
        assert db._embedded_running_uri(project) is None


def test_db_url_from_another_folder_with_ecomm_home_prints_that_server(
    server_settings, tmp_path, monkeypatch
):
    if server_settings.database_url:
        pytest.skip("TEST_DATABASE_URL: the session runs no embedded server")
    _no_ecomm_settings(monkeypatch)
    result = run("db", "url", env={"ECOMM_HOME": str(server_settings.home)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = db.server_url(server_settings, start=False).set(database=Settings().warehouse_db)
    assert result.stdout.strip() == db.libpq_dsn(expected)


def test_a_bad_setting_is_one_line(env):
    _one_line_error(
        run("status", env={**env, "ECOMM_BAD_ROW_THRESHOLD": "2"}),
        "setting bad_row_threshold: Input should be less than or equal to 1",
    )


@pytest.mark.parametrize("command", [("status",), ("predict", "churn"), ("causal", "report", "--no-store")])
def test_every_sub_command_reports_an_unreachable_server_in_one_line(command, tmp_path):
    result = run(
        *command, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x", "ECOMM_HOME": str(tmp_path)}
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: cannot connect to DATABASE_URL: ")
