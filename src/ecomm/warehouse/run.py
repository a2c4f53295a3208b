"""A whole load as the CLI and the DAG run it: batches, truth, quality checks, marts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import BatchResult, load_directory
from ecomm.warehouse.marts import build_marts, pending_dates
from ecomm.warehouse.quality import CheckResult, batches_to_check, run_checks
from ecomm.warehouse.truth import load_truth, truth_dir_for

# Loading more business dates than this at once (a bootstrap, a backfill): the marts are rebuilt from
# all of history, cheaper than reprocessing most of it date by date.
FULL_REFRESH_DATES = 31


@dataclass
class LoadReport:
    batches: list[BatchResult]
    checks: list[CheckResult] = field(default_factory=list)
    truth_rows: dict[str, int] = field(default_factory=dict)
    mart_seconds: dict[str, float] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # batches, truth, checks, marts
    # the batches checked: those loaded now, and any an earlier run left unchecked (killed before
    # its checks) or failed (a failure stands until a check passes)
    checked_dates: list[date] = field(default_factory=list)
    marts_pending: list[date] = field(default_factory=list)  # batches the marts did not hold yet

    @property
    def rechecked_dates(self) -> list[date]:
        """Checked batches this run did not load: left unchecked or failed by an earlier run."""
        loaded = {b.batch_date for b in self.batches if b.status == "loaded"}
        return [d for d in self.checked_dates if d not in loaded]

    load_phases: dict[str, float] = field(default_factory=dict)  # the batches phase: read_and_stage, rules...

    @property
    def resolved(self) -> dict[date, dict[str, int]]:
        """Rows quarantined by earlier loads that this load resolved and loaded, per batch and entity."""
        found: dict[date, dict[str, int]] = {}
        for b in self.batches:
            for day, by_entity in b.resolved.items():
                for name, rows in by_entity.items():
                    found.setdefault(day, {})[name] = found.get(day, {}).get(name, 0) + rows
        return dict(sorted(found.items()))

    @property
    def rejected(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "rejected"]

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed_checks


def load_path(
    settings: Settings,
    path: Path,
    *,
    force: bool = False,
    progress: Callable[[BatchResult], None] | None = None,
    marts: bool = True,
) -> LoadReport:
    """Load the batches under `path`, its truth, check what needs checking, and build the marts of
    the dates they do not hold yet (`marts=False`: left pending for the next load or
    `ecomm marts build`, e.g. between the directories of a long backfill)."""
    path = path.absolute()  # audit.load_runs.source_dir: the checks read the raw files again from it
    with db.connection(settings) as conn:
        clock = time.perf_counter()
        phases: dict[str, float] = {}
        report = LoadReport(
            load_directory(
                conn,
                path,
                threshold=settings.bad_row_threshold,
                force=force,
                progress=progress,
                phases=phases,
                zone=settings.shop_timezone,
            ),
            load_phases=phases,
        )
        report.phase_seconds["batches"] = time.perf_counter() - clock
        clock = time.perf_counter()
        report.truth_rows = load_truth(conn, truth_dir_for(path))
        report.phase_seconds["truth"] = time.perf_counter() - clock
        complete_checks(conn, report)
    if marts and report.marts_pending:  # loaded now, or left out by a killed run or a failed build
        # dbt build for the batches not in the marts yet (many at once: rebuilt from all of history)
        report.mart_seconds = build_marts(
            settings, report.marts_pending, full_refresh=len(report.marts_pending) > FULL_REFRESH_DATES
        )
        report.phase_seconds["marts"] = sum(report.mart_seconds.values())
    return report


def complete_checks(conn, report: LoadReport, until: date | None = None) -> None:
    """Check every batch (up to `until`) that needs it: loaded by this run, left unchecked by a run
    killed before its checks, or failed (a failure stands until a check passes); and note the
    batches the marts do not hold yet."""
    clock = time.perf_counter()
    to_check = batches_to_check(conn, until)
    report.checked_dates = [b.batch_date for b in to_check]
    report.checks = run_checks(conn, to_check)
    report.phase_seconds["checks"] = time.perf_counter() - clock
    report.marts_pending = pending_dates(conn)
