"""Loading raw batches: validate -> COPY into staging -> SQL merge, one transaction per batch.

A batch is one business date's directory. Bad rows go to quarantine with their reason and good
rows load; a batch whose share of bad rows exceeds the threshold is rejected and nothing of it
is loaded. Every attempt is recorded in audit.load_runs. A batch whose files were already loaded
(same checksum) is skipped unless forced; a forced re-run changes nothing either.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg2.extras import Json, execute_values

from ecomm.entities import ENTITIES, ORDER_ITEMS, Entity
from ecomm.warehouse.columns import DATE_COLUMNS, TS_COLUMNS
from ecomm.warehouse.merge import CONFLICT_RULES, MERGES, quarantine_sql
from ecomm.warehouse.raw import BadRow, BatchError, read_raw_file
from ecomm.warehouse.validate import validate

LOAD_LOCK_KEY = 7_301_001  # pg_advisory_xact_lock key: one loader at a time per warehouse


class BatchRejected(BatchError):
    """Too many bad rows: the batch is rejected whole."""


@dataclass
class EntityCounts:
    read: int = 0
    loaded: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass
class BatchResult:
    batch_date: date
    status: str  # loaded | skipped | rejected | failed
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    good_revenue: float = 0.0  # revenue of the order lines that passed every rule

    def total(self, attr: str) -> int:
        return sum(getattr(c, attr) for c in self.counts.values())


def batch_directories(path: Path, until: date | None = None) -> list[tuple[date, Path]]:
    """The batches under `path` (a batch directory itself, or a directory of them), oldest first,
    up to `until` when given."""
    if not path.is_dir():
        raise BatchError(f"{path}: no such directory")
    own = _as_date(path.name)
    if own is not None:
        return [(own, path)]
    found = sorted((d, p) for p in path.iterdir() if p.is_dir() and (d := _as_date(p.name)) is not None)
    if not found:
        raise BatchError(f"{path}: no batch directories (named YYYY-MM-DD) inside")
    return [(d, p) for d, p in found if until is None or d <= until]


def _as_date(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def batch_checksum(batch_dir: Path) -> str:
    digest = hashlib.sha256()
    for entity in ENTITIES:
        path = batch_dir / entity.file_name
        digest.update(entity.name.encode())
        if path.is_file():  # a missing file or a directory: read_raw_file rejects the batch
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _copy_frame(cur, entity: Entity, frame: pd.DataFrame, batch: date) -> None:
    table = pa.Table.from_pandas(frame[["row_no", *entity.columns]], preserve_index=False)
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in DATE_COLUMNS:
            column = pc.cast(column, pa.date32())
        elif name in TS_COLUMNS:
            column = pc.cast(column, pa.timestamp("s"), safe=False)
        columns.append(column)
    columns.append(pa.array([batch] * table.num_rows, pa.date32()))
    table = pa.Table.from_arrays(columns, names=[*table.column_names, "batch_date"])
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    buffer.seek(0)
    # TRUNCATE, not DELETE: deleted rows stay behind as dead tuples that every later scan of the
    # staging table reads (a year of batches made each batch 3x slower)
    cur.execute(f"TRUNCATE staging.{entity.name}")
    cur.copy_expert(
        f"COPY staging.{entity.name} (row_no, {', '.join(entity.columns)}, batch_date) "
        "FROM STDIN WITH (FORMAT csv)",
        buffer,
    )


def _skip_fk_triggers_if_allowed(cur) -> None:
    """The rules of merge.RULES check every declared foreign key set-based before the merge (under
    the load lock), so PostgreSQL's row-by-row FK triggers would only repeat them: 70% of the
    merge time of a large fact. Skipping triggers needs a superuser (the embedded server, a
    docker postgres); elsewhere (e.g. RDS) the triggers run and loads are just slower.
    CHECK, NOT NULL, primary and unique keys are not triggers and always hold."""
    cur.execute("SELECT current_setting('is_superuser') = 'on'")
    if cur.fetchone()[0]:
        cur.execute("SET LOCAL session_replication_role = replica")


def _quarantine_rows(cur, entity: Entity, batch: date, rows: list[BadRow]) -> None:
    if rows:
        execute_values(
            cur,
            f"INSERT INTO quarantine.{entity.name} (batch_date, row_no, record, reason) VALUES %s "
            "ON CONFLICT (batch_date, row_no) DO NOTHING",
            [(batch, r.row_no, Json(r.record), r.reason) for r in rows],
        )


def _record_run(conn, result: BatchResult, source: Path, started: datetime, checksum: str) -> None:
    by_entity = {name: vars(c) for name, c in result.counts.items()}
    by_entity |= {"checksum": checksum, "good_revenue": result.good_revenue}
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO audit.load_runs (batch_date, source_dir, status, rows_read, rows_loaded, "
            "rows_quarantined, rows_unchanged, rows_by_entity, message, started_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                result.batch_date,
                str(source),
                result.status,
                result.total("read"),
                result.total("loaded"),
                result.total("quarantined"),
                result.total("unchanged"),
                Json(by_entity),
                result.message or None,
                started,
            ),
        )


@dataclass
class PreparedBatch:
    """A batch read and validated in Python, ready for the database (or the error that stopped it)."""

    batch: date
    batch_dir: Path
    checksum: str
    skip: bool = False
    goods: dict[str, pd.DataFrame] = field(default_factory=dict)
    bads: dict[str, list[BadRow]] = field(default_factory=dict)
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    error: BatchError | None = None


def prepare_batch(batch_dir: Path, batch: date, loaded_checksum: str | None = None) -> PreparedBatch:
    """Read and validate every file of a batch; skip it if its files were loaded already."""
    prepared = PreparedBatch(batch, batch_dir, batch_checksum(batch_dir))
    if prepared.checksum == loaded_checksum:
        prepared.skip = True
        return prepared
    try:
        for entity in ENTITIES:
            raw = read_raw_file(batch_dir / entity.file_name, entity)
            good, bad = validate(raw, batch)
            prepared.goods[entity.name], prepared.bads[entity.name] = good, raw.bad_rows + bad
            prepared.counts[entity.name] = EntityCounts(
                read=raw.rows_read, quarantined=len(raw.bad_rows) + len(bad)
            )
    except BatchError as exc:
        prepared.error = exc
    return prepared


def loaded_checksums(conn) -> dict[date, str]:
    """The checksum of the files of each batch's last successful load."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT ON (batch_date) batch_date, rows_by_entity->>'checksum' FROM audit.load_runs "
            "WHERE status = 'loaded' ORDER BY batch_date, run_id DESC"
        )
        found = dict(cur.fetchall())
    conn.rollback()
    return found


def _reject_if_over(result: BatchResult, threshold: float) -> None:
    bad, read = result.total("quarantined"), result.total("read")
    if read and bad / read > threshold:
        worst = max(result.counts.items(), key=lambda kv: kv[1].quarantined)[0]
        raise BatchRejected(
            f"{bad} of {read} rows are bad ({bad / read:.1%} > threshold {threshold:.1%}; "
            f"most in {worst}.csv); nothing of this batch was loaded"
        )


def load_batch(
    conn,
    batch_dir: Path,
    batch: date,
    *,
    threshold: float,
    force: bool = False,
    prepared: PreparedBatch | None = None,
) -> BatchResult:
    """Load one batch in one transaction; returns what happened (never half of it)."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    if prepared is None:
        known = None if force else loaded_checksums(conn).get(batch)
        prepared = prepare_batch(batch_dir, batch, known)
    if prepared.skip:
        return BatchResult(batch, "skipped", message="already loaded (same files)")

    result = BatchResult(batch, "loaded", counts=prepared.counts)
    try:
        if prepared.error is not None:
            raise prepared.error
        _reject_if_over(result, threshold)  # validation alone rejects it early: no database work
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            _skip_fk_triggers_if_allowed(cur)
            for entity in ENTITIES:
                counts = result.counts[entity.name]
                _quarantine_rows(cur, entity, batch, prepared.bads[entity.name])
                good = prepared.goods[entity.name]
                if good.empty:  # most days have no new products, campaigns...
                    continue
                _copy_frame(cur, entity, good, batch)
                if len(good) > 500:  # fresh statistics, or the planner hashes whole tables
                    cur.execute(f"ANALYZE staging.{entity.name}")
                cur.execute(quarantine_sql(entity.name))
                rule_bad = cur.fetchone()[0]
                cur.execute(MERGES[entity.name])
                counts.loaded = cur.rowcount
                if entity.name in CONFLICT_RULES and counts.loaded < len(good) - rule_bad:
                    cur.execute(quarantine_sql(entity.name, [CONFLICT_RULES[entity.name]]))
                    rule_bad += cur.fetchone()[0]
                counts.quarantined += rule_bad
                counts.unchanged = counts.read - counts.quarantined - counts.loaded
                if entity is ORDER_ITEMS:
                    cur.execute("SELECT coalesce(sum(revenue), 0) FROM staging.order_items")
                    result.good_revenue = float(cur.fetchone()[0])
            _reject_if_over(result, threshold)  # with the rows the database rules quarantined
            result.seconds = time.perf_counter() - clock
            _record_run(conn, result, batch_dir, started, prepared.checksum)
        conn.commit()
        return result
    except BatchError as exc:
        conn.rollback()
        result.status, result.message = "rejected", str(exc)
    except Exception as exc:
        conn.rollback()
        result.status, result.message = "failed", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
        _record_failure(conn, result, batch_dir, started, prepared.checksum)
        raise
    _record_failure(conn, result, batch_dir, started, prepared.checksum)
    return result


def _record_failure(conn, result: BatchResult, batch_dir: Path, started: datetime, checksum: str) -> None:
    for counts in result.counts.values():  # nothing was loaded
        counts.loaded = counts.unchanged = 0
    result.seconds = 0.0
    try:
        _record_run(conn, result, batch_dir, started, checksum)
        conn.commit()
    except Exception:  # the audit row is best effort when the database itself failed
        conn.rollback()


def load_directory(
    conn,
    path: Path,
    *,
    threshold: float,
    force: bool = False,
    until: date | None = None,
    progress: Callable[[BatchResult], None] | None = None,
) -> list[BatchResult]:
    """Load every batch under `path`, oldest first; stops at the first rejected batch.

    The next batch is read and validated in a worker thread while the database merges the
    current one, so Python and PostgreSQL each keep a core busy.
    """
    batches = batch_directories(path, until)
    known = {} if force else loaded_checksums(conn)
    results: list[BatchResult] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare") as pool:
        upcoming = pool.submit(prepare_batch, batches[0][1], batches[0][0], known.get(batches[0][0]))
        for i, (batch, batch_dir) in enumerate(batches):
            prepared = upcoming.result()
            if i + 1 < len(batches):
                nxt, nxt_dir = batches[i + 1]
                upcoming = pool.submit(prepare_batch, nxt_dir, nxt, known.get(nxt))
            result = load_batch(conn, batch_dir, batch, threshold=threshold, force=force, prepared=prepared)
            results.append(result)
            if progress:
                progress(result)
            if result.status == "rejected":
                upcoming.cancel()
                break  # later days depend on this one (customers, orders to return)
    return results
