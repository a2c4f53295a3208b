"""The batches an import writes, as bytes per file, read block by block (`write_log`, what `ecomm
import` runs) or whole (`kind.frame` + `kind.tables`, the reference), without a database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ecomm.imports import transactions
from ecomm.imports.days import write_whole
from ecomm.imports.run import write_log
from ecomm.imports.source import open_log

TODAY = date(2026, 1, 1)


def files(folder: Path) -> dict:
    """Each file's bytes by its path in the folder."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def read_in_blocks(
    log: list[Path], out: Path, block_bytes: int, kind, mapping: dict
) -> tuple[dict, transactions.Derived]:
    """(the files `write_log` writes, what the import derived)."""
    folder, _, _, derived = write_log(
        log,
        mapping,
        kind,
        lambda: out,
        date_format=None,
        delimiter=",",
        encoding="utf-8",
        today=TODAY,
        block_bytes=block_bytes,
    )
    return files(folder), derived


def read_whole(log: list[Path], out: Path, kind, mapping: dict) -> tuple[dict, transactions.Derived]:
    """(the files and what was derived) of the log read whole, one batch folder per day of its span."""
    lines, derived = kind.frame(open_log(log, mapping), mapping, None, TODAY)
    write_whole(kind.tables(lines, derived), out)
    return files(out), derived
