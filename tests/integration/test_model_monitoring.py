"""Daily drift of the served models against the training reference stored with their versions, on the
session's trained world (churn_model, purchase_model, clv_model, segment_model, recommender_model and
demand_forecast_model v1 are champions, each registered with its reference): marts.model_monitoring
holds exactly the measures of the day's population against that reference, one row per feature and
one for the prediction, the day's HTML report shows them, and a re-run replaces its date's rows."""

from __future__ import annotations

import datetime as dt

import mlflow
import pandas as pd
import pytest

from ecomm import db
from ecomm.features.churn import warehouse_span
from ecomm.features.clv import BTYD_INPUTS
from ecomm.ml import registry, tracking
from ecomm.ml.forecast.shop import product_sales
from ecomm.monitoring import forecast, recommender
from ecomm.monitoring.forecast import NoPopulation
from ecomm.monitoring.models import (
    MonitoringFailed,
    load_reference,
    monitor_model,
    monitor_served_models,
    monitored_populations,
    raise_for_failures,
)
from ecomm.monitoring.recent_inputs import INPUTS
from ecomm.monitoring.reference import PREDICTION, drift_against, training_reference
from ecomm.monitoring.report import report_path

from support.drift_report import feature_of, summary_rows
from support.query import Query, drift_rows
from support.trained_world import WORLD_AS_OF

SERVED = (
    registry.CHURN_MODEL,
    registry.PURCHASE_MODEL,
    registry.CLV_MODEL,
    registry.SEGMENT_MODEL,
    registry.RECOMMENDER_MODEL,
)
ROW = "feature, kind, psi, ks_statistic, chi2_p_value, drifted, reference_rows, current_rows"


def stored(q: Query, name: str, day: dt.date) -> list[tuple]:
    return q(
        f"SELECT {ROW} FROM marts.model_monitoring WHERE model_name = %s AND model_version = 1 "
        "AND business_date = %s ORDER BY feature",
        (name, day),
    )


def expected_rows(settings, client, name: str, day: dt.date) -> tuple[dict, list[tuple]]:
    """The reference and the rows computed here from the same version, population and threshold."""
    reference = load_reference(client, name, "1")
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, "1"))
    with db.connection(settings) as conn:
        span = warehouse_span(conn)
        features, predictions = monitored_populations()[name](
            conn, loaded, day + dt.timedelta(days=1), span.first_day, "1"
        )
    rows = drift_against(reference, features, predictions, settings.drift_psi_threshold, settings.drift_alpha)
    return reference, drift_rows(rows)


def served_inputs(name: str, metadata: dict) -> list[str]:
    """The input columns of a version's served head, from its MLflow metadata."""
    if name == registry.CHURN_MODEL:
        return metadata["heads"]["full"]
    if name in (registry.PURCHASE_MODEL, registry.SEGMENT_MODEL):
        return metadata["features"]
    if name == registry.RECOMMENDER_MODEL:  # no feature table: its population's columns
        return recommender.COLUMNS
    return list(BTYD_INPUTS)  # clv_model: the BTYD fit reads these four


def test_each_served_model_is_compared_with_its_training_reference(trained_world):
    client = tracking.configure(trained_world)
    week_before = WORLD_AS_OF - dt.timedelta(days=7)
    earlier = monitor_served_models(trained_world, week_before)
    results = monitor_served_models(trained_world, WORLD_AS_OF)
    # the forecaster is monitored on the date its forecasts were stored (training's, WORLD_AS_OF) only
    assert [(r.model, r.version, r.status) for r in earlier + results] == [
        *[(name, "1", "monitored") for name in SERVED],
        (registry.DEMAND_FORECAST_MODEL, "1", "no_population"),
        (INPUTS, "0", "monitored"),
        *[(name, "1", "monitored") for name in SERVED],
        (registry.DEMAND_FORECAST_MODEL, "1", "monitored"),
        (INPUTS, "0", "monitored"),
    ]

    q = Query(trained_world)
    try:
        for name, result in zip(SERVED, results[: len(SERVED)], strict=True):
            reference, expected = expected_rows(trained_world, client, name, WORLD_AS_OF)
            metadata = mlflow.pyfunc.load_model(
                client.get_model_version_download_uri(name, "1")
            ).metadata.metadata
            inputs = served_inputs(name, metadata)
            assert list(reference["features"]) == inputs  # every input of the served head
            assert stored(q, name, WORLD_AS_OF) == expected
            assert len(expected) == len(inputs) + 1
            assert [r for r in expected if r[0] == PREDICTION][0][1] == "prediction"
            assert sorted(result.drifted) == sorted(r[0] for r in expected if r[5])
            assert len(stored(q, name, week_before)) == len(inputs) + 1
            # the day's HTML report shows the stored rows: every feature's PSI and flag
            assert result.report == report_path(trained_world.drift_reports_dir, name, "1", WORLD_AS_OF)
            shown = summary_rows(result.report.read_text(encoding="utf-8"))
            assert sorted((feature_of(c[0]), c[1], c[2], c[5]) for c in shown) == sorted(
                (r[0], r[1], f"{r[2]:.4f}", "yes" if r[5] else "no") for r in expected
            )
            assert report_path(trained_world.drift_reports_dir, name, "1", week_before).is_file()

        # a re-run replaces the date's rows (same measures, a later computed_at); other dates stay
        before = q.one(
            "SELECT max(computed_at) FROM marts.model_monitoring WHERE business_date = %s", (WORLD_AS_OF,)
        )
        counts = q("SELECT business_date, count(*) FROM marts.model_monitoring GROUP BY 1 ORDER BY 1")
        monitor_served_models(trained_world, WORLD_AS_OF)
        assert q("SELECT business_date, count(*) FROM marts.model_monitoring GROUP BY 1 ORDER BY 1") == counts
        assert (
            q.one(
                "SELECT min(computed_at) FROM marts.model_monitoring WHERE business_date = %s", (WORLD_AS_OF,)
            )
            > before
        )
        for name in SERVED:
            assert stored(q, name, WORLD_AS_OF) == expected_rows(trained_world, client, name, WORLD_AS_OF)[1]
    finally:
        q.close()


def test_the_recommenders_reference_is_its_population_at_its_training_end(trained_world):
    """Registered with the customers who bought in the 4 weeks before its training end and what it
    recommends them; monitored on the day before that end, the same population, nothing moved."""
    client = tracking.configure(trained_world)
    name = registry.RECOMMENDER_MODEL
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, "1"))
    model = loaded.unwrap_python_model()
    train_end = dt.date.fromisoformat(model.state["info"]["train_end"])
    with db.connection(trained_world) as conn:
        features, score = recommender.recommendation_population(model, conn, train_end)
        buyers = recommender.recent_buyers(conn, train_end)
    reference = load_reference(client, name, "1")
    assert reference == training_reference(features, recommender.CATEGORICAL, score)
    assert reference["rows"] == len(buyers) > 0
    assert reference["features"]["known_customer"]["shares"] == {"True": 1.0, "__other__": 0.0}

    day_before = train_end - dt.timedelta(days=1)
    with db.connection(trained_world) as conn:
        result = monitor_model(trained_world, client, conn, name, day_before)
    assert [(r.feature, r.psi, r.drifted, r.current_rows) for r in result.rows] == [
        (feature, 0.0, False, len(buyers)) for feature in [*recommender.COLUMNS, PREDICTION]
    ]


def test_the_forecasters_reference_is_its_stored_forecasts_population(trained_world):
    """Registered with the products it forecast on its training end (the forecasts training stored)
    and their recent sales; monitored on that day, the same population, nothing moved; a day whose
    forecasts were not stored is skipped with the reason."""
    client = tracking.configure(trained_world)
    name = registry.DEMAND_FORECAST_MODEL
    run = client.get_run(client.get_model_version(name, "1").run_id)
    train_end = dt.date.fromisoformat(run.data.params["last_day"])
    reference = load_reference(client, name, "1")
    with db.connection(trained_world) as conn:
        features, forecast_mean = forecast.forecast_population(conn, train_end, "1")
        sales = product_sales(conn)
    assert reference == training_reference(features, forecast.CATEGORICAL, forecast_mean)
    q = Query(trained_world)
    try:
        stored_forecasts = q(
            "SELECT series_id::bigint, avg(point) FROM marts.demand_forecast WHERE model_name = %s "
            "AND series_level = 'product' AND forecast_date = %s GROUP BY 1 ORDER BY 1",
            (name, train_end),
        )
    finally:
        q.close()
    assert reference["rows"] == len(stored_forecasts) > 0
    assert list(reference["features"]) == forecast.COLUMNS
    # each product's features recomputed from the forecasters' own sales frame (days without a sale 0)
    end = pd.Timestamp(train_end)
    products = [p for p, _ in stored_forecasts]
    sales = sales[sales["product_id"].isin(products) & (sales["date"] <= end)]
    recent = sales[sales["date"] > end - pd.Timedelta(days=forecast.WINDOW_DAYS)].groupby("product_id")
    sold = sales[sales["y"] > 0].groupby("product_id")["date"].max()
    expected = pd.DataFrame(
        {
            "mean_daily_units": recent["y"].mean(),
            "zero_day_share": recent["y"].agg(lambda y: float((y == 0).mean())),
            "days_since_last_sale": (end - sold.reindex(products)).dt.days.astype(float),
            "category": sales.groupby("product_id")["category"].first(),
        }
    ).reindex(products)
    pd.testing.assert_frame_equal(features, expected.reset_index(drop=True), check_exact=False, rtol=1e-12)
    assert forecast_mean.tolist() == pytest.approx([m for _, m in stored_forecasts], rel=1e-12)

    with db.connection(trained_world) as conn:
        result = monitor_model(trained_world, client, conn, name, train_end)
        skipped = train_end - dt.timedelta(days=1)
        missing = monitor_model(trained_world, client, conn, name, skipped)
    assert [(r.feature, r.psi, r.drifted) for r in result.rows] == [
        (feature, 0.0, False) for feature in [*forecast.COLUMNS, PREDICTION]
    ]
    assert (missing.status, missing.rows, missing.report) == ("no_population", (), None)
    assert missing.reason == f"no product forecasts stored for {skipped.isoformat()} in marts.demand_forecast"
    q = Query(trained_world)
    try:
        assert stored(q, name, skipped) == []
    finally:
        q.close()


def test_a_model_whose_report_cannot_be_written_fails_alone(trained_world, tmp_path):
    """churn_model (monitored first) cannot write its report - a file stands where its directory
    goes: it is `failed` with the reason, its rows are still stored, every model after it is
    monitored with its report, and raise_for_failures names it."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / registry.CHURN_MODEL).write_text("not a directory")
    settings = trained_world.model_copy(update={"drift_reports": reports})
    results = monitor_served_models(settings, WORLD_AS_OF)
    by_model = {r.model: r for r in results}
    churn = by_model.pop(registry.CHURN_MODEL)
    assert (churn.status, churn.version) == ("failed", "1")
    assert (
        churn.reason.startswith("report not written: ")
        and str(reports / registry.CHURN_MODEL) in churn.reason
    )
    assert "\n" not in churn.reason
    assert churn.report is None and len(churn.rows) > 0  # the measures were stored before the report
    q = Query(trained_world)
    try:
        assert stored(q, registry.CHURN_MODEL, WORLD_AS_OF) == drift_rows(list(churn.rows))
    finally:
        q.close()
    assert {m: r.status for m, r in by_model.items()} == {
        **dict.fromkeys(SERVED[1:], "monitored"),
        registry.DEMAND_FORECAST_MODEL: "monitored",
        INPUTS: "monitored",
    }
    for name in [*SERVED[1:], registry.DEMAND_FORECAST_MODEL]:
        assert by_model[name].report == report_path(reports, name, "1", WORLD_AS_OF)
        assert by_model[name].report.is_file()
    with pytest.raises(MonitoringFailed, match=f"1 of {len(results)} failed: churn_model v1: report not"):
        raise_for_failures(results)
    raise_for_failures([r for r in results if r.model != registry.CHURN_MODEL])  # nothing failed: no error


def test_the_forecaster_is_monitored_on_the_served_versions_forecasts_only(trained_world):
    """The day's stored forecasts are the served version's population only: with the training end's
    rows relabelled as another version's (a later champion's run replaces a date's rows), v1 has no
    population that day, and the reason says whose forecasts are there."""
    client = tracking.configure(trained_world)
    name = registry.DEMAND_FORECAST_MODEL
    run = client.get_run(client.get_model_version(name, "1").run_id)
    train_end = dt.date.fromisoformat(run.data.params["last_day"])
    relabel = (
        "UPDATE marts.demand_forecast SET model_version = %s WHERE model_name = %s AND forecast_date = %s"
    )
    with db.connection(trained_world) as conn:
        with pytest.raises(NoPopulation, match=rf"no product forecasts of v2 stored for {train_end}.*v1's"):
            forecast.forecast_population(conn, train_end, "2")
        conn.rollback()
        try:
            with conn.cursor() as cur:
                cur.execute(relabel, ("7", name, train_end))  # not committed
            result = monitor_model(trained_world, client, conn, name, train_end)
        finally:
            conn.rollback()
            with conn.cursor() as cur:  # should the monitoring have committed it, undo it
                cur.execute(relabel, ("1", name, train_end))
            conn.commit()
        monitored = monitor_model(trained_world, client, conn, name, train_end)
    assert (result.status, result.version, result.rows) == ("no_population", "1", ())
    assert result.reason == (
        f"no product forecasts of v1 stored for {train_end.isoformat()} in marts.demand_forecast (they are v7's)"
    )
    assert (monitored.status, monitored.version) == ("monitored", "1")
