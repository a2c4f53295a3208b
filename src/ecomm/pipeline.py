"""The daily pipeline, one business date at a time, in steps the Airflow DAG runs as tasks.

`ecomm pipeline run --date D` runs them all: generate the date's batch if the world has not reached
it (continuing day after day) -> validate -> load -> quality checks -> build the marts (dbt). Every step is
idempotent: re-running a date reuses its batch and changes nothing.
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
from ecomm.warehouse.quality import CheckResult, run_checks
from ecomm.warehouse.raw import BatchError, read_raw_file
from ecomm.warehouse.run import LoadReport
from ecomm.warehouse.truth import load_truth, truth_dir_for
from ecomm.warehouse.validate import validate


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


def validate_batch(batch_dir: Path, day: date, threshold: float) -> dict[str, dict[str, int]]:
    """Schema and rule validation of the raw files alone (no database); rejects a hopeless batch early."""
    from ecomm.entities import ENTITIES

    counts = {}
    for entity in ENTITIES:
        raw = read_raw_file(batch_dir / entity.file_name, entity)
        _good, bad = validate(raw, day)
        counts[entity.name] = {"read": raw.rows_read, "bad": len(raw.bad_rows) + len(bad)}
    read = sum(c["read"] for c in counts.values())
    bad = sum(c["bad"] for c in counts.values())
    if read and bad / read > threshold:
        raise BatchRejected(
            f"{bad} of {read} rows fail validation ({bad / read:.1%} > threshold {threshold:.1%})"
        )
    return counts


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
    with db.connection(settings) as conn:
        results = load_directory(conn, batch_dir.parent, threshold=settings.bad_row_threshold, until=day)
        load_truth(conn, truth_dir_for(batch_dir))
    rejected = [r for r in results if r.status == "rejected"]
    if rejected:
        raise BatchRejected(f"batch {rejected[0].batch_date} rejected: {rejected[0].message}")
    return DateLoad(results[-1], [r.batch_date for r in results if r.status == "loaded"])


def unchecked_dates(conn, day: date) -> list[date]:
    """`day` and every loaded batch up to it that no quality check has looked at yet."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT batch_date FROM audit.load_runs r WHERE status = 'loaded' AND batch_date < %s "
            "AND NOT EXISTS (SELECT 1 FROM audit.quality_checks q WHERE q.batch_date = r.batch_date)",
            (day,),
        )
        return sorted(d for (d,) in cur.fetchall()) + [day]


def check_date(settings: Settings, day: date) -> list[CheckResult]:
    """Run and record the quality checks of a loaded batch (and of earlier ones never checked);
    raises listing every failed check."""
    with db.connection(settings) as conn:
        checks = run_checks(conn, unchecked_dates(conn, day))
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
    validate_batch(batch_dir, day, settings.bad_row_threshold)
    report = LoadReport([load_date(settings, batch_dir, day).batch])
    with db.connection(settings) as conn:
        report.checks = run_checks(conn, unchecked_dates(conn, day))
    report.mart_seconds = build(settings, day)
    return report
