"""What the DAG files share: default arguments, the business date of a run, fresh Settings, and
failing at once on bad data. Imported by DAG files (it imports Airflow); keep it light: DAG files
are parsed every 30 s, so `ecomm`'s heavy modules are imported inside tasks only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from ecomm.settings import Settings

OWNER = "data-platform"


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
def bad_data_fails_at_once() -> Iterator[None]:
    """Retrying cannot fix bad data: a failed quality check or a rejected batch fails the task
    without retries, with the reason as its message. Other errors (a lost connection) retry."""
    from ecomm.pipeline import QualityCheckFailed
    from ecomm.warehouse.raw import BatchError

    try:
        yield
    except (QualityCheckFailed, BatchError) as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
