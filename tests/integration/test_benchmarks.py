"""The benchmarks stop the embedded PostgreSQL they start (at a tiny size, in a work folder of the test's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ecomm import db
from ecomm.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "--customers",
    "150",
    "--products",
    "30",
    "--days",
    "60",
    "--baseline-rows",
    "200",
    "--to-sql-batches",
    "1",
]


def _postmasters(pgdata: Path) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and f"-D {pgdata} " in " ".join(p.info["cmdline"] or []) + " "
    ]


def _bench(work: Path, results: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"ECOMM_BENCH_WORK": str(work)}
    only = ["--only", "generate", "--only", "load"]
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *only, *TINY, "--results", str(results)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture
def work(tmp_path):
    work = tmp_path / "work"
    yield work
    for pid in _postmasters(work / "home" / "pgdata"):  # a failed test leaves nothing running
        psutil.Process(pid).terminate()


@pytest.mark.parametrize("running_before", [False, True], ids=["started-by-the-run", "already-running"])
def test_generate_and_load_stop_only_the_server_they_started(work, tmp_path, running_before, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    home = Settings(_env_file=None, home=work / "home")
    if running_before:
        db.start_embedded(home)
    done = _bench(work, tmp_path / "results")
    assert done.returncode == 0, done.stderr[-3000:]
    load = json.loads((tmp_path / "results" / "load.json").read_text())
    assert load["ours"]["batches"] == 60  # it ran, on the tiny world
    if running_before:
        assert len(_postmasters(home.pgdata)) == 1  # not ours to stop
        assert db.stop_embedded(home)
    assert _postmasters(home.pgdata) == []
