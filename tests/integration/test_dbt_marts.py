"""The marts as a dbt project (dbt/): the build and its tests on a real warehouse, a broken key fails
it, and the incremental marts equal a full rebuild after a sequence of daily loads with late returns."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.pipeline import load_date
from ecomm.warehouse.marts import MARTS, MartsError, MartsTestFailed, build_marts, dbt_run_dir, generate_docs

AS_OF = date(2025, 3, 31)
DAYS = 60
DAILY = 3  # the last DAILY dates are loaded and built one by one
FIRST = AS_OF - timedelta(days=DAYS - 1)
INTERMEDIATE = ("int_product_days", "int_product_engagement", "int_customer_orders", "int_customer_reviews",
                "int_customer_months")  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("dbt-world")
    generate_history(GeneratorConfig(seed=5, as_of=AS_OF, days=DAYS, customers=400, products=60), out)
    return out


def load_until(settings, world, day: date) -> list[date]:
    return load_date(settings, world / day.isoformat(), day).loaded_dates


def rows(sql, relation: str) -> list[tuple]:
    return sorted(sql(f"SELECT * FROM {relation}"), key=repr)


def test_incremental_marts_equal_a_full_rebuild_after_daily_loads_with_late_returns(warehouse, sql, world):
    first_days = load_until(warehouse, world, AS_OF - timedelta(days=DAILY))
    assert len(first_days) == DAYS - DAILY
    build_marts(warehouse, first_days)  # no marts yet: built from all of history
    daily = [AS_OF - timedelta(days=n) for n in range(DAILY - 1, -1, -1)]
    for day in daily:
        assert load_until(warehouse, world, day) == [day]
        seconds = build_marts(warehouse, [day])
        assert set(seconds) == {*MARTS, "intermediate", "tests", "dbt"}
    # the daily batches returned lines ordered before them, which changed marts rows of earlier dates
    late_returns = sql.one(
        "SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned' "
        "AND return_date >= %s AND order_date < %s",
        (daily[0], daily[0]),
    )
    assert late_returns > 0
    assert sql.one("SELECT count(*) FROM audit.mart_builds") == DAYS
    incremental = {name: rows(sql, f"marts.{name}") for name in MARTS}
    incremental |= {name: rows(sql, f"marts_internal.{name}") for name in INTERMEDIATE}
    assert all(incremental.values())

    build_marts(warehouse, full_refresh=True)
    for name in MARTS:
        assert rows(sql, f"marts.{name}") == incremental[name], name
    for name in INTERMEDIATE:
        assert rows(sql, f"marts_internal.{name}") == incremental[name], name
    # the marts hold what the facts say (every customer, every product, net revenue of completed lines)
    assert sql.one("SELECT count(*) FROM marts.customer_360") == sql.one(
        "SELECT count(*) FROM warehouse.dim_customer"
    )
    assert sql.one("SELECT count(*) FROM marts.product_performance") == sql.one(
        "SELECT count(*) FROM warehouse.dim_product"
    )
    assert sql.one("SELECT sum(net_revenue) FROM marts.daily_sales") == sql.one(
        "SELECT sum(revenue) FROM warehouse.fact_order_items WHERE status = 'completed'"
    )
    assert sql.one("SELECT sum(returned_lines) FROM marts.daily_sales") == sql.one(
        "SELECT count(*) FROM warehouse.fact_order_items WHERE status = 'returned'"
    )


def test_build_runs_the_unit_test_and_the_key_tests_and_generates_docs(warehouse, sql, world):
    build_marts(warehouse, load_until(warehouse, world, FIRST + timedelta(days=9)))
    results = json.loads((dbt_run_dir(warehouse) / "target" / "run_results.json").read_text())["results"]
    status = {r["unique_id"]: r["status"] for r in results}
    assert status["unit_test.ecomm.customer_360.customer_360_rfm_segments_and_clv_run_rate"] == "pass"
    tests = [uid for uid in status if uid.startswith("test.")]
    assert len(tests) >= 30 and {status[t] for t in tests} == {"pass"}
    assert any("relationships_customer_360_customer_id" in t for t in tests)
    assert not any(t.startswith("test.ecomm.source_") for t in tests)  # whole-table source tests: not daily
    assert {status[f"model.ecomm.{m}"] for m in MARTS} == {"success"}
    # the grain is the tables' comment, as before
    assert sql.one("SELECT obj_description('marts.daily_sales'::regclass)").startswith(
        "Grain: one row per order date x customer country x product category."
    )

    target = generate_docs(warehouse)
    catalog = json.loads((target / "catalog.json").read_text())
    assert {f"model.ecomm.{m}" for m in MARTS} <= set(catalog["nodes"])
    assert (target / "index.html").exists()


def test_a_broken_key_fails_the_build_naming_the_test(warehouse, sql, world):
    build_marts(warehouse, load_until(warehouse, world, FIRST + timedelta(days=4)))
    # the marts' keys are unique indexes too (a duplicate cannot even be inserted): an orphan country,
    # on a date the next build does not touch
    sql(
        "INSERT INTO marts.daily_sales SELECT order_date, 'Atlantis', category, orders, order_lines, units, "
        "gross_revenue, net_revenue, returned_revenue, net_cost, discount, returned_lines, cancelled_lines, "
        "customers FROM marts.daily_sales WHERE order_date = (SELECT min(order_date) FROM marts.daily_sales) LIMIT 1 "
        "RETURNING country"
    )
    day = FIRST + timedelta(days=5)
    load_until(warehouse, world, day)
    with pytest.raises(MartsError) as failed:
        build_marts(warehouse, [day])
    message = str(failed.value)
    assert type(failed.value) is MartsTestFailed  # the DAG fails it at once: a retry cannot fix data
    assert "\n" not in message
    assert message.startswith(
        "dbt build failed: test relationships_daily_sales_country__country__ref_stg_customers_ failed: "
        "Got 1 result, configured to fail if != 0"
    )
    # the failed build did not mark the day built: the next build takes it again
    assert sql.one("SELECT count(*) FROM audit.mart_builds WHERE batch_date = %s", (day,)) == 0

    assert sql("DELETE FROM marts.daily_sales WHERE country = 'Atlantis' RETURNING country") == [
        ("Atlantis",)
    ]
    build_marts(warehouse, full_refresh=True)
    # an orphan: a customer aggregate without its customer
    sql(
        "INSERT INTO marts_internal.int_customer_orders (customer_id, orders, completed_orders, net_revenue, "
        "returned_lines, sold_lines) VALUES (999999999, 1, 1, 10, 0, 1) RETURNING customer_id"
    )
    with pytest.raises(
        MartsError, match=r"^dbt build failed: test relationships_int_customer_orders_customer_id"
    ):
        build_marts(warehouse)


def test_a_missing_dbt_is_one_clear_line(warehouse, tmp_path):
    settings = warehouse.model_copy(update={"dbt_executable": tmp_path / "no-dbt"})
    with pytest.raises(MartsError, match=r"^dbt is not installed at .*no-dbt: run `make setup`") as failed:
        build_marts(settings, [FIRST])
    assert type(failed.value) is MartsError


def test_a_bad_batch_date_var_is_refused(warehouse):
    from ecomm.warehouse.marts import run_dbt

    with pytest.raises(MartsError, match="'2025-13' is not a YYYY-MM-DD date"):
        run_dbt(
            warehouse,
            [
                "compile",
                "--inline",
                "SELECT {{ batch_dates_array() }}",
                "--vars",
                '{"batch_dates": ["2025-13"]}',
            ],
        )


def test_the_cli_reports_a_missing_dbt_in_one_line(warehouse, tmp_path):
    from ecomm import db

    from support.cli import ecomm

    env = {
        "DATABASE_URL": db.libpq_dsn(db.server_url(warehouse)),
        "ECOMM_HOME": str(warehouse.home),
        "ECOMM_WAREHOUSE_DB": warehouse.warehouse_db,
        "ECOMM_DBT_EXECUTABLE": str(tmp_path / "no-dbt"),
    }
    proc = ecomm("marts", "build", "--date", "2025-03-01", env=env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"error: dbt is not installed at {tmp_path / 'no-dbt'}: run `make setup` (it installs "
        "requirements-dbt.lock into .tools/dbt-venv) or set ECOMM_DBT_EXECUTABLE"
    )
