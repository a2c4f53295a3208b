"""The daily pipeline, one business date at a time, in steps the Airflow DAG runs as tasks.

`ecomm pipeline run --date D` runs them all: generate the date's batch if the world has not reached
it (continuing day after day) -> load (whose first phase validates each file, parsed once) -> quality
checks -> build the marts (dbt). Every step is idempotent: re-running a date reuses its batch and changes
nothing, and completes what a crashed or failed run left (unchecked or failed batches are checked,
marts missing a batch are built).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import BatchRejected, BatchResult, batch_directories, load_directory
from ecomm.warehouse.marts import build_marts
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.quality import CheckResult, batches_to_check, run_checks
from ecomm.warehouse.raw import BatchError
from ecomm.warehouse.run import LoadReport, complete_checks
from ecomm.warehouse.truth import load_truth, truth_dir_for


class QualityCheckFailed(RuntimeError):
    """At least one data-quality check failed; the message lists them."""


def ensure_batch(raw_dir: Path, day: date, progress=None) -> Path:
    """The batch directory of `day`, generating the days up to it if the world has not reached it."""
    from ecomm.datagen import generate_next_day

    try:
        dates = [d for d, _ in batch_directories(raw_dir)]
    except BatchError:
        raise BatchError(
            f"no simulated world in {raw_dir}; create one with `ecomm generate --out {raw_dir}`"
        ) from None
    if day < dates[0]:
        raise BatchError(f"{day} is before the first day of the simulated world ({dates[0]})")
    while dates[-1] < day:
        summary = generate_next_day(raw_dir, progress=progress)
        dates.append(summary.last_date)
    batch_dir = raw_dir / day.isoformat()
    if not batch_dir.is_dir():
        raise BatchError(f"{batch_dir}: missing although the world has passed {day}")
    return batch_dir


@dataclass
class DateLoad:
    """What loading a business date did: the date's own batch, and every batch the call loaded."""

    batch: BatchResult
    loaded_dates: list[date]

    @property
    def changed(self) -> bool:
        """The warehouse holds data it did not before (a re-run of a loaded date changes nothing)."""
        return bool(self.loaded_dates)


def load_date(settings: Settings, batch_dir: Path, day: date) -> DateLoad:
    """Load the date's batch, and first any earlier batch of the same world not loaded yet (a day the
    platform was down), with changed ground truth; raises if a batch is rejected."""
    migrate(settings)
    batch_dir = batch_dir.absolute()  # audit.load_runs.source_dir: the checks read the raw files again
    with db.connection(settings) as conn:
        results = load_directory(
            conn,
            batch_dir.parent,
            threshold=settings.bad_row_threshold,
            until=day,
            zone=settings.shop_timezone,
        )
        load_truth(conn, truth_dir_for(batch_dir))
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        raise BatchRejected(f"batch {rejected[0].batch_date} rejected: {rejected[0].message}")
    return DateLoad(results[-1], [r.batch_date for r in results if r.status == "loaded"])


def check_date(settings: Settings, day: date) -> list[CheckResult]:
    """Run and record the quality checks of every batch up to `day` that needs them (loaded and
    never checked, or failed: a failure stands until a check passes); raises listing every failed
    check. Checks nothing when nothing up to `day` needs it (a re-run of a checked date)."""
    with db.connection(settings) as conn:
        checks = run_checks(conn, batches_to_check(conn, until=day))
    failed = [c for c in checks if not c.passed]
    if failed:
        raise QualityCheckFailed("; ".join(f"{c.name}: {c.details}" for c in failed))
    return checks


def build(settings: Settings, day: date) -> dict[str, float]:
    """`dbt build` of the marts for the date's batch and any loaded batch not built yet (a day whose
    build failed); a re-run that loaded nothing rebuilds only the table marts and re-runs the tests."""
    return build_marts(settings, [day])


def run_for_date(settings: Settings, day: date, raw_dir: Path) -> LoadReport:
    """All steps for one date, reported like `ecomm load` (checks recorded, not raised)."""
    batch_dir = ensure_batch(raw_dir, day)
    report = LoadReport([load_date(settings, batch_dir, day).batch])  # validation is its first phase
    with db.connection(settings) as conn:
        complete_checks(conn, report, until=day)
    report.mart_seconds = build(settings, day)
    return report
