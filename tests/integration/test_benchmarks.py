"""The benchmarks stop the embedded PostgreSQL they start (at a tiny size, in a work folder of the test's)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ecomm import db
from ecomm.ml.forecast.models import ModelSettings
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


FORECAST_TARGETS = [
    "forecast category MASE / seasonal naive's (h14)",
    "forecast product MASE / seasonal naive's (h14)",
    "forecast category MASE / oracle's (h14)",
    "forecast category 80% interval coverage (h14)",
    "forecast category 95% interval coverage (h14)",
    "forecast product 80% interval coverage (h14)",
    "forecast product 95% interval coverage (h14)",
    "forecast stock policy: service level, less stock than naive",
    "forecast stock policy: stock / naive's at equal service",
]


def _forecast_target_met(name: str, observed: float, stock: dict) -> bool:
    """The issue's rule for each target (what the benchmark must have judged)."""
    if "/ seasonal naive's" in name:
        return observed <= (0.8 if "category" in name else 0.9)
    if "/ oracle's" in name:
        return observed <= 1.15
    if "80%" in name:
        return 0.77 <= observed <= 0.83
    if "95%" in name:
        return 0.92 <= observed <= 0.98
    if "at equal service" in name:
        return observed == stock["average_stock"] / stock["matched_naive_average_stock"] and observed < 1
    return abs(observed - 0.95) <= 0.02 and stock["average_stock"] < stock["naive_average_stock"]


def test_forecast_seeds_judges_each_target_on_a_tiny_world(tmp_path):
    """`--only forecast_seeds` (no server needed): one seed's world of 150 customers, 30 products,
    90 days (room for the validation origins the model is chosen on before the 4 reported ones)
    backtested at category and product level, and the speed world (70 days) forecast 30 days ahead."""
    tiny = ["--customers", "150", "--products", "30", "--days", "70"]
    seeds = ["--forecast-seeds", "1", "--forecast-world", "150", "30", "90"]
    found = _bench_result(tmp_path, "forecast_seeds", *tiny, *seeds)
    assert found["world"] == {"as_of": "2025-12-31", "days": 90, "customers": 150, "products": 30}
    (run,) = found["seeds"]
    assert (run["seed"], run["first_day"], run["last_day"]) == (1, "2025-10-03", "2025-12-31")
    assert run["cutoffs"] == ["2025-11-10", "2025-11-17", "2025-11-24", "2025-12-01"]
    assert list(run["levels"]) == ["category", "product"]
    product = run["levels"]["product"]
    assert run["stock"]["series"] == product["series"] and run["stock"]["days"] == 20
    # Black Friday 2025 to Cyber Monday, the shop's sitewide sale, in the reported origins' days
    assert run["sale_days"] == ["2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01"]
    assert found["forecast"]["levels"]["product"]["ets_model"] == ModelSettings().ets_model
    assert set(found["forecast"]["levels"]) == {"product", "category", "total"}
    for row in run["levels"].values():
        assert row["method"] in ("seasonal_naive", "auto_ets")
        assert row["vs_naive"] == pytest.approx(row["mase"] / row["naive_mase"])
        assert row["vs_oracle"] == pytest.approx(row["mase"] / row["oracle_mase"])
        # 4 origins x 14 days per series; the days after Nov 17 and after Nov 24 hold the sale's 4
        # (Nov 11-24 and Dec 2-15 none)
        assert row["days_scored"] == row["series"] * 4 * 14
        assert row["sale_days_left_out"] == row["series"] * 2 * 4
        assert row["vs_oracle_outside_sales"] > 0
    assert [t["name"] for t in run["targets"]] == FORECAST_TARGETS
    for target in run["targets"]:
        assert target["met"] == _forecast_target_met(target["name"], target["observed"], run["stock"])
    assert [(t["name"], t["met"], t["met_in"]) for t in found["targets"]] == [
        (t["name"], {"1": t["met"]}, int(t["met"])) for t in run["targets"]
    ]
    speed = found["speed"]
    assert speed["world"]["products"] == 30 and speed["horizon"] == 30
    ets = ModelSettings().ets_model
    assert [(r["method"], r["ets_model"], r["workers"], r["rows"]) for r in speed["runs"]] == [
        (method, ets if method == "auto_ets" else None, workers, speed["series"] * 30)
        for method in ("seasonal_naive", "auto_ets")
        for workers in (1, 2)
    ] + ([("auto_ets", "ZZZ", 2, speed["series"] * 30)] if ets != "ZZZ" else [])  # the full search beside
    auto_ets_on_two = next(
        r for r in speed["runs"] if r["method"] == "auto_ets" and r["ets_model"] == ets and r["workers"] == 2
    )
    assert speed["target"]["observed"] == auto_ets_on_two["seconds"]
    assert speed["target"]["met"] == (auto_ets_on_two["seconds"] <= 60)
    assert all(r["cpu_seconds"] > 0 for r in speed["runs"])  # the process's and its workers'
    assert not (tmp_path / "work" / "forecast-seed-1").exists()  # the raw worlds are removed


def test_import_benchmark_imports_the_synthetic_log_and_copies_it(import_and_ingest):
    """`--only import` at 3,000 lines over 10 days: every line read, the batches loaded, a COPY beside;
    the read-derive-write peak memory at 2,000 and 3,000 lines (not its default 250,000 to 4,000,000:
    more than a minute of the test's time, for sizes the test reads nothing of)."""
    found = import_and_ingest["import"]
    ours, copy = found["ours"], found["bare_copy"]
    assert (found["rows"], found["days"], ours["rows_read"], ours["batches"], copy["rows"]) == (
        3000,
        10,
        3000,
        10,
        3000,
    )
    assert ours["quarantined"] == {} and 0 < ours["imported"]["order_items"] <= 3000
    assert set(ours["phase_seconds"]) == {"batches", "truth", "checks", "marts"}
    assert found["ratio_ours_over_copy"] == round(ours["seconds"] / copy["seconds"], 1)
    assert found["target_met"] == (ours["seconds"] <= 60)
    assert [m["rows"] for m in found["memory_by_rows"]] == [2000, 3000]
    assert all(m["peak_rss_mib"] > 0 and m["log_mib"] > 0 for m in found["memory_by_rows"])


def _bench_result(tmp_path, only: str, *options: str) -> dict:
    """`benchmarks.run --only ONLY` in a work folder of the test's; its stored result."""
    return _bench_results(tmp_path, [only], *options)[only]


def _bench_results(tmp_path, only: list[str], *options: str) -> dict[str, dict]:
    """One `benchmarks.run` of the benchmarks `only` in a work folder of the test's; their stored
    results by name."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {
        "ECOMM_BENCH_WORK": str(tmp_path / "work")
    }
    pgdata = tmp_path / "work" / "home" / "pgdata"
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.run",
                *(arg for name in only for arg in ("--only", name)),
                *options,
                "--results",
                str(tmp_path / "results"),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert _postmasters(pgdata) == []  # it stopped the server it started
    finally:  # a failed or timed-out run (killed: no stop of its own) leaves nothing running
        for pid in _postmasters(pgdata):
            psutil.Process(pid).terminate()
    return {name: json.loads((tmp_path / "results" / f"{name}.json").read_text()) for name in only}


@pytest.fixture(scope="module")
def import_and_ingest(tmp_path_factory) -> dict[str, dict]:
    """import, import_interactions and stream_ingest in one run: one embedded server and one start-up for both (each on a
    warehouse database of its own). stream_fanout runs alone: it starts on an empty stream."""
    return _bench_results(
        tmp_path_factory.mktemp("import-and-ingest"),
        ["import", "import_interactions", "stream_ingest"],
        *("--import-rows", "3000", "--days", "10", "--import-memory-rows", "2000", "3000"),
        *("--import-interactions-rows", "2000", "8000"),
        *("--stream-events", "3000"),
    )


def test_interaction_import_benchmark_measures_both_reads_of_each_log(import_and_ingest):
    """`--only import_interactions` at 2,000 and 8,000 events: the import and the whole read each
    derive the same customers and products in a process of their own, and the ratio is of their peaks."""
    found = import_and_ingest["import_interactions"]
    assert [r["rows"] for r in found["by_rows"]] == [2000, 8000]
    for r in found["by_rows"]:
        ours, whole = r["ours"], r["whole_read"]
        assert ours["events"] == whole["events"] == r["rows"] - ours["duplicates"]
        assert (ours["customers"], ours["products"]) == (whole["customers"], whole["products"])
        assert 0 < ours["customers"] <= r["rows"] // 8 and 0 < ours["products"] <= r["rows"] // 50
        assert r["peak_ratio_ours_over_whole"] == round(ours["peak_rss_mib"] / whole["peak_rss_mib"], 2)


def test_stream_ingest_posts_every_event_once_beside_both_ceilings(import_and_ingest):
    """3,000 events through POST /events with one worker and with two sharing the Redis bus (each
    into empty stream tables), the bare FastAPI endpoint and a bare COPY, in one run."""
    found = import_and_ingest["stream_ingest"]
    assert (found["events"], found["batch"], found["clients"]) == (3000, 1000, 16)
    assert found["by_entity"] == {"web_events": 2500, "order_items": 500}
    assert found["ours_scaled"]["workers"] == 2  # `make test` installs redis-server: the scaled run ran
    for path in ("ours", "ours_scaled"):
        assert (found[path]["lost"], found[path]["duplicated"]) == (0, 0)
    assert (found["lost"], found["duplicated"]) == (0, 0)
    for path in ("ours", "ours_scaled", "bare_fastapi"):
        assert found[path]["statuses"] == {"202": 3}
    for path in ("ours", "ours_scaled"):
        assert found[path]["server_cpu_ms_per_1000"] > 0  # validation and the write: never free
    for path in ("ours", "ours_scaled", "bare_fastapi"):  # each process's share of the cores, how busy
        assert found[path]["client_cpu_ms_per_1000"] > 0
        assert len(found[path]["load_average"]) == 2
    # 3,000 rows stored or COPYed may take PostgreSQL less than the kernel's 10 ms CPU tick (about
    # 7 ms per 1,000 events stored at full size): counted, maybe as 0, not negative (the server's
    # backends live through the run; one that exited between the readings would be missed), and the
    # rate is the measured seconds'
    for path in ("ours", "ours_scaled", "bare_fastapi", "copy"):
        seconds = found[path]["postgres_cpu_seconds"]
        assert math.isfinite(seconds) and seconds >= 0
        assert found[path]["postgres_cpu_ms_per_1000"] == round(seconds / found["events"] * 1e6, 1)
    assert len(found["copy"]["load_average"]) == 2
    bare, copy = (found[k]["events_per_second"] for k in ("bare_fastapi", "copy"))
    for path in ("ours", "ours_scaled"):
        ours = found[path]["events_per_second"]
        assert found["ratios"][path] == {
            "vs_bare_fastapi": round(ours / bare, 3),
            "vs_copy": round(ours / copy, 3),
        }
        assert found["met"][path] == {
            "events_per_second": ours >= 20_000,
            "copy_ratio": found["ratios"][path]["vs_copy"] >= 0.25,
        }


def test_stream_fanout_measures_ours_and_the_bare_broadcast_at_both_rates(tmp_path):
    """20 WebSocket clients for 2 s per run: /ws/live and websockets.broadcast() at 1 and 4 messages/s;
    then 3 posts each timed from its 202 to the first frame counting it."""
    found = _bench_result(
        tmp_path,
        "stream_fanout",
        "--stream-clients",
        "20",
        "--stream-seconds",
        "2",
        "--stream-visible-posts",
        "3",
    )
    assert (found["clients"], found["client_processes"], found["seconds_per_run"]) == (20, 2, 2.0)
    assert list(found["runs"]) == ["1_per_second", "4_per_second"]
    tick = found["tick"]  # run alone: on an empty stream, then five 1,000-event batches folded in
    assert (tick["rows"], tick["tick_batch_events"], tick["equal_to_recount"]) == (0, 1000, True)
    assert (
        min(tick["recount_ms"], tick["first_tick_ms"], tick["tick_nothing_new_ms"], tick["tick_one_batch_ms"])
        > 0
    )
    for rate, run in found["runs"].items():
        per_second = int(rate.split("_")[0])
        for name in ("ours", "bare_broadcast"):
            r = run[name]
            assert (r["clients"], r["connected"], r["dropped"], r["skipped"]) == (20, 20, 0, 0), (
                rate,
                name,
                r,
            )
            # every client gets every tick of the window (a tick at each edge may fall either side)
            assert 20 * (2 * per_second - 1) <= r["frames"] <= 20 * (2 * per_second + 1), (rate, name, r)
            assert 0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
        assert run["p99_vs_ceiling"] == round(run["ours"]["p99_ms"] / run["bare_broadcast"]["p99_ms"], 2)
        cost = run["ours"]["compute_ms"]
        assert 0 < cost["p50"] <= cost["p99"] <= cost["max"]  # the producer's own figure, from its frames
        assert "compute_ms" not in run["bare_broadcast"]
        visible = run["visible"]
        assert (visible["posts"], visible["events_per_post"], visible["tick_ms"]) == (
            3,
            6,
            1000 // per_second,
        )
        # an event is counted by the next tick after its commit: within a tick and the tick's work
        assert 0 <= visible["p50_ms"] <= visible["p99_ms"] <= visible["max_ms"] < 1000 / per_second + 500
        assert run["met"] == {
            "p99": run["ours"]["p99_ms"] <= 1000,
            "p99_vs_ceiling": run["p99_vs_ceiling"] <= 1.5,
            "visible_p99": visible["p99_ms"] <= 1000,
        }


def test_stream_day_streams_the_next_date_and_the_nightly_checks_reconcile_it(tmp_path):
    """A tiny world's next date through `ecomm stream` and the API, then loaded and checked."""
    found = _bench_result(tmp_path, "stream_day", *TINY[:6], "--stream-day-speed", "1e6")
    assert found["world"] == {"customers": 150, "products": 30, "days": 60, "seed": 7}
    assert found["business_date"] == found["replay"]["date"] == "2025-07-01"  # the day after the world's last
    assert found["loaded_dates"] == ["2025-07-01"]
    replay, streamed = found["replay"], found["streamed_rows"]
    assert replay["sent"] == replay["stored"] == sum(streamed.values()) > 0
    assert (replay["again"], replay["rejected"]) == (0, 0)
    checks = found["reconciliation"]
    assert set(checks) == {"stream_order_items", "stream_web_events"}
    for check in checks.values():  # each side of the check's own words says the same
        streamed_side, batch_side = check["details"].removeprefix("streamed ").split("; batch ")
        assert check["passed"] and streamed_side == batch_side
    assert checks["stream_order_items"]["details"].startswith(
        f"streamed {streamed['order_items']} order lines"
    )
    assert found["stream_rows_after_prune"] == {"order_items": 0, "web_events": 0}
    assert found["reconciled"] is True


def test_monitoring_times_one_daily_run_of_every_served_model_beside_its_reads(tmp_path):
    """A small world's champions trained, then one model_monitoring day timed whole, per step and per
    model, beside the same reads alone (the tiny TINY world is too short to train every model)."""
    found = _bench_result(tmp_path, "monitoring", "--customers", "900", "--products", "120", "--days", "210")
    assert found["world"] == {"customers": 900, "products": 120, "days": 210, "seed": 7}
    assert set(found["setup"]["trained_seconds"]) == set(found["trained_with"]) - {"churn_horizon_days"}
    ours, floor = found["ours"], found["floor"]
    monitored = {m["model"]: m for m in ours["models"]}
    assert set(monitored) == {*found["setup"]["trained_seconds"], "inputs"}
    assert {m["status"] for m in monitored.values()} == {"monitored"}, monitored
    assert all(m["features"] > 0 for m in monitored.values())
    assert {q["model"]: (q["status"], q["predictions"]) for q in ours["quality"]} == {
        "churn_model": ("measured", "logged"),  # logged by the drift run the benchmark prepared
        "purchase_model": ("measured", "logged"),
    }
    assert floor["quality_predictions"] == {"churn_model": "logged", "purchase_model": "logged"}
    for name in found["setup"]["trained_seconds"]:  # each model's phases, within its own step
        phases = [
            ours["phases"][f"{name}.{p}"]["seconds"] for p in ("reference", "load", "population", "drift")
        ]
        assert sum(phases) <= ours["phases"][name]["seconds"] <= ours["phases"]["model_drift"]["seconds"]
        assert floor["phases"][name]["seconds"] > 0
    for run in (ours, floor):
        assert 0 < run["startup_seconds"] < run["wall_seconds"]
        assert run["cpu_seconds"] > 0 and run["server_cpu_seconds"] > 0 and len(run["load_1min"]) == 2
    assert found["ours_to_floor"] == round(ours["wall_seconds"] / floor["wall_seconds"], 2)
    assert found["target"]["met"] == (ours["wall_seconds"] <= 60)
