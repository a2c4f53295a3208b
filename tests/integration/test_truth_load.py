"""The generator's truth files load into the `truth` schema: every table, every row, as written."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.config import RegimeChange
from ecomm.entities import TRUTH_DIR, TRUTH_FILES
from ecomm.warehouse.truth import load_truth


@pytest.fixture(scope="module")
def truth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("truth-world")
    config = GeneratorConfig(
        seed=4, as_of=date(2025, 3, 31), days=90, customers=300, products=60, regimes=REGIMES
    )
    generate_history(config, out)
    return out / TRUTH_DIR


REGIMES = (RegimeChange("delivery_delay", date(2025, 3, 1), 0.3, end=date(2025, 3, 14)),)


def test_every_truth_file_loads_and_an_unchanged_file_is_not_reloaded(warehouse, sql, truth_dir):
    with db.connection(warehouse) as conn:
        loaded = load_truth(conn, truth_dir)
        again = load_truth(conn, truth_dir)
    csv = {name: pd.read_csv(truth_dir / f"{name}.csv") for name in TRUTH_FILES}
    assert loaded == {name: len(frame) for name, frame in csv.items()}
    assert again == {}
    for name in TRUTH_FILES:
        assert sql.one(f"SELECT count(*) FROM truth.{name}") == len(csv[name]) > 0, name

    personas = dict(sql("SELECT persona, count(*) FROM truth.customer_persona GROUP BY persona"))
    assert personas == csv["customer_persona"].persona.value_counts().to_dict()
    assert sql("SELECT DISTINCT snapshot_date, horizon_days FROM truth.customer_purchase ORDER BY 1") == [
        (date(2025, 1, 1), 30),
        (date(2025, 2, 1), 30),
        (date(2025, 3, 1), 30),
    ]
    assert sql("SELECT DISTINCT snapshot_date, horizon_days FROM truth.customer_value ORDER BY 1") == [
        (date(2025, 1, 1), 365),
        (date(2025, 2, 1), 365),
        (date(2025, 3, 1), 365),
    ]
    assert sql.one("SELECT sum(expected_revenue) FROM truth.customer_value") == pytest.approx(
        csv["customer_value"].expected_revenue.sum()
    )
    assert sql.one("SELECT sum(purchase_probability) FROM truth.customer_purchase") == pytest.approx(
        csv["customer_purchase"].purchase_probability.sum()
    )
    assert sql.one("SELECT count(DISTINCT business_date) FROM truth.product_demand") == 90
    assert sql.one("SELECT sum(expected_units) FROM truth.product_demand") == pytest.approx(
        csv["product_demand"].expected_units.sum()
    )
    assert sql.one("SELECT obj_description('truth.product_demand'::regclass)").startswith(
        "Grain: one row per product x business date"
    )
    assert sql.one("SELECT obj_description('truth.customer_value'::regclass)").startswith(
        "Grain: one row per customer x month start x horizon"
    )


def test_planted_drift_loads_and_a_world_without_it_empties_the_table(warehouse, sql, truth_dir, tmp_path):
    with db.connection(warehouse) as conn:
        load_truth(conn, truth_dir)
    assert sql(
        "SELECT regime_id, kind, start_date, end_date, magnitude, category FROM truth.regime_change"
    ) == [(1, "delivery_delay", date(2025, 3, 1), date(2025, 3, 14), 0.3, None)]
    calm = GeneratorConfig(seed=4, as_of=date(2025, 3, 31), days=90, customers=300, products=60)
    generate_history(calm, tmp_path / "calm")
    with db.connection(warehouse) as conn:
        load_truth(conn, tmp_path / "calm" / TRUTH_DIR)
        again = load_truth(conn, tmp_path / "calm" / TRUTH_DIR)
    assert sql.one("SELECT count(*) FROM truth.regime_change") == 0
    assert sql.one("SELECT count(*) FROM audit.truth_loads WHERE file_name = 'regime_change.csv'") == 0
    assert again == {}
