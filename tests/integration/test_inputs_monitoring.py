"""The daily model_drift task runs the recent-inputs view (ecomm.monitoring.recent_inputs) on the
warehouse: on a small world with a planted price rise (ECOMM_DRIFT_KIND=category_price_rise from
ECOMM_DRIFT_START, recorded in truth.regime_change), the `inputs` rows of marts.model_monitoring
flag the risen category's price index from the first days of the change and nothing before it.
No model is registered: the served models are reported without a champion and the view still runs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecomm import db
from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.config import planted_regimes
from ecomm.ml import registry
from ecomm.monitoring import retrain
from ecomm.monitoring.inputs import inputs_drift, inputs_reference
from ecomm.monitoring.models import monitor_served_models
from ecomm.monitoring.recent_inputs import INPUTS, recent_inputs_drift, reference_cutoff
from ecomm.settings import Settings
from ecomm.warehouse.run import load_path

from support.query import Query, drift_rows

AS_OF = dt.date(2025, 3, 31)
START = dt.date(2025, 3, 15)
APP = Path(__file__).resolve().parents[2] / "streamlit" / "app.py"
MONITORED = [START + dt.timedelta(days=n) for n in range(-6, 10)]


@pytest.fixture(scope="module")
def drift_settings(template_warehouse) -> Settings:
    name = f"drift_{uuid.uuid4().hex[:8]}"
    return template_warehouse.model_copy(
        update={
            "warehouse_db": name,
            "mlflow_db": f"{name}_mlflow",
            "drift_kind": "category_price_rise",
            "drift_start": START,
            "drift_category": "Electronics",
        }
    )


@pytest.fixture(scope="module")
def drift_raw(drift_settings, tmp_path_factory) -> Path:
    """The batch files of 600 customers and 180 days with Electronics' prices 25% up from START."""
    raw = tmp_path_factory.mktemp("drift-world")
    config = GeneratorConfig(
        seed=7, as_of=AS_OF, days=180, customers=600, products=80, regimes=planted_regimes(drift_settings)
    )
    generate_history(config, raw)
    return raw


@pytest.fixture(scope="module")
def drift_world(template_warehouse, drift_settings, drift_raw):
    """`drift_raw` loaded into its own warehouse (no model registered)."""
    settings = drift_settings
    db.create_database(template_warehouse, settings.warehouse_db, template=template_warehouse.warehouse_db)
    report = load_path(settings, drift_raw)
    assert {b.status for b in report.batches} == {"loaded"}
    yield settings
    db.drop_database(template_warehouse, settings.warehouse_db)
    db.drop_database(template_warehouse, settings.mlflow_db)


def flagged(q: Query, day: dt.date) -> list[str]:
    return [
        r[0]
        for r in q(
            "SELECT feature FROM marts.model_monitoring WHERE model_name = %s AND model_version = 0 "
            "AND business_date = %s AND drifted ORDER BY feature",
            (INPUTS, day),
        )
    ]


def test_the_daily_task_flags_the_planted_price_rise_from_its_start_and_not_before(drift_world, drift_raw):
    q = Query(drift_world)
    try:
        categories = q.one("SELECT count(DISTINCT category) FROM warehouse.dim_product")
        assert q("SELECT kind, start_date, category FROM truth.regime_change") == [
            ("category_price_rise", START, "Electronics")
        ]
        results = {day: monitor_served_models(drift_world, day) for day in MONITORED}
        for day, result in results.items():
            assert [(r.model, r.version, r.status) for r in result] == [
                (registry.CHURN_MODEL, None, "no_champion"),
                (registry.PURCHASE_MODEL, None, "no_champion"),
                (registry.CLV_MODEL, None, "no_champion"),
                (registry.SEGMENT_MODEL, None, "no_champion"),
                (registry.RECOMMENDER_MODEL, None, "no_champion"),
                (registry.DEMAND_FORECAST_MODEL, None, "no_champion"),
                (INPUTS, "0", "monitored"),
            ], day
        # nothing before the start nor in its first days (too few risen lines in a week yet), then
        # the risen category's price index alone, every day
        assert {d: flagged(q, d) for d in MONITORED} == {
            d: (["price_index[Electronics]"] if d >= START + dt.timedelta(days=6) else []) for d in MONITORED
        }
        assert q(
            "SELECT count(DISTINCT feature), count(*) FROM marts.model_monitoring WHERE model_name = %s",
            (INPUTS,),
        ) == [(5 + categories, (5 + categories) * len(MONITORED))]
        for day in (START - dt.timedelta(days=1), START + dt.timedelta(days=7)):
            assert_rows_equal(stored(q, day), from_raw_files(drift_world, drift_raw, day))
    finally:
        q.close()


def test_a_rerun_replaces_the_days_inputs_rows(drift_world):
    day = START + dt.timedelta(days=8)
    monitor_served_models(drift_world, day)
    q = Query(drift_world)
    try:
        first = q(
            "SELECT feature, psi, computed_at FROM marts.model_monitoring WHERE business_date = %s", (day,)
        )
        monitor_served_models(drift_world, day)
        again = q(
            "SELECT feature, psi, computed_at FROM marts.model_monitoring WHERE business_date = %s", (day,)
        )
        assert sorted(r[:2] for r in again) == sorted(r[:2] for r in first)
        assert len(again) == 5 + q.one("SELECT count(DISTINCT category) FROM warehouse.dim_product")
        assert min(r[2] for r in again) > max(r[2] for r in first)
    finally:
        q.close()


def test_a_date_past_the_data_is_not_monitored_and_says_why(drift_world):
    """No order and no signup in the window (a date past the data, or an imported log without orders):
    nothing is compared, and no row claims 'no drift'."""
    day = AS_OF + dt.timedelta(days=30)
    inputs = monitor_served_models(drift_world, day)[-1]
    assert (inputs.model, inputs.status, inputs.reason) == (
        INPUTS,
        "no_population",
        f"no order, delivery or new customer in the 7 days to {day}: nothing to compare",
    )
    q = Query(drift_world)
    try:
        assert q.one("SELECT count(*) FROM marts.model_monitoring WHERE business_date = %s", (day,)) == 0
    finally:
        q.close()


def test_the_retraining_decision_reflags_the_stored_rows_at_its_own_level(drift_world):
    """retrain.inputs_flags: a monitored day's stored p-values and PSIs flagged at
    ECOMM_DRIFT_RETRAIN_INPUTS_ALPHA equal the view computed now at that level (a day not monitored
    is computed); at the view's own level (ECOMM_DRIFT_ALPHA) they are the stored flags."""
    day, unmonitored = START + dt.timedelta(days=5), START + dt.timedelta(days=12)
    monitor_served_models(drift_world, day)
    q = Query(drift_world)
    try:
        assert (
            q.one(
                "SELECT count(*) FROM marts.model_monitoring WHERE model_name = %s AND business_date = %s",
                (INPUTS, unmonitored),
            )
            == 0
        )
        own_level = drift_world.model_copy(update={"drift_retrain_inputs_alpha": drift_world.drift_alpha})
        loose = drift_world.model_copy(update={"drift_retrain_inputs_alpha": 0.5})
        for settings in (drift_world, own_level, loose):
            alpha, min_psi = settings.drift_retrain_inputs_alpha, settings.drift_min_psi
            with db.connection(settings) as conn:
                now = {d: recent_inputs_drift(conn, d, alpha, min_psi) for d in (day, unmonitored)}
            for d, rows in now.items():
                expected = sorted(r.feature for r in rows if r.drifted)
                assert retrain.inputs_flags(settings, d) == expected, (alpha, d)
        assert retrain.inputs_flags(own_level, day) == sorted(flagged(q, day))
    finally:
        q.close()


def stored(q: Query, day: dt.date) -> list[tuple]:
    return q(
        "SELECT feature, kind, psi, ks_statistic, chi2_p_value, drifted, reference_rows, current_rows "
        "FROM marts.model_monitoring WHERE model_name = %s AND business_date = %s ORDER BY feature",
        (INPUTS, day),
    )


def assert_rows_equal(got: list[tuple], expected: list[tuple]) -> None:
    assert [r[:2] + r[5:] for r in got] == [r[:2] + r[5:] for r in expected]
    for g, e in zip(got, expected, strict=True):
        assert [x is None for x in g[2:5]] == [x is None for x in e[2:5]], g[0]
        measures = [(x, y) for x, y in zip(g[2:5], e[2:5], strict=True) if y is not None]
        assert [x for x, _ in measures] == pytest.approx([y for _, y in measures], rel=1e-9, abs=1e-12), g[0]


def raw_entity(raw: Path, entity: str) -> pd.DataFrame:
    files = [p / f"{entity}.csv" for p in sorted(raw.glob("20*")) if (p / f"{entity}.csv").exists()]
    return pd.concat([f for f in map(pd.read_csv, files) if len(f)], ignore_index=True)


def from_raw_files(settings, raw: Path, day: dt.date) -> list[tuple]:
    """The view computed from the generated batch files (not the warehouse's tables) with the same
    reference rule and flag settings."""
    customers, lines, products = (raw_entity(raw, e) for e in ("customers", "order_items", "products"))
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    lines["order_ts"] = pd.to_datetime(lines["order_ts"])
    reference = inputs_reference(customers, lines, products, reference_cutoff(day))
    rows = inputs_drift(
        reference, customers, lines, products, day, settings.drift_alpha, settings.drift_min_psi
    )
    return drift_rows(rows)


def test_the_monitoring_page_shows_the_recent_inputs(drift_world, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from ecomm.dashboard.pages.monitoring import NO_SERVED_MODEL
    from ecomm.orchestration.config import settings_env

    latest = START + dt.timedelta(days=7)
    for day in (START - dt.timedelta(days=1), latest):
        monitor_served_models(drift_world, day)
    for name, value in settings_env(drift_world).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    st.cache_data.clear()
    app = AppTest.from_file(str(APP), default_timeout=300).run()
    app.switch_page("views/monitoring.py").run()
    assert not app.exception, [e.value for e in app.exception]

    q = Query(drift_world)
    try:
        shown_day = q.one("SELECT max(business_date) FROM marts.model_monitoring")  # other tests' too
        expected = q(
            "SELECT feature, psi, chi2_p_value, drifted, current_rows FROM marts.model_monitoring "
            "WHERE model_name = 'inputs' AND business_date = %s ORDER BY drifted DESC, psi DESC",
            (shown_day,),
        )
        over_time = q(
            "SELECT feature, business_date, psi FROM marts.model_monitoring WHERE model_name = 'inputs' "
            "ORDER BY feature, business_date"
        )
    finally:
        q.close()
    assert shown_day >= latest
    assert [i.value for i in app.info] == [NO_SERVED_MODEL]
    assert [s.value for s in app.subheader] == [
        f"Recent inputs on {shown_day:%d %b %Y}: price_index[Electronics]"
    ]
    (table,) = app.dataframe
    shown = table.value[["feature", "psi", "p_value", "drifted", "current_rows"]]
    assert [tuple(r) for r in shown.itertuples(index=False)] == expected
    (chart,) = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    traced = [
        (t["name"], d[:10], y) for t in chart["data"] for d, y in zip(t["x"], array(t["y"]), strict=True)
    ]
    assert traced == [(f, d.isoformat(), psi) for f, d, psi in over_time]


def array(value) -> list:
    """A plotly JSON array: a list, or numpy data plotly encoded as base64 ("bdata")."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value
