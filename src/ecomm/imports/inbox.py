"""The import inbox: files dropped into ECOMM_HOME/inbox/ that continue the imported log.

With ECOMM_SOURCE=imported the daily simulation is paused and the `import_inbox` DAG takes its place:
each new file (CSV or Parquet, the same columns and --map as ECOMM_IMPORT_FILE) is imported together
with the log so far, through `ecomm import`'s own code. Ids are numbered in order of first appearance,
so the loaded days' batches come out identical and load nothing; only the new days load.

- accepted: moved to inbox/accepted/ with a sequence number (the log's order);
- refused (`ImportRefused`: nothing was written): moved to inbox/refused/ beside `<name>.why.txt`;
- a file still being written is left for the next run (modified less than `settle_seconds` ago);
- a file that is not CSV or Parquet is refused; hidden files (a copy tool's temporary ones) are left.
Files are taken in name order: name them so that order is time order (e.g. 2026-12-06.csv).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ecomm.imports.run import ImportReport, import_configured
from ecomm.imports.source import ImportRefused
from ecomm.settings import Settings

SUFFIXES = (".csv", ".parquet", ".pq")
SETTLE_SECONDS = 60.0


@dataclass
class InboxRun:
    accepted: list[Path] = field(default_factory=list)  # where each accepted file now is
    refused: dict[str, str] = field(default_factory=dict)  # file name -> why
    reports: list[ImportReport] = field(default_factory=list)

    @property
    def loaded_dates(self) -> list:
        return sorted({b.batch_date for r in self.reports for b in r.load.batches if b.status == "loaded"})

    @property
    def problems(self) -> list[str]:
        """Rejected batches and failed quality checks of the accepted files (the loader's own words)."""
        found = [f"rejected batch {b.batch_date}: {b.message}" for r in self.reports for b in r.load.rejected]
        found += [
            f"check failed {c.name} ({c.batch_date}): {c.details}"
            for r in self.reports
            for c in r.load.failed_checks
        ]
        return found


def accepted_files(inbox: Path) -> list[Path]:
    """The files already part of the log, in the order they were accepted."""
    folder = inbox / "accepted"
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def new_files(inbox: Path, settle_seconds: float = SETTLE_SECONDS, now: float | None = None) -> list[Path]:
    """Files directly in the inbox (not hidden: a copy tool's temporary file) that nobody has written
    to for `settle_seconds`."""
    if not inbox.is_dir():
        return []
    now = time.time() if now is None else now
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and now - p.stat().st_mtime >= settle_seconds
    )


def _refuse(run: InboxRun, inbox: Path, path: Path, why: str) -> None:
    run.refused[path.name] = why
    _move(path, inbox / "refused", path.name)
    (inbox / "refused" / f"{path.name}.why.txt").write_text(f"{why}\n")


def _move(path: Path, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return path.replace(folder / name)


def import_inbox(settings: Settings, settle_seconds: float = SETTLE_SECONDS, **options) -> InboxRun:
    """Import each new file of the inbox after the log so far, one at a time (a refused file does
    not hold back the next). A file whose load rejected a batch or failed a check is accepted (its
    loaded days are in the warehouse) and the report says why; the caller fails on it."""
    inbox = settings.inbox_dir
    run = InboxRun()
    for path in new_files(inbox, settle_seconds):
        if path.suffix.lower() not in SUFFIXES:
            _refuse(run, inbox, path, f"{path.name}: not a CSV or Parquet file ({', '.join(SUFFIXES)})")
            continue
        so_far = accepted_files(inbox)
        try:
            report = import_configured(settings, more=[*so_far, path], **options)
        except ImportRefused as exc:
            _refuse(run, inbox, path, str(exc))
            continue
        run.accepted.append(_move(path, inbox / "accepted", f"{len(so_far) + 1:04d}-{path.name}"))
        run.reports.append(report)
    return run
