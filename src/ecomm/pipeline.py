"""`ecomm pipeline run --date D`: one business date, end to end (the daily DAG calls this).

Generates the date's batch if the world has not reached it yet (continuing day after day), then
loads it with the same path as `ecomm load`. Re-running a date reuses its batch and changes nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ecomm.settings import Settings
from ecomm.warehouse.load import batch_directories
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.raw import BatchError
from ecomm.warehouse.run import LoadReport, load_path


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


def run_for_date(settings: Settings, day: date, raw_dir: Path) -> LoadReport:
    batch_dir = ensure_batch(raw_dir, day)
    migrate(settings)
    return load_path(settings, batch_dir)
