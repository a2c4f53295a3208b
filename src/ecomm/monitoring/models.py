"""Drift of each served model against the training reference stored with its version.

At registration (ml.churn.train, ml.purchase.train, ml.clv.train, ml.segment.train,
ml.recommend.train, ml.forecast.train)
`store_reference` logs the version's training reference (monitoring.reference) as the JSON artifact
`monitoring/reference.json` of the run that registered it, and tags the version with its path.
Daily, `monitor_served_models` takes each monitored model's champion, builds the population it would
score the day after the business date (the features of the batch scoring, scored by that version),
compares features and predictions with the reference, replaces the (model, version, date) rows of
marts.model_monitoring and writes that day's HTML report (monitoring.report) under
ECOMM_DRIFT_REPORTS (default ECOMM_HOME/drift-reports), which the dashboard's Monitoring page offers. Beside them it runs the recent-inputs view (monitoring.recent_inputs),
stored as the pseudo-model `inputs`.

Models registered before references existed, or without a champion, are reported and skipped, and
so is a day without a population (no_population, with the reason: demand_forecast_model on a date
whose forecasts were not stored).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ecomm.monitoring.reference import FeatureDrift, drift_against
from ecomm.monitoring.report import render, write_report

REFERENCE_ARTIFACT = "monitoring/reference.json"
REFERENCE_TAG = "monitoring_reference"  # on the model version: the artifact path in its run
TABLE = "marts.model_monitoring"
COLUMNS = (
    "model_name",
    "model_version",
    "business_date",
    "feature",
    "kind",
    "psi",
    "ks_statistic",
    "chi2_p_value",
    "drifted",
    "reference_rows",
    "current_rows",
)


# ------------------------------------------------------------------------------------ reference
def store_reference(client, name: str, version: str, reference: dict) -> None:
    """Log `reference` in the active run (the one that registered `version`) and tag the version."""
    import mlflow

    mlflow.log_dict(reference, REFERENCE_ARTIFACT)
    client.set_model_version_tag(name, version, REFERENCE_TAG, REFERENCE_ARTIFACT)


def load_reference(client, name: str, version: str) -> dict | None:
    """The training reference of a version (None: registered without one)."""
    model_version = client.get_model_version(name, version)
    path = model_version.tags.get(REFERENCE_TAG)
    if path is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(model_version.run_id, path, tmp)
        return json.loads(Path(local).read_text())


# ---------------------------------------------------------------------------- day's population
def churn_population(conn, loaded, cutoff: dt.date, first_day: dt.date) -> tuple[pd.DataFrame, pd.Series]:
    """The customers marts.churn_scores would hold on `cutoff`: their features and probabilities."""
    from ecomm.features.churn import churn_features
    from ecomm.ml.churn.scoring import score_features
    from ecomm.ml.serving import CHURN_PROBABILITY

    scored = score_features(loaded, churn_features(conn, cutoff, first_day=first_day))
    return scored, scored[CHURN_PROBABILITY]


def purchase_population(conn, loaded, cutoff: dt.date, first_day: dt.date) -> tuple[pd.DataFrame, pd.Series]:
    """The active customers marts.purchase_scores would hold on `cutoff`: features, probabilities."""
    from ecomm.features.purchase import never_active, purchase_features
    from ecomm.ml.serving import PURCHASE_PROBABILITY

    model = loaded.unwrap_python_model()
    features = purchase_features(conn, cutoff, first_day=first_day)
    active = features[~never_active(features)]
    return active, model.predict(None, model.inputs(active))[PURCHASE_PROBABILITY]


def clv_population(conn, loaded, cutoff: dt.date, first_day: dt.date) -> tuple[pd.DataFrame, pd.Series]:
    """The buyers marts.customer_value would value on `cutoff`: their BTYD inputs, expected values."""
    from ecomm.features.clv import BTYD_INPUTS, clv_features
    from ecomm.ml.serving import EXPECTED_VALUE

    inputs = clv_features(conn, cutoff, first_day)[list(BTYD_INPUTS)]
    return inputs, loaded.unwrap_python_model().predict(None, inputs)[EXPECTED_VALUE]


def segment_population(conn, loaded, cutoff: dt.date, first_day: dt.date) -> tuple[pd.DataFrame, pd.Series]:
    """The customers active before `cutoff` (those segmented): their features and segment ids."""
    from ecomm.features.segments import segment_features
    from ecomm.ml.serving import SEGMENT_ID

    model = loaded.unwrap_python_model()
    inputs = model.inputs(segment_features(conn, cutoff))
    return inputs, model.predict(None, inputs)[SEGMENT_ID]


def recommender_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date
) -> tuple[pd.DataFrame, pd.Series]:
    """The customers who bought in the 4 weeks before `cutoff` and what the version recommends them
    (monitoring.recommender)."""
    from ecomm.monitoring.recommender import recommendation_population

    return recommendation_population(loaded.unwrap_python_model(), conn, cutoff)


def demand_forecast_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date
) -> tuple[pd.DataFrame, pd.Series]:
    """The products forecast on the business date (the day before `cutoff`), read from the stored
    forecasts rather than forecast again (monitoring.forecast); NoPopulation when none is stored."""
    from ecomm.monitoring.forecast import forecast_population

    return forecast_population(conn, cutoff - dt.timedelta(days=1))


def monitored_populations() -> dict[str, Callable]:
    from ecomm.ml import registry

    return {
        registry.CHURN_MODEL: churn_population,
        registry.PURCHASE_MODEL: purchase_population,
        registry.CLV_MODEL: clv_population,
        registry.SEGMENT_MODEL: segment_population,
        registry.RECOMMENDER_MODEL: recommender_population,
        registry.DEMAND_FORECAST_MODEL: demand_forecast_population,
    }


# ------------------------------------------------------------------------------------- storage
def write_drift(conn, name: str, version: str, day: dt.date, rows: list[FeatureDrift]) -> int:
    """Replace the (model, version, date) rows of marts.model_monitoring, in one transaction."""
    from psycopg2.extras import execute_values

    values = [
        (name, int(version), day, r.feature, r.kind, r.psi, r.ks_statistic, r.chi2_p_value, r.drifted,
         r.reference_rows, r.current_rows)
        for r in rows
    ]  # fmt: skip
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {TABLE} WHERE model_name = %s AND model_version = %s AND business_date = %s",
            (name, int(version), day),
        )
        execute_values(cur, f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES %s", values)
    conn.commit()
    return len(values)


@dataclass(frozen=True)
class ModelDrift:
    model: str
    version: str | None
    business_date: dt.date
    status: str  # monitored, no_champion, no_reference, no_population (see `reason`)
    rows: tuple[FeatureDrift, ...] = ()
    seconds: float = 0.0
    report: Path | None = None  # the day's HTML report (monitoring.report); none for `inputs`
    reason: str | None = None  # why a no_population model was skipped (monitoring.forecast)

    @property
    def drifted(self) -> list[str]:
        return [r.feature for r in self.rows if r.drifted]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "business_date": self.business_date.isoformat(),
            "status": self.status,
            "features": len(self.rows),
            "drifted": self.drifted,
            "max_psi": max((r.psi for r in self.rows), default=None),
            "seconds": round(self.seconds, 2),
            "report": None if self.report is None else str(self.report),
            "reason": self.reason,
        }


def monitor_model(settings, client, conn, name: str, day: dt.date) -> ModelDrift:
    import mlflow

    from ecomm.features.churn import warehouse_span
    from ecomm.ml import registry
    from ecomm.monitoring.forecast import NoPopulation

    started = time.perf_counter()
    version = registry.alias_version(client, name, registry.CHAMPION)
    if version is None:
        return ModelDrift(name, None, day, "no_champion")
    reference = load_reference(client, name, version)
    if reference is None:
        return ModelDrift(name, version, day, "no_reference")
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, version))
    span = warehouse_span(conn)
    try:
        features, predictions = monitored_populations()[name](
            conn, loaded, day + dt.timedelta(days=1), span.first_day
        )
    except NoPopulation as skipped:
        conn.rollback()
        return ModelDrift(name, version, day, "no_population", reason=str(skipped))
    rows = drift_against(reference, features, predictions, settings.drift_psi_threshold, settings.drift_alpha)
    write_drift(conn, name, version, day, rows)
    html = render(name, version, day, reference, features, predictions, rows, flag_rule(settings))
    path = write_report(settings.drift_reports_dir, name, version, day, html)
    return ModelDrift(name, version, day, "monitored", tuple(rows), time.perf_counter() - started, path)


def flag_rule(settings) -> str:
    return (
        f"Drifted: PSI > {settings.drift_psi_threshold:g} (ECOMM_DRIFT_PSI_THRESHOLD) and a p-value "
        f"below {settings.drift_alpha:g} (ECOMM_DRIFT_ALPHA) / the features tested (KS at the "
        "reference's row count for numeric features and the prediction, chi-squared for categories)."
    )


def monitor_inputs(settings, conn, day: dt.date) -> ModelDrift:
    """The recent-inputs view on `day` (monitoring.recent_inputs), written as the pseudo-model INPUTS."""
    from ecomm.monitoring.recent_inputs import INPUTS, INPUTS_VERSION, recent_inputs_drift

    started = time.perf_counter()
    rows = recent_inputs_drift(conn, day, settings.drift_alpha, settings.drift_min_psi)
    write_drift(conn, INPUTS, INPUTS_VERSION, day, rows)
    return ModelDrift(INPUTS, INPUTS_VERSION, day, "monitored", tuple(rows), time.perf_counter() - started)


def monitor_served_models(settings, day: dt.date) -> list[ModelDrift]:
    """Drift of every monitored model's champion on business date `day`, and of the recent inputs,
    written to the warehouse."""
    from ecomm import db
    from ecomm.ml import tracking

    client = tracking.configure(settings)
    with db.connection(settings) as conn:
        models = [monitor_model(settings, client, conn, name, day) for name in monitored_populations()]
        return [*models, monitor_inputs(settings, conn, day)]
