"""What the DAG files share: default arguments, the business date of a run, fresh Settings,
failing at once on bad data, and the training task of a registered model. Imported by DAG files (it imports Airflow); keep it light: DAG files
are parsed every 30 s, so `ecomm`'s heavy modules are imported inside tasks only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from airflow.sdk import CronTriggerTimetable, get_current_context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from ecomm.settings import Settings

OWNER = "data-platform"


def every_sunday(hour: int) -> CronTriggerTimetable:
    """Sundays at `hour`:00 UTC, the first run being the next Sunday, never the last one already past
    (at platform start the bootstrap has just done that work). For a DAG without start_date: with
    one, Airflow 3.3 runs the past tick at once whatever `run_immediately` says, and
    `run_immediately=False` still runs it within 10% of the period (apache/airflow#64162); a zero
    window means only the next tick."""
    return CronTriggerTimetable(f"0 {hour} * * 0", timezone="UTC", run_immediately=timedelta(0))


def default_args(**overrides) -> dict:
    """Retries with exponential backoff (1, 2, 4 … minutes, at most 10) for transient failures."""
    return {
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(hours=1),
    } | overrides


def dag_args(**overrides) -> dict:
    """Keyword arguments every DAG of ours shares: no catch-up of missed intervals (the pipeline
    catches up missed days itself), one run at a time, default_args."""
    return {"catchup": False, "max_active_runs": 1, "default_args": default_args()} | overrides


def business_date(context) -> date:
    """The business date of a run: its logical date's (UTC) date; runs triggered without a
    logical date use the date they were due to run after."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return moment.date()


def task_settings() -> Settings:
    """Settings as the Airflow process's environment gives them (ECOMM_*, set by
    `ecomm.orchestration.config.airflow_env`); built afresh, never the cached ones."""
    from ecomm.settings import Settings

    return Settings()


@contextlib.contextmanager
def fails_at_once(*errors: type[Exception]) -> Iterator[None]:
    """Errors a retry cannot fix fail the task without retries, with the reason as its message.
    Other errors (a lost connection) retry."""
    try:
        yield
    except errors as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def bad_data_fails_at_once():
    """A failed quality check or a rejected batch: retrying cannot fix bad data."""
    from ecomm.pipeline import QualityCheckFailed
    from ecomm.warehouse.raw import BatchError

    return fails_at_once(QualityCheckFailed, BatchError)


def no_training_data_fails_at_once():
    """A warehouse too short to train on (FeatureError): a retry minutes later cannot fix it."""
    from ecomm.features.churn import FeatureError

    return fails_at_once(FeatureError)


# what a trainer's result says it learnt from, beside the gate: churn and purchase their cutoffs and
# the family served, the recommender its split, segments the month and k, lifetime value the month
# and its cutoff, the demand forecast the model chosen per level and the forecasts it stored
TRAINING_DETAILS = ("plan", "split", "family", "as_of", "k", "cutoff", "methods", "stored")


def train_task(model: str) -> dict:
    """A DAG's training task of one registered model: skipped when nothing changed since its latest
    version (conf {"force": true} retrains anyway), failed at once when the warehouse cannot train
    it (FeatureError: a retry cannot fix that); its result as the task's XCom: version, the gate's
    decision, metrics and TRAINING_DETAILS (JSON-safe)."""
    import dataclasses

    from ecomm.ml.training_plan import train_model, unchanged_since

    settings = task_settings()
    forced = bool((get_current_context()["dag_run"].conf or {}).get("force"))
    if not forced and (version := unchanged_since(settings, model)) is not None:
        raise AirflowSkipException(
            f"{model} v{version} learnt from this very warehouse with these settings: nothing changed, "
            'nothing to train (trigger with conf {"force": true} to retrain anyway)'
        )
    with no_training_data_fails_at_once():
        result = train_model(settings, model)
    details = {key: getattr(result, key) for key in TRAINING_DETAILS if hasattr(result, key)}
    details = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v for k, v in details.items()}
    gate = result.gate
    decision = "promoted" if gate.promoted else "kept"
    print(f"{model} v{result.version}: {decision} - {gate.reason}")
    return json_safe(
        {
            "model": model,
            "version": result.version,
            "run_id": result.run_id,
            "seconds": result.seconds,
            **details,
            "metrics": result.metrics,
            "gate": {"decision": decision, **gate.to_dict()},
        }
    )


def json_safe(value):
    """A task result as JSON Airflow can store: floats rounded to 6 places, NaN and inf as None,
    dates as ISO strings, tuples as lists."""
    import math
    from datetime import date

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return json_safe(value.item())
    return str(value)
