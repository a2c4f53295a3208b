"""`ecomm import transactions`: source -> raw batches (the generator's layout) -> the one loader.

The batches go to ECOMM_HOME/imports/<file name>-<first 12 hex of its SHA-256>/, one folder per day of
the source's span (days without rows are header-only batches, as the loader requires no gap), then
`ecomm.warehouse.run.load_path` validates, quarantines and loads them like any generated batch. The
same file writes the same bytes to the same folder, so importing it again loads nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from ecomm import db
from ecomm.imports import bounded, bounded_interactions, interactions, transactions
from ecomm.imports.source import ImportRefused, Log, open_log
from ecomm.settings import Settings
from ecomm.warehouse.run import LoadReport, load_path

_IMPORTED = ("customers", "products", "order_items", "returns", "web_events", "reviews")


@dataclass
class ImportReport:
    source: Path  # the last of the files read (one, or the log so far and the file continuing it)
    batches_dir: Path
    derived: transactions.Derived
    load: LoadReport | None = None
    imported: dict[str, int] = field(default_factory=dict)  # rows loaded now, per entity
    quarantined: dict[str, int] = field(default_factory=dict)  # "entity: reason" -> rows in the span


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


Paths = Path | list[Path]


def import_transactions(settings: Settings, path: Paths, mapping: dict[str, str], **options) -> ImportReport:
    """A transaction log: customers, products, order lines and returns."""
    return _import(settings, path, mapping, transactions, **options)


def import_interactions(settings: Settings, path: Paths, mapping: dict[str, str], **options) -> ImportReport:
    """An interaction log: customers, products and web events, or reviews (ratings)."""
    return _import(settings, path, mapping, interactions, **options)


def batches_dir(settings: Settings, paths: list[Path]) -> Path:
    """ECOMM_HOME/imports/<file>-<digest>/; a log in several files: <first file>+<n more>-<digest>."""
    if len(paths) == 1:
        return settings.home / "imports" / f"{paths[0].name}-{file_digest(paths[0])}"
    combined = hashlib.sha256("".join(file_digest(p) for p in paths).encode()).hexdigest()[:12]
    return settings.home / "imports" / f"{paths[0].name}+{len(paths) - 1}-{combined}"


ID_FIELDS = ("customer_id", "product_id", "user_id", "item_id")  # used as they are when positive integers


def _positive_integers(keys: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(keys, errors="coerce")
    return numbers.notna() & (numbers > 0) & (numbers % 1 == 0)


def require_same_id_kind(log: Log) -> None:
    """A file continuing a log whose ids are the source's positive integers must keep to them: one
    other key would switch the whole log to numbered ids and change every loaded id."""
    fields = [f for f in ID_FIELDS if f in log.mapped]
    if not fields:
        return
    last = len(log.paths) - 1
    earlier_positive = dict.fromkeys(fields, True)
    first_other: dict[str, str] = {}
    for file_no, raw in log.blocks(fields):
        for id_field in fields:
            keys = raw[log.mapped[id_field]]
            ok = _positive_integers(keys)
            if file_no < last:
                earlier_positive[id_field] &= bool(ok.all())
            elif id_field not in first_other and not ok.all():
                first_other[id_field] = keys[~ok].iloc[0]
    for id_field in fields:
        if earlier_positive[id_field] and id_field in first_other:
            raise ImportRefused(
                f"{log.paths[-1].name}: {log.mapped[id_field]} {first_other[id_field]!r} is not a positive "
                f"integer, and the log so far uses its own integer {id_field.removesuffix('_id')} ids: "
                "numbering them now would change every loaded id"
            )


def write_log(
    paths: list[Path],
    mapping: dict[str, str],
    kind,
    out: Callable[[], Path],
    *,
    date_format: str | None,
    delimiter: str,
    encoding: str,
    today: date,
    block_bytes: int,
) -> tuple[Path, date, date, transactions.Derived]:
    """The log's daily batches written to `out()` (asked once the files are known to be there), after
    every check passed: a refusal raises before anything is written. Returns the folder, the first and
    last day, and what was derived."""
    log = open_log(paths, mapping, delimiter, encoding, block_bytes)
    if len(paths) > 1:
        require_same_id_kind(log)
    # read in blocks, held per key and month: a 2 GB log fits in memory
    bounded_kind = bounded if kind is transactions else bounded_interactions
    return bounded_kind.write_log(log, mapping, out, date_format, today)


def _import(
    settings: Settings,
    path: Paths,
    mapping: dict[str, str],
    kind,
    *,
    date_format: str | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
    today: date | None = None,
    out: Path | None = None,
    block_bytes: int | None = None,
) -> ImportReport:
    """Read and check the whole source first (a refusal writes nothing), then write and load it.
    Several files are one log in time order (the imported file, then what the inbox added)."""
    paths = path if isinstance(path, list) else [path]
    out, first, last, derived = write_log(
        paths,
        mapping,
        kind,
        lambda: out or batches_dir(settings, paths),
        date_format=date_format,
        delimiter=delimiter,
        encoding=encoding,
        today=today or date.today(),
        block_bytes=block_bytes or settings.import_block_bytes,
    )
    from ecomm.warehouse.migrate import migrate

    migrate(settings)
    report = ImportReport(paths[-1], out, derived)
    report.load = load_path(settings, out)
    for b in report.load.batches:
        for name, counts in b.counts.items():
            if b.status == "loaded" and name in _IMPORTED and counts.loaded:
                report.imported[name] = report.imported.get(name, 0) + counts.loaded
    report.quarantined = _quarantined(settings, first, last)
    return report


def _quarantined(settings: Settings, first: date, last: date) -> dict[str, int]:
    found: dict[str, int] = {}
    with db.connection(settings) as conn, conn.cursor() as cur:
        for name in _IMPORTED:
            cur.execute(
                f"SELECT reason, count(*) FROM quarantine.{name} WHERE batch_date BETWEEN %s AND %s "
                "GROUP BY reason ORDER BY count(*) DESC, reason",
                (first, last),
            )
            for reason, rows in cur.fetchall():
                found[f"{name}: {reason}"] = rows
    return found


def import_configured(settings: Settings, more: list[Path] | None = None, **options) -> ImportReport:
    """The log the settings name (ECOMM_SOURCE=imported), imported as `ecomm import` would: the same
    code, so `make up` on a user's data and the command load the same rows. `more`: files that
    continue it (the inbox's), read after it as one log."""
    from ecomm.imports.values import parse_mapping

    if settings.import_file is None:
        raise ImportRefused("ECOMM_SOURCE=imported needs ECOMM_IMPORT_FILE: the log to import")
    if not settings.import_file.is_file():
        raise ImportRefused(f"ECOMM_IMPORT_FILE={settings.import_file}: no such file")
    if not settings.import_map:
        raise ImportRefused(
            f"ECOMM_SOURCE=imported needs ECOMM_IMPORT_MAP: the --map of `ecomm import {settings.import_kind}`"
        )
    if settings.import_kind == "interactions":
        mapping = parse_mapping(settings.import_map, interactions.REQUIRED, interactions.OPTIONAL)
        run = import_interactions
    else:
        mapping = parse_mapping(settings.import_map)
        run = import_transactions
    return run(
        settings,
        [settings.import_file, *(more or [])],
        mapping,
        date_format=settings.import_date_format,
        delimiter=settings.import_delimiter,
        encoding=settings.import_encoding,
        **options,
    )
