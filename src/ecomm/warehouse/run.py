"""A whole load as the CLI and the DAG run it: batches, truth, quality checks, marts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import BatchResult, load_directory
from ecomm.warehouse.marts import refresh_marts
from ecomm.warehouse.quality import CheckResult, run_checks
from ecomm.warehouse.truth import load_truth, truth_dir_for


@dataclass
class LoadReport:
    batches: list[BatchResult]
    checks: list[CheckResult] = field(default_factory=list)
    truth_rows: dict[str, int] = field(default_factory=dict)
    mart_seconds: dict[str, float] = field(default_factory=dict)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # batches, truth, checks, marts
    load_phases: dict[str, float] = field(default_factory=dict)  # the batches phase: read_and_stage, rules...

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
) -> LoadReport:
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
            ),
            load_phases=phases,
        )
        report.phase_seconds["batches"] = time.perf_counter() - clock
        clock = time.perf_counter()
        report.truth_rows = load_truth(conn, truth_dir_for(path))
        report.phase_seconds["truth"] = time.perf_counter() - clock
        clock = time.perf_counter()
        report.checks = run_checks(conn, [b.batch_date for b in report.batches if b.status == "loaded"])
        report.phase_seconds["checks"] = time.perf_counter() - clock
        if any(b.status == "loaded" for b in report.batches) or report.truth_rows:
            report.mart_seconds = refresh_marts(conn)
            report.phase_seconds["marts"] = sum(report.mart_seconds.values())
    return report
