"""The shop's demand series from the warehouse and their backtest beside the planted demand."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.ml import registry, tracking
from ecomm.ml.forecast.backtest import BacktestSettings
from ecomm.ml.forecast.shop import at_level, planted_demand, product_sales, shop_backtest
from ecomm.ml.forecast.store import store_champion_forecasts
from ecomm.ml.forecast.train import ForecastConfig, train_forecast
from ecomm.monitoring.forecast import CATEGORICAL, forecast_population
from ecomm.monitoring.models import load_reference
from ecomm.monitoring.reference import training_reference
from ecomm.warehouse.run import load_path

from support.api import assert_error
from support.cli import ecomm

AS_OF = date(2025, 3, 31)
DAYS = 150


@pytest.fixture(scope="module")
def world(template_warehouse, tmp_path_factory):
    raw = tmp_path_factory.mktemp("forecast-world")
    generate_history(GeneratorConfig(seed=6, as_of=AS_OF, days=DAYS, customers=600, products=40), raw)
    suffix = uuid.uuid4().hex[:8]
    name, mlflow_db = f"fcw_{suffix}", f"fcw_mlflow_{suffix}"
    db.create_database(template_warehouse, name, template=template_warehouse.warehouse_db)
    settings = template_warehouse.model_copy(update={"warehouse_db": name, "mlflow_db": mlflow_db})
    report = load_path(settings, raw, marts=False)
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings, raw
    db.drop_database(template_warehouse, name)
    db.drop_database(template_warehouse, mlflow_db)


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


def test_the_benchmarks_frames_from_the_raw_files_are_the_warehouses(world, monkeypatch):
    """benchmarks/bench_forecast_seeds.py backtests the frames it reads from a world's raw files
    (no load): they are the rows shop_data reads from the loaded warehouse."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))
    from benchmarks.bench_forecast_seeds import raw_shop_data

    settings, raw = world
    with db.connection(settings) as conn:
        sales = product_sales(conn)
        truth = planted_demand(conn)
    from_raw, truth_from_raw = raw_shop_data(raw)
    pd.testing.assert_frame_equal(from_raw, sales)
    by_key = ["product_id", "date"]
    pd.testing.assert_frame_equal(
        truth_from_raw.sort_values(by_key, ignore_index=True),
        truth.sort_values(by_key, ignore_index=True),
        check_exact=False,
        rtol=1e-9,
    )


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
        "DATABASE_URL": db.libpq_dsn(db.server_url(settings)),
        "ECOMM_HOME": str(settings.home),
        "ECOMM_WAREHOUSE_DB": settings.warehouse_db,
        "ECOMM_MLFLOW_DB": settings.mlflow_db,
        "COLUMNS": "200",
    }
    # a new process, as a user runs it: in the full suite's worker the table printed in-process had no
    # body rows after other tests' commands (cause not found; alone it passes in-process)
    run = subprocess.run(
        [sys.executable, "-m", "ecomm.ml.cli", "train", "forecast", "--level", "total", "--windows", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **env},
    )
    assert run.returncode == 0, run.stderr
    assert "1 total series, " in run.stdout and "origins 2025-02-22, 2025-03-01" in run.stdout
    assert "total x day backtest" in run.stdout
    rows = [line.split("│")[1:3] for line in run.stdout.splitlines() if line.startswith("│")]
    names = ("seasonal_naive", "auto_ets", "oracle")
    models = [(m.strip(), int(h)) for m, h in rows if m.strip() in names]  # not the header's rows
    assert models == [(m, h) for m in names for h in (1, 7, 14, 30)]
    assert "total: auto_ets chosen (lowest MASE at 14 days on the " in run.stdout
    assert (
        "demand_forecast_model v1: challenger, promoted to champion - first version of the model"
        in run.stdout
    )
    assert (
        "30 forecasts and 0 products' reorder points of v1 as of 2025-03-31 in marts.demand_forecast"
        in run.stdout
    )
    bad = ecomm("train", "forecast", "--models", "prophet", env=env)
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("error: models: unknown ['prophet']")
    level = ecomm("train", "forecast", "--level", "store", env=env)
    assert level.returncode == 1
    assert level.stderr.strip().startswith(
        "error: level: 'store' is not one of product, category, total or all"
    )


# ------------------------------------------------------------------------ registry and storage
@pytest.fixture(scope="module")
def trained(world, template_warehouse):
    """Three trainings in an MLflow store of their own: total only (v1), every level (v2), every
    level again on the same data (v3)."""
    settings, _ = world
    settings = settings.model_copy(update={"mlflow_db": f"{settings.mlflow_db}_gate"})
    fast = BacktestSettings(windows=2)
    runs = [
        train_forecast(settings, ForecastConfig(levels=("total",), backtest=fast)),
        train_forecast(settings, ForecastConfig(backtest=fast, products=20)),
        train_forecast(settings, ForecastConfig(backtest=fast, products=20)),
    ]
    yield settings, runs
    db.drop_database(template_warehouse, settings.mlflow_db)


def test_training_registers_a_model_per_level_gated_on_the_latest_window(trained):
    _, (total, every, again) = trained
    assert [r.version for r in (total, every, again)] == ["1", "2", "3"]
    assert set(total.methods) == {"total"} and set(every.methods) == {"product", "category", "total"}
    assert set(every.methods.values()) <= {"seasonal_naive", "auto_ets"}
    # each level's choice is its lowest MASE at 14 days on the validation origins, before the reported
    for level, backtest in every.backtests.items():
        at_14 = backtest.validation[backtest.validation.horizon == 14]
        assert set(at_14.model) == {"seasonal_naive", "auto_ets"} and (at_14.origins > 0).all()
        assert every.methods[level] == at_14.loc[at_14.mase.astype(float).idxmin(), "model"]
    assert total.gate.promoted and total.gate.reason == "first version of the model"
    # v1 cannot forecast products or categories: it scores infinity, v2 takes over
    assert every.gate.promoted and every.gate.champion_before == "1"
    assert every.gate.champion_score == math.inf and 0 < every.gate.challenger_score < 2
    # the same data and models: the same score, not better by the margin; v2 stays champion
    assert not again.gate.promoted and again.gate.champion_after == "2"
    assert again.gate.challenger_score == again.gate.champion_score == every.gate.challenger_score
    # the reorder-point policy replayed on the product backtest's 2 origins, beside the naive one
    assert total.stock is None
    assert (every.stock["series"], every.stock["days"]) == (20, 2 * 7 - 8)
    assert 0 <= every.stock["service_level"] <= 1 and 0 <= every.stock["naive_service_level"] <= 1


def test_only_a_promoted_version_with_products_gets_a_drift_reference(trained):
    """v2 (promoted, every level): its reference is the products it stored forecasts of on the
    warehouse's last order date; v1 (total only) and v3 (not promoted) have none."""
    settings, (_, every, _) = trained
    client = tracking.configure(settings)
    name = registry.DEMAND_FORECAST_MODEL
    assert [load_reference(client, name, v) is None for v in ("1", "2", "3")] == [True, False, True]
    with db.connection(settings) as conn:
        features, forecast_mean = forecast_population(
            conn, date.fromisoformat(every.stored.forecast_date), every.stored.model_version
        )
    assert load_reference(client, name, "2") == training_reference(features, CATEGORICAL, forecast_mean)
    assert len(features) == every.stored.products > 20  # every product forecast, not the backtest's 20


def test_the_champion_stores_every_series_forecasts_and_each_products_reorder_point(trained, world):
    settings, (_, every, again) = trained
    with db.connection(settings) as conn:
        sales = product_sales(conn)
        products = int((sales.groupby("product_id").size() >= 14).sum())
        rows = db.query_frame(conn, "SELECT * FROM marts.demand_forecast")
        stock = db.query_frame(conn, "SELECT * FROM marts.product_stock")
    assert every.stored.forecast_date == again.stored.forecast_date == "2025-03-31"
    assert again.stored.model_version == "2"  # the champion stores, not the challenger v3
    assert again.stored.forecast_rows == 30 * (products + 8 + 1) == len(rows)  # replaced, not added
    assert set(rows.model_version) == {"2"} and set(rows.model_name) == {"demand_forecast_model"}
    assert rows.groupby("series_level").series_id.nunique().to_dict() == {
        "product": products,
        "category": 8,
        "total": 1,
    }
    assert sorted(rows.target_date.unique()) == [date(2025, 4, d) for d in range(1, 31)]
    assert ((rows.lo_95 <= rows.lo_80) & (rows.lo_80 <= rows.point) & (rows.point <= rows.hi_80)).all()
    assert (rows.hi_80 <= rows.hi_95).all()
    total = rows[rows.series_level == "total"].sort_values("target_date")
    width = (total.hi_95 - total.point).to_numpy()
    # conformal: the quantiles of the scaled errors never narrow with the step, and the upper bound's
    # distance from the point on the same weekday a week later is no smaller (the lower bound is cut
    # at 0, and AutoETS may fit the total a trend, so the point itself moves)
    assert width[28] >= width[21] >= width[14] >= width[7] >= width[0] and width[28] > width[0], (
        total.to_string()
    )
    # reorder points: 7-day lead time, 95% service (the defaults) from the product's stored days
    assert len(stock) == products and set(stock.lead_time_days) == {7}
    assert set(stock.service_level) == {0.95}
    first_week = rows[(rows.series_level == "product") & (rows.target_date <= date(2025, 4, 7))]
    lead_demand = first_week.groupby(first_week.series_id.astype(int)).point.sum()
    assert np.allclose(stock.set_index("product_id").lead_time_demand.sort_index(), lead_demand.sort_index())
    # conformal safety stock: q x spread, q one number for every product (the level's errors), so
    # the products' safety stocks are in proportion to their spreads
    assert (stock.reorder_point >= stock.lead_time_demand).all() and (stock.safety_stock >= 0).all()
    assert (stock.safety_stock > 0).any()


def test_the_stored_levels_add_up_each_day(trained):
    """Reconciled before they are stored: each category's forecast is the sum of its products', the
    total the sum of every product's, on every target day (float tolerance)."""
    settings, _ = trained
    with db.connection(settings) as conn:
        rows = db.query_frame(conn, "SELECT * FROM marts.demand_forecast")
        categories = db.query_frame(
            conn, "SELECT product_id::text AS series_id, category FROM warehouse.dim_product"
        )
    products = rows[rows.series_level == "product"].merge(categories, on="series_id")
    by_category = products.groupby(["category", "target_date"]).point.sum()
    stored = rows[rows.series_level == "category"].set_index(["series_id", "target_date"]).point
    assert np.allclose(
        stored.sort_index().to_numpy(), by_category.sort_index().to_numpy(), rtol=1e-9, atol=1e-9
    )
    total = rows[rows.series_level == "total"].set_index("target_date").point.sort_index()
    assert np.allclose(total.to_numpy(), products.groupby("target_date").point.sum().sort_index().to_numpy())
    assert (rows[["point", "lo_80", "lo_95"]] >= 0).all().all()


def test_the_dag_function_stores_the_champions_forecasts_and_the_model_loads_as_a_pyfunc(trained):
    import mlflow

    settings, (_, every, _) = trained
    stored = store_champion_forecasts(settings)
    assert (stored.model_version, stored.forecast_rows) == ("2", every.stored.forecast_rows)
    model = mlflow.pyfunc.load_model(registry.alias_uri(registry.DEMAND_FORECAST_MODEL, registry.CHAMPION))
    history = pd.DataFrame(
        {
            "series_level": "total",
            "series_id": "total",
            "date": pd.date_range("2025-01-01", periods=28),
            "y": np.tile([5.0, 6, 7, 8, 9, 10, 11], 4),
        }
    )
    out = model.predict(history, params={"horizon": 3})
    assert out.date.tolist() == list(pd.date_range("2025-01-29", periods=3))
    assert out.method.unique().tolist() == [every.methods["total"]]
    with pytest.raises(ValueError, match="^horizon: must be 1..30 days, got 31"):
        model.unwrap_python_model().predict(None, history, params={"horizon": 31})


# ---------------------------------------------------------------------------------------- API
@pytest.fixture(scope="module")
def api(trained):
    from fastapi.testclient import TestClient

    from ecomm.api.app import create_app

    settings, _ = trained
    return TestClient(create_app(settings))  # no lifespan: these routes read the warehouse only


def stored(settings, sql: str) -> pd.DataFrame:
    with db.connection(settings) as conn:
        return db.query_frame(conn, sql)


def test_get_a_products_forecast_with_its_intervals_and_reorder_point(trained, api):
    settings, (_, every, _) = trained
    stock = stored(settings, "SELECT * FROM marts.product_stock ORDER BY reorder_point DESC LIMIT 1").iloc[0]
    product_id = int(stock.product_id)
    days = stored(
        settings,
        f"""SELECT * FROM marts.demand_forecast WHERE series_level = 'product'
            AND series_id = '{product_id}' ORDER BY target_date""",
    )
    category = stored(settings, f"SELECT category FROM warehouse.dim_product WHERE product_id = {product_id}")
    response = api.get(f"/forecast/products/{product_id}")  # the default horizon: 14 days
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model": {"name": "demand_forecast_model", "version": "2"},
        "series_level": "product",
        "series_id": str(product_id),
        "forecast_date": "2025-03-31",
        "method": every.methods["product"],
        "horizon": 14,
        "forecasts": [
            {"date": row.target_date.isoformat()}
            | {c: pytest.approx(getattr(row, c)) for c in ("point", "lo_80", "hi_80", "lo_95", "hi_95")}
            for row in days.head(14).itertuples()
        ],
        "product_id": product_id,
        "category": category.category.iloc[0],
        "stock": {
            "lead_time_days": 7,
            "service_level": 0.95,
            **{c: pytest.approx(stock[c]) for c in ("lead_time_demand", "safety_stock", "reorder_point")},
        },
    }
    for horizon in (1, 30):
        body = api.get(f"/forecast/products/{product_id}", params={"horizon": horizon}).json()
        assert body["horizon"] == len(body["forecasts"]) == horizon
        assert body["forecasts"][-1]["date"] == (date(2025, 3, 31) + timedelta(days=horizon)).isoformat()


def test_get_a_categorys_forecast(trained, api):
    settings, (_, every, _) = trained
    days = stored(
        settings,
        """SELECT * FROM marts.demand_forecast WHERE series_level = 'category'
           AND series_id = (SELECT min(category) FROM warehouse.dim_product) ORDER BY target_date""",
    )
    category = days.series_id.iloc[0]
    body = api.get(f"/forecast/categories/{category}", params={"horizon": 7}).json()
    assert body["series_level"] == "category" and body["series_id"] == category
    assert body["method"] == every.methods["category"] and body["horizon"] == 7
    assert [d["point"] for d in body["forecasts"]] == pytest.approx(days.point.head(7).tolist())
    assert "stock" not in body


def test_forecast_routes_bad_inputs(api):
    for bad in ("0", "31", "abc", "1.5"):
        assert_error(
            api.get("/forecast/products/1", params={"horizon": bad}), 422, "validation_error", "horizon"
        )
        assert_error(
            api.get("/forecast/categories/x", params={"horizon": bad}), 422, "validation_error", "horizon"
        )
    unknown = assert_error(api.get("/forecast/products/99999999"), 404, "not_found")
    assert unknown["message"] == "product 99999999 is not in the warehouse"
    assert_error(api.get("/forecast/products/0"), 422, "validation_error", "product_id")
    assert_error(api.get("/forecast/categories/a%00b"), 422, "validation_error", "category")
    unknown = assert_error(api.get("/forecast/categories/Spaceships"), 404, "not_found")
    assert unknown["message"] == "category 'Spaceships' is not in the warehouse"


def test_batch_answers_each_series_as_its_get_route(trained, api):
    settings, _ = trained
    products = stored(settings, "SELECT product_id FROM marts.product_stock ORDER BY product_id LIMIT 2")
    first, second = (int(p) for p in products.product_id)
    category = stored(settings, "SELECT min(category) AS c FROM warehouse.dim_product").c.iloc[0]
    series = [{"product_id": second}, {"category": category}, {"product_id": first}, {"product_id": second}]
    response = api.post("/forecast/batch", json={"series": series, "horizon": 7})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "forecasts": [
            api.get(f"/forecast/products/{second}", params={"horizon": 7}).json(),
            api.get(f"/forecast/categories/{category}", params={"horizon": 7}).json(),
            api.get(f"/forecast/products/{first}", params={"horizon": 7}).json(),
            api.get(f"/forecast/products/{second}", params={"horizon": 7}).json(),
        ]
    }
    default = api.post("/forecast/batch", json={"series": [{"category": category}]}).json()
    assert [len(f["forecasts"]) for f in default["forecasts"]] == [14]  # the default horizon
    hundred = api.post("/forecast/batch", json={"series": [{"product_id": first}] * 100, "horizon": 1})
    assert hundred.status_code == 200 and len(hundred.json()["forecasts"]) == 100


def test_batch_bad_inputs_name_the_field_or_the_series(trained, api):
    settings, _ = trained
    known = int(stored(settings, "SELECT min(product_id) AS p FROM marts.product_stock").p.iloc[0])

    def batch(series, **extra):
        return api.post("/forecast/batch", json={"series": series} | extra)

    assert_error(batch([]), 422, "validation_error", "series")
    assert_error(batch([{"product_id": known}] * 101), 422, "validation_error", "series")
    for bad in (0, 31, "7", 1.5):
        assert_error(batch([{"product_id": known}], horizon=bad), 422, "validation_error", "horizon")
    assert_error(batch([{"product_id": known}, {}]), 422, "validation_error", "series[1]")
    both = batch([{"product_id": known, "category": "Books"}])
    assert assert_error(both, 422, "validation_error", "series[0]")["details"] == [
        {"field": "series[0]", "message": "give exactly one of product_id and category"}
    ]
    assert_error(batch([{"product_id": 0}]), 422, "validation_error", "series[0].product_id")
    assert_error(batch([{"product_id": "12"}]), 422, "validation_error", "series[0].product_id")
    assert_error(batch([{"category": "a\x00b"}]), 422, "validation_error", "series[0].category")
    assert_error(batch([{"sku": 1}]), 422, "validation_error", "series[0].sku")
    assert_error(api.post("/forecast/batch", json={"horizon": 7}), 422, "validation_error", "series")
    unknown = assert_error(batch([{"product_id": known}, {"product_id": 99999999}]), 404, "not_found")
    assert unknown["message"] == "product 99999999 is not in the warehouse"
    unknown = assert_error(batch([{"category": "Spaceships"}, {"product_id": known}]), 404, "not_found")
    assert unknown["message"] == "category 'Spaceships' is not in the warehouse"
    assert_error(
        api.post("/forecast/batch", content="series", headers={"content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )


def test_a_known_product_without_a_stored_forecast_is_not_forecast(trained, api):
    settings, _ = trained
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(product_id) FROM marts.product_stock")
        (product_id,) = cur.fetchone()
        where = f"series_level = 'product' AND series_id = '{product_id}'"
        cur.execute(
            f"CREATE TABLE marts.demand_forecast_kept AS SELECT * FROM marts.demand_forecast WHERE {where}"
        )
        cur.execute(f"DELETE FROM marts.demand_forecast WHERE {where}")
        conn.commit()
        try:
            response = api.get(f"/forecast/products/{product_id}")
        finally:
            cur.execute("INSERT INTO marts.demand_forecast SELECT * FROM marts.demand_forecast_kept")
            cur.execute("DROP TABLE marts.demand_forecast_kept")
            conn.commit()
    body = assert_error(response, 422, "not_forecast")
    assert body["message"].startswith(f"product {product_id} has no stored forecast")
    assert api.get(f"/forecast/products/{product_id}").status_code == 200
