"""benchmarks/bench_forecast_seeds.py: the sitewide sale days read from a world's raw files, the
ratio to the oracle outside them, and the per-level settings recorded with the results."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: `benchmarks`

from benchmarks import bench_forecast_seeds as bench  # noqa: E402

CAMPAIGN_COLUMNS = (
    "campaign_id,campaign_name,channel,campaign_type,offer,discount_pct,target_countries,start_date,end_date"
)


def _batch(raw: Path, day: str, *campaigns: str) -> None:
    folder = raw / day
    folder.mkdir(parents=True)
    if campaigns:
        (folder / "campaigns.csv").write_text("\n".join([CAMPAIGN_COLUMNS, *campaigns]) + "\n")


def test_sale_days_are_the_sitewide_campaigns_days_only(tmp_path):
    _batch(tmp_path, "2025-11-01", "1,winback_email,email,targeted,15% off,15.00,,2025-11-01,2025-11-14")
    _batch(tmp_path, "2025-11-02")  # a day without new campaigns has no file
    _batch(
        tmp_path,
        "2025-11-21",
        "3,black_friday_2025,multichannel,sitewide,20% off,20.00,,2025-11-28,2025-12-01",
    )
    (tmp_path / "truth").mkdir()  # not a batch
    assert bench.sale_days(tmp_path) == ["2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01"]
    assert bench.sale_days(tmp_path / "2025-11-02") == []


def _backtest() -> SimpleNamespace:
    """Two series, one origin, 14 days: ours misses by 1 a day, by 10 on the two sale days; the
    oracle misses by 0.5 a day throughout; scale 1."""
    dates = pd.date_range("2025-11-25", periods=14)
    rows = []
    for series in ("a", "b"):
        for step, day in enumerate(dates, start=1):
            sale = day in pd.to_datetime(["2025-11-28", "2025-11-29"])
            rows.append(
                {
                    "series_id": series,
                    "cutoff": pd.Timestamp("2025-11-24"),
                    "date": day,
                    "step": step,
                    "y": 20.0,
                    "auto_ets": 10.0 if sale else 19.0,
                    "oracle": 19.5,
                    "scale": 1.0,
                }
            )
    extra = dict(rows[-1], step=15, date=dates[-1] + pd.Timedelta(days=1), auto_ets=0.0)  # beyond 14 days
    return SimpleNamespace(forecasts=pd.DataFrame([*rows, extra]))


def test_outside_sales_leaves_the_sale_days_out_of_both_errors():
    backtest = _backtest()
    out = bench.outside_sales(backtest, "auto_ets", ["2025-11-28", "2025-11-29", "2026-01-01"])
    assert out == {
        "vs_oracle_outside_sales": pytest.approx(1.0 / 0.5),
        "sale_days_left_out": 4,
        "days_scored": 28,
    }
    # with the sale days kept, ours' mean error is (12 x 1 + 2 x 10) / 14 per series
    assert bench.outside_sales(backtest, "auto_ets", [])["vs_oracle_outside_sales"] == pytest.approx(
        (12 + 20) / 14 / 0.5
    )


def test_level_settings_name_each_levels_search_space_half_life_and_scale():
    from ecomm.ml.forecast.backtest import BacktestSettings
    from ecomm.ml.forecast.models import ModelSettings

    config = SimpleNamespace(
        backtest=BacktestSettings(
            models=ModelSettings(ets_model="ANA", ets_models=(("category", "ZZZ"),)),
            half_life=7.0,
            half_lives=(("product", 14.0), ("total", None)),
            interval_scales=(("category", "point"),),
        )
    )
    assert bench.level_settings(config) == {
        "product": {"ets_model": "ANA", "half_life_days": 14.0, "interval_scale": "spread"},
        "category": {"ets_model": "ZZZ", "half_life_days": 7.0, "interval_scale": "point"},
        "total": {"ets_model": "ANA", "half_life_days": None, "interval_scale": "spread"},
    }
