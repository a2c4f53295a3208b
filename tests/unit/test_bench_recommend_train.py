"""benchmarks/bench_recommend_train.py: a child's CPU is counted (its threads' too) beside its wall
time, a failing child names its error, and the README block renders the stored phases (with the
before/after table of a smaller world only when both of its runs are stored)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: `benchmarks`

from benchmarks import bench_recommend_train as bench  # noqa: E402
from benchmarks.figures import TRAIN_PHASES, render_recommend_train  # noqa: E402

BUSY = """
import threading, time
def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
threads = [threading.Thread(target=spin, args=(0.3,)) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
print("done")
"""


def test_a_childs_cpu_counts_every_thread(tmp_path):
    measured, stdout = bench.timed_child(["-c", BUSY], {}, tmp_path / "busy.log")
    assert stdout.strip() == "done"
    assert measured["cpu_seconds"] >= 0.5  # two threads of 0.3 s CPU each
    assert measured["cpu_seconds"] == pytest.approx(
        measured["user_seconds"] + measured["sys_seconds"], abs=0.11
    )
    assert measured["wall_seconds"] > 0 and len(measured["load_1min"]) == 2


def test_a_failing_child_names_its_error(tmp_path):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        bench.timed_child(["-c", "1 / 0"], {}, tmp_path / "failing.log")


def run(wall: float, cpu: float) -> dict:
    phases = {phase: 1.0 for phase in TRAIN_PHASES}
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "load_1min": [1.0, 2.0],
        "phase_seconds": phases,
        "phase_cpu_seconds": phases,
        "validation_ndcg_at_10": 0.28,
        "holdout_ndcg_at_10": 0.27,
    }


def result(customers: int, wall: float, cpu: float) -> dict:
    world = {"customers": customers, "orders": customers * 5, "order_lines": customers * 11}
    return {
        "when": "2026-12-07T11:00:00+00:00",
        "cpus": 2,
        "world": world,
        "train": run(wall, cpu),
        "baseline": run(wall / 10, cpu / 10),
        "ratio_cpu": 10.0,
        "target_seconds": 300,
    }


def test_the_block_shows_each_phase_the_target_and_the_smaller_worlds_pair(tmp_path):
    (tmp_path / "recommend_train.json").write_text(json.dumps(result(208_000, 900, 700)))
    text = render_recommend_train(tmp_path)
    assert "took **900 s** wall and 700 s CPU" in text
    assert "between 350 s (both cores busy throughout) and 700 s (one core at a time): not met ❌" in text
    assert all(label in text for label in TRAIN_PHASES.values())
    assert "smaller world" not in text  # its runs are not stored
    (tmp_path / "recommend_train.json").write_text(json.dumps(result(208_000, 900, 500)))
    (tmp_path / "recommend_train_small.json").write_text(json.dumps(result(50_000, 300, 200)))
    assert "smaller world" not in render_recommend_train(tmp_path)  # the before run is missing
    assert "not met ❌: it would take both cores busy throughout" in render_recommend_train(tmp_path)
    (tmp_path / "recommend_train_small_before.json").write_text(json.dumps(result(50_000, 600, 400)))
    assert "| **total** | **600** | **400** | **300** | **200** |" in render_recommend_train(tmp_path)
