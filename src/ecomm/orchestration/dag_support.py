"""What the DAG files share: default arguments, the business date of a run, fresh Settings, and
failing at once on bad data. Imported by DAG files (it imports Airflow); keep it light: DAG files
are parsed every 30 s, so `ecomm`'s heavy modules are imported inside tasks only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from airflow.sdk import CronTriggerTimetable
from airflow.sdk.exceptions import AirflowFailException

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
