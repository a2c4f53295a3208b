"""benchmarks/bench_forecast_seeds.py --keep-speed: the seeds run, the stored speed part kept and
marked as measured separately (its own date)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: `benchmarks`

from benchmarks import bench_forecast_seeds as bench  # noqa: E402


def test_keep_speed_runs_the_seeds_and_keeps_the_stored_speed_part(tmp_path, monkeypatch):
    stored = {"measured_on": "2026-12-01", "speed": {"runs": [{"seconds": 1.5}], "target": {"met": True}}}
    (tmp_path / "forecast_seeds.json").write_text(json.dumps(stored))
    calls = []

    def run(opts, kept_speed=None):
        calls.append((opts.seeds, kept_speed))
        return {"seeds": [], "speed": kept_speed}

    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(sys, "argv", ["bench", "--seeds", "4", "--keep-speed", "--results", str(tmp_path)])
    bench.main()
    kept = stored["speed"] | {"measured_on": "2026-12-01", "separately": True}
    assert calls == [((4,), kept)]
    assert json.loads((tmp_path / "forecast_seeds.json").read_text())["speed"] == kept


def test_without_a_stored_result_keep_speed_is_refused_naming_the_option(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bench", "--keep-speed", "--results", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.main()
    assert f"--keep-speed: no stored results in {tmp_path}" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["bench", "--keep-speed", "--speed-only"])
    with pytest.raises(SystemExit):
        bench.main()
    assert "not allowed with argument" in capsys.readouterr().err
