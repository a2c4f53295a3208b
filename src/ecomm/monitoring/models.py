"""Drift of each served model against the training reference stored with its version.

At registration (ml.churn.train, ml.purchase.train, ml.clv.train, ml.segment.train,
ml.recommend.train, ml.forecast.train)
`store_reference` logs the version's training reference (monitoring.reference) as the JSON artifact
`monitoring/reference.json` of the run that registered it, and tags the version with its path.
Daily, `monitor_served_models` takes each monitored model's champion, builds the population it would
score the day after the business date (the features of the batch scoring, scored by that version),
compares features and predictions with the reference, replaces the (model, version, date) rows of
marts.model_monitoring (churn's and purchase's predictions also go to marts.monitored_predictions,
where their realised quality reads them once the labels mature: monitoring.prediction_log) and
writes that day's HTML report (monitoring.report) under
ECOMM_DRIFT_REPORTS (default ECOMM_HOME/drift-reports), which the dashboard's Monitoring page offers. Beside them it runs the recent-inputs view (monitoring.recent_inputs),
stored as the pseudo-model `inputs`.

Models registered before references existed, or without a champion, are reported and skipped, and
so is a day without a population (no_population, with the reason: demand_forecast_model on a date
whose forecasts were not stored by the served version).

Each model fails alone: an error while one is monitored (its population, its rows, its report under
an unwritable ECOMM_DRIFT_REPORTS) leaves it `failed` with a one-line reason, and the others are
still monitored; `raise_for_failures` then fails the caller (the DAG's model_drift task) naming them.
"""

from __future__ import annotations

import contextlib
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
class SharedFeatures:
    """Every customer's point-in-time churn features, built once per cutoff within one monitoring
    run: the purchase population is built on them, the churn population is their buyers (the
    feature query is most of a population's cost at 1M orders)."""

    def __init__(self) -> None:
        self._everyone: dict[tuple[dt.date, dt.date], pd.DataFrame] = {}

    def everyone(self, conn, cutoff: dt.date, first_day: dt.date) -> pd.DataFrame:
        from ecomm.features.churn import churn_features

        key = (cutoff, first_day)
        if key not in self._everyone:
            self._everyone[key] = churn_features(conn, cutoff, buyers_only=False, first_day=first_day)
        return self._everyone[key]


def churn_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The customers marts.churn_scores would hold on `cutoff`: their features and probabilities."""
    from ecomm.features.churn import buyers_among, churn_features
    from ecomm.ml.churn.scoring import score_features
    from ecomm.ml.serving import CHURN_PROBABILITY

    if shared is None:
        features = churn_features(conn, cutoff, first_day=first_day)
    else:
        features = buyers_among(conn, shared.everyone(conn, cutoff, first_day), cutoff)
    scored = score_features(loaded, features)
    return scored, scored[CHURN_PROBABILITY]


def purchase_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The active customers marts.purchase_scores would hold on `cutoff`: features, probabilities."""
    from ecomm.features.purchase import never_active, purchase_features
    from ecomm.ml.serving import PURCHASE_PROBABILITY

    model = loaded.unwrap_python_model()
    churn = None if shared is None else shared.everyone(conn, cutoff, first_day)
    features = purchase_features(conn, cutoff, first_day=first_day, churn=churn)
    active = features[~never_active(features)]
    return active, model.predict(None, model.inputs(active))[PURCHASE_PROBABILITY]


def clv_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The buyers marts.customer_value would value on `cutoff`: their BTYD inputs, expected values."""
    from ecomm.features.clv import BTYD_INPUTS, clv_features
    from ecomm.ml.serving import EXPECTED_VALUE

    inputs = clv_features(conn, cutoff, first_day)[list(BTYD_INPUTS)]
    return inputs, loaded.unwrap_python_model().predict(None, inputs)[EXPECTED_VALUE]


def segment_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The customers active before `cutoff` (those segmented): their features and segment ids."""
    from ecomm.features.segments import segment_features
    from ecomm.ml.serving import SEGMENT_ID

    model = loaded.unwrap_python_model()
    inputs = model.inputs(segment_features(conn, cutoff))
    return inputs, model.predict(None, inputs)[SEGMENT_ID]


def recommender_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The customers who bought in the 4 weeks before `cutoff` and what the version recommends them
    (monitoring.recommender)."""
    from ecomm.monitoring.recommender import recommendation_population

    return recommendation_population(loaded.unwrap_python_model(), conn, cutoff)


def demand_forecast_population(
    conn, loaded, cutoff: dt.date, first_day: dt.date, version: str, shared: SharedFeatures | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """The products `version` forecast on the business date (the day before `cutoff`), read from the
    stored forecasts rather than forecast again (monitoring.forecast); NoPopulation when that version
    stored none that day."""
    from ecomm.monitoring.forecast import forecast_population

    return forecast_population(conn, cutoff - dt.timedelta(days=1), version)


def monitored_populations() -> dict[str, Callable]:
    """Model name -> its population (conn, loaded version, cutoff, warehouse's first day, version,
    optionally the run's SharedFeatures): the features the version scores on the cutoff and its
    predictions."""
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
    status: str  # monitored, no_champion, no_reference, no_population or failed (see `reason`)
    rows: tuple[FeatureDrift, ...] = ()
    seconds: float = 0.0
    report: Path | None = None  # the day's HTML report (monitoring.report); none for `inputs`
    reason: str | None = None  # why it was skipped (no_population) or failed, one line

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


def failure_reason(error: BaseException) -> str:
    """One line: the error's type and the first line of its message."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def monitor_model(
    settings, client, conn, name: str, day: dt.date, shared: SharedFeatures | None = None
) -> ModelDrift:
    """The model's champion monitored on `day`; never raises: an error leaves it `failed` with the
    reason (and its transaction rolled back), so the models after it are still monitored."""
    from ecomm.ml import registry

    started = time.perf_counter()
    version = None
    try:
        version = registry.alias_version(client, name, registry.CHAMPION)
        if version is None:
            return ModelDrift(name, None, day, "no_champion")
        return monitor_version(settings, client, conn, name, version, day, started, shared)
    except Exception as error:  # any error fails this model only, named in the result
        return failed(conn, name, version, day, started, error)


def failed(
    conn, name: str, version: str | None, day: dt.date, started: float, error: Exception
) -> ModelDrift:
    with contextlib.suppress(Exception):  # after a lost connection the rollback fails too
        conn.rollback()
    return ModelDrift(
        name, version, day, "failed", seconds=time.perf_counter() - started, reason=failure_reason(error)
    )


def monitor_version(
    settings,
    client,
    conn,
    name: str,
    version: str,
    day: dt.date,
    started: float,
    shared: SharedFeatures | None = None,
) -> ModelDrift:
    import mlflow

    from ecomm.features import columns as C
    from ecomm.features.churn import warehouse_span
    from ecomm.monitoring.forecast import NoPopulation
    from ecomm.monitoring.prediction_log import log_predictions, logged_models

    reference = load_reference(client, name, version)
    if reference is None:
        return ModelDrift(name, version, day, "no_reference")
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, version))
    span = warehouse_span(conn)
    try:
        features, predictions = monitored_populations()[name](
            conn, loaded, day + dt.timedelta(days=1), span.first_day, version, shared
        )
    except NoPopulation as skipped:
        conn.rollback()
        return ModelDrift(name, version, day, "no_population", reason=str(skipped))
    rows = tuple(
        drift_against(reference, features, predictions, settings.drift_psi_threshold, settings.drift_alpha)
    )
    if name in logged_models():  # its quality, once the labels mature, reads these predictions
        log_predictions(conn, name, version, day + dt.timedelta(days=1), features[C.CUSTOMER_ID], predictions)
    write_drift(conn, name, version, day, list(rows))  # commits the logged predictions with the rows
    html = render(name, version, day, reference, features, predictions, list(rows), flag_rule(settings))
    try:
        path = write_report(settings.drift_reports_dir, name, version, day, html)
    except OSError as error:  # the rows are stored: the result keeps them, the report is what failed
        reason = f"report not written: {failure_reason(error)}"
        return ModelDrift(name, version, day, "failed", rows, time.perf_counter() - started, reason=reason)
    return ModelDrift(name, version, day, "monitored", rows, time.perf_counter() - started, path)


def flag_rule(settings) -> str:
    return (
        f"Drifted: PSI > {settings.drift_psi_threshold:g} (ECOMM_DRIFT_PSI_THRESHOLD) and a p-value "
        f"below {settings.drift_alpha:g} (ECOMM_DRIFT_ALPHA) / the features tested (KS at the "
        "reference's row count for numeric features and the prediction, chi-squared for categories)."
    )


def monitor_inputs(settings, conn, day: dt.date) -> ModelDrift:
    """The recent-inputs view on `day` (monitoring.recent_inputs), written as the pseudo-model INPUTS."""
    from ecomm.monitoring.inputs import WINDOW_DAYS
    from ecomm.monitoring.recent_inputs import INPUTS, INPUTS_VERSION, recent_inputs_drift

    started = time.perf_counter()
    try:
        rows = recent_inputs_drift(conn, day, settings.drift_alpha, settings.drift_min_psi)
        if not any(r.current_rows for r in rows):  # a date past the data, or a log without orders
            reason = (
                f"no order, delivery or new customer in the {WINDOW_DAYS} days to {day}: nothing to compare"
            )
            return ModelDrift(INPUTS, INPUTS_VERSION, day, "no_population", reason=reason)
        write_drift(conn, INPUTS, INPUTS_VERSION, day, rows)
    except Exception as error:  # as a model's: failed alone, named in the result
        return failed(conn, INPUTS, INPUTS_VERSION, day, started, error)
    return ModelDrift(INPUTS, INPUTS_VERSION, day, "monitored", tuple(rows), time.perf_counter() - started)


def lanes(names: list[str]) -> list[list[str]]:
    """The models in two lanes of about equal cost at 1M orders: churn and purchase (one build of
    the churn features between them) then the recent inputs, and the others."""
    from ecomm.ml import registry
    from ecomm.monitoring.recent_inputs import INPUTS

    first = [n for n in names if n in (registry.CHURN_MODEL, registry.PURCHASE_MODEL)]
    return [[*first, INPUTS], [n for n in names if n not in first]]


def monitor_served_models(settings, day: dt.date) -> list[ModelDrift]:
    """Drift of every monitored model's champion on business date `day`, and of the recent inputs,
    written to the warehouse; each one's failure is its own (status `failed`, see raise_for_failures).
    Two lanes run side by side, each on its own connection: most of a model's time is its feature
    query, so one lane's Python runs while the other's query runs in PostgreSQL."""
    from concurrent.futures import ThreadPoolExecutor

    from ecomm import db
    from ecomm.ml import tracking
    from ecomm.monitoring.recent_inputs import INPUTS

    client = tracking.configure(settings)
    names = list(monitored_populations())

    def lane(members: list[str]) -> dict[str, ModelDrift]:
        done = {}
        with db.connection(settings) as conn:
            shared = SharedFeatures()  # churn and purchase share one build of the churn features
            for name in members:
                if name == INPUTS:
                    done[name] = monitor_inputs(settings, conn, day)
                else:
                    done[name] = monitor_model(settings, client, conn, name, day, shared)
        return done

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="monitoring") as pool:
        results = {k: v for part in pool.map(lane, lanes(names)) for k, v in part.items()}
    return [*(results[n] for n in names), results[INPUTS]]


class MonitoringFailed(Exception):
    """Some models could not be monitored; the message names each with its reason."""


def raise_for_failures(results: list) -> None:
    """Fail the caller (after it has reported every result) when any model failed; `results`:
    ModelDrift and quality.RealisedQuality (both have model, version, status and reason)."""
    failures = [r for r in results if r.status == "failed"]
    if failures:
        named = "; ".join(f"{r.model} v{r.version}: {r.reason}" for r in failures)
        raise MonitoringFailed(f"{len(failures)} of {len(results)} failed: {named}")
