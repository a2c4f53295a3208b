"""The shop's demand series from the warehouse and their backtest beside the planted demand."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.ml.forecast.backtest import BacktestSettings
from ecomm.ml.forecast.shop import at_level, planted_demand, product_sales, shop_backtest
from ecomm.warehouse.run import load_path

AS_OF = date(2025, 3, 31)
DAYS = 150


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    raw = tmp_path_factory.mktemp("forecast-world")
    generate_history(GeneratorConfig(seed=6, as_of=AS_OF, days=DAYS, customers=600, products=40), raw)
    name = f"fcw_{uuid.uuid4().hex[:8]}"
    db.create_database(template_warehouse, name, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(update={"warehouse_db": name})
    report = load_path(settings, raw, marts=False)
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings, raw
    db.drop_database(template_warehouse, name)


def raw_units(raw) -> pd.Series:
    """Units of the non-cancelled lines per (product_id, date), from the generator's files."""
    batches = sorted(p for p in raw.iterdir() if p.name[:2] == "20")
    lines = pd.concat(pd.read_csv(b / "order_items.csv").assign(date=b.name) for b in batches)
    lines = lines[lines.status != "cancelled"].assign(date=lambda d: pd.to_datetime(d.date))
    return lines.groupby(["product_id", "date"]).quantity.sum()


def test_the_series_hold_every_product_day_with_the_units_sold(world):
    settings, raw = world
    with db.connection(settings) as conn:
        sales = product_sales(conn)
        truth = planted_demand(conn)
    units = raw_units(raw)
    got = sales.set_index(["product_id", "date"]).y
    assert got[got > 0].astype(int).sort_index().equals(units.astype(int).sort_index().rename("y"))
    # one row per product and day from its launch (or the first order date) to the last order date
    first, last = sales.date.min(), sales.date.max()
    assert last == pd.Timestamp(AS_OF)
    assert not sales.duplicated(["product_id", "date"]).any()
    span = sales.groupby("product_id").date.agg(["min", "max", "count"])
    assert (span["max"] == last).all() and (span["count"] == (span["max"] - span["min"]).dt.days + 1).all()
    assert (span["min"] >= first).all()
    # the planted demand covers the same product days
    assert truth.merge(sales, on=["product_id", "date"]).shape[0] == len(sales)
    total = at_level(sales, "total")
    assert total.series_id.unique().tolist() == ["total"] and total.y.sum() == units.sum()


@pytest.fixture(scope="module")
def category_backtest(world):
    settings, _ = world
    return shop_backtest(settings, "category", ("seasonal_naive", "auto_ets"), BacktestSettings(windows=2))


def test_the_category_backtest_sets_each_model_beside_seasonal_naive_and_the_oracle(category_backtest):
    result = category_backtest
    table = result.table.set_index(["model", "horizon"])
    assert result.has_truth and result.series == 8
    assert result.cutoffs == ["2025-02-22", "2025-03-01"]
    assert set(table.index) == {
        (m, h) for m in ("seasonal_naive", "auto_ets", "oracle") for h in (1, 7, 14, 30)
    }
    assert np.allclose(table.loc["seasonal_naive", "mase_vs_naive"], 1.0)
    assert np.allclose(table.loc["oracle", "mase_vs_oracle"], 1.0)
    # the expected demand is the floor: no forecast made days ahead beats it at 2 weeks and more
    for model in ("seasonal_naive", "auto_ets"):
        assert (table.loc[model, "mase_vs_oracle"].loc[[14, 30]] > 1.0).all(), model
        assert (table.loc[model, "rmsse_vs_oracle"].loc[[14, 30]] > 1.0).all(), model
    assert table.loc["oracle", "coverage_80"].isna().all()  # a point forecast, no interval
    assert table.loc["auto_ets", "coverage_95"].between(0.5, 1.0).all()


def test_train_forecast_command_prints_the_backtest_table(world):
    settings, _ = world
    env = {
        **os.environ,
        "DATABASE_URL": db.libpq_dsn(db.server_url(settings)),
        "ECOMM_WAREHOUSE_DB": settings.warehouse_db,
        "COLUMNS": "200",
    }
    run = subprocess.run(
        [sys.executable, "-m", "ecomm.ml.cli", "train", "forecast", "--level", "total", "--windows", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "1 total series, " in run.stdout and "origins 2025-02-22, 2025-03-01" in run.stdout
    assert "total x day backtest" in run.stdout
    rows = [line.split("│")[1:3] for line in run.stdout.splitlines() if line.startswith("│")]
    names = ("seasonal_naive", "auto_ets", "oracle")
    models = [(m.strip(), int(h)) for m, h in rows if m.strip() in names]  # not the header's rows
    assert models == [(m, h) for m in names for h in (1, 7, 14, 30)]
    bad = subprocess.run(
        [sys.executable, "-m", "ecomm.ml.cli", "train", "forecast", "--models", "prophet"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: models: unknown ['prophet']")
