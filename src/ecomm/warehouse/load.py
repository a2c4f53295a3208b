"""Loading raw batches: validate -> COPY into staging -> set-based SQL rules -> merges, atomically.

A batch is one business date's directory. Bad rows go to quarantine with their reason and good
rows load; a batch whose share of bad rows exceeds the threshold is rejected and nothing of it
is loaded. Every attempt is recorded in audit.load_runs, one row per date. A batch whose files were
already loaded (same checksum) is skipped unless forced; a forced re-run changes nothing either. A date loaded before and
delivered again with other files corrects the rows it loaded (SCD type 1, merge.CORRECTIONS),
replaces its quarantine rows, and reports per entity what it corrected and what it kept (rows the
new delivery no longer holds).

One code path serves a daily run and a bulk load (bootstrap, backfill, import): the dates to load
form a range that is ONE transaction. Files are read and validated in worker processes (one task
per date and file, a bounded number of dates ahead) while the main process COPYs each date's good
rows into the UNLOGGED staging tables; then the referential rules run set-based over the whole
range (merge.py), the first date over the bad-row threshold is cut off with every later date (the
earlier ones load), the merges insert the range, and one audit row per date commits with it. A kill
at any point leaves nothing of the range visible. A date never loaded that comes after a day never
loaded is rejected before it is read (its rows could reference what that day brings; see
first_gap). After the merges, quarantined rows that only waited for a reference are re-tried
(retry_quarantined): those this load resolved load into their own batch. A warehouse table that
is empty when the range starts gets its secondary indexes dropped and rebuilt after the insert (a
bulk build is several times cheaper than maintaining them row by row); statistics are gathered once
per range.
"""

from __future__ import annotations

import bisect
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg2.errors
from psycopg2.extras import Json, execute_values

from ecomm.db import DatabaseError
from ecomm.entities import ENTITIES, ORDER_ITEMS
from ecomm.warehouse.contract import check_zone
from ecomm.warehouse.merge import (
    CONFLICT_RULES,
    CORRECTIONS,
    MERGES,
    RETRY_RULES,
    RULES,
    TARGETS,
    correct_sql,
    correction_rules,
    duplicate_in_file,
    hits_sql,
    kept_sql,
    merge_sql,
    move_hits_sql,
)
from ecomm.warehouse.prepare import BatchReader, EntityCounts, PreparedBatch, batch_checksum, worker_pool
from ecomm.warehouse.raw import BatchError

LOAD_LOCK_KEY = 7_301_001  # pg_advisory_xact_lock key: one loader at a time per warehouse
# From this many staged rows the set-based phase plans for bulk (hash joins, no nested loops).
BULK_ROWS = 100_000


class BatchRejected(BatchError):
    """Too many bad rows: the batch is rejected whole."""


class ConnectionLost(DatabaseError):
    """The server went away during a load (killed, restarted, network): the message says what of
    the range was committed and to run the load again."""


@dataclass
class BatchResult:
    batch_date: date
    status: str  # loaded | skipped | rejected | failed (| staged: read and in the range's transaction)
    counts: dict[str, EntityCounts] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0
    good_revenue: float = 0.0  # revenue of the order lines that passed every rule
    # rows quarantined by earlier loads that this load's data resolved and loaded: date -> entity -> rows
    # (on the last date of the range, whose audit row records them)
    resolved: dict[date, dict[str, int]] = field(default_factory=dict)

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


def first_gap(dates: list[date], loaded: set[date]) -> tuple[date, list[date]] | None:
    """The first of `dates` (oldest first) never loaded that comes after a day never loaded, with the
    days missing before it: its rows could reference what that day brings (a customer who signs up).
    Only the days since the latest date held below it count (an old hole does not block every load);
    a date below everything held (the first load, a backfill) may come at any time."""
    held = sorted(loaded)
    for day in dates:
        if day in loaded:
            continue  # a re-run: nothing new
        at = bisect.bisect_left(held, day)
        if at and (day - held[at - 1]).days > 1:
            return day, [date.fromordinal(n) for n in range(held[at - 1].toordinal() + 1, day.toordinal())]
        held.insert(at, day)
    return None


def gap_message(missing: list[date]) -> str:
    shown = ", ".join(map(str, missing[:3])) + (f", … {missing[-1]}" if len(missing) > 3 else "")
    return (
        f"{len(missing)} earlier date(s) never loaded ({shown}): load them first (a day without data is "
        "a batch of header-only files); nothing of this batch was loaded"
    )


# ------------------------------------------------------------------------- the database side
def _skip_fk_triggers_if_allowed(cur) -> None:
    """The rules of merge.RULES check every declared foreign key set-based before the merge (under
    the load lock), so PostgreSQL's row-by-row FK triggers would only repeat them: 70% of the
    merge time of a large fact. Skipping triggers needs a superuser (the embedded server, a
    docker postgres); elsewhere (e.g. RDS) the triggers run and loads are just slower.
    CHECK, NOT NULL, primary and unique keys are not triggers and always hold."""
    cur.execute("SELECT current_setting('is_superuser') = 'on'")
    if cur.fetchone()[0]:
        cur.execute("SET LOCAL session_replication_role = replica")


def _stage(cur, prepared: PreparedBatch) -> None:
    for name, parts in prepared.parts.items():
        cols = ", ".join(next(e for e in ENTITIES if e.name == name).columns)
        for part in parts:
            if part.good:  # most days have no new products, campaigns...
                cur.copy_expert(
                    f"COPY staging.{name} (row_no, {cols}, batch_date) FROM STDIN WITH (FORMAT csv)",
                    io.BytesIO(part.payload),
                )
    prepared.parts = {}


def _secondary_indexes_of_empty_targets(cur, entities: set[str]) -> dict[str, list[str]]:
    """CREATE statements of the secondary (non-unique, non-key) indexes of every warehouse table the
    staged `entities` fill that is empty now (tables the load does not fill stay untouched)."""
    found = {}
    for table in sorted({TARGETS[e] for e in entities}):
        cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM warehouse.{table})")
        if not cur.fetchone()[0]:
            continue
        cur.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass "
            "AND NOT indisunique AND NOT indisprimary ORDER BY indexrelid",
            (f"warehouse.{table}",),
        )
        found[table] = [d for (d,) in cur.fetchall()]
    return found


def _by_date(rows) -> dict[date, int]:
    return {d: n for d, n in rows}


@dataclass
class _Outcome:
    """What the set-based phase did, per date: rows quarantined by rules, written (inserted), corrected
    and kept (re-delivered dates), and revenue."""

    quarantined: dict[str, dict[date, int]] = field(default_factory=dict)
    written: dict[str, dict[date, int]] = field(default_factory=dict)
    corrected: dict[str, dict[date, int]] = field(default_factory=dict)
    kept: dict[str, dict[date, int]] = field(default_factory=dict)
    revenue: dict[date, float] = field(default_factory=dict)


def _apply(
    cur,
    staged: dict[str, dict[date, int]],
    empty: set[str],
    split: dict[str, list[date]],
    phases: dict[str, float],
    reloaded: list[date] | None = None,
) -> _Outcome:
    """Rules, then merges, over everything staged (`staged`: rows per entity and date, every date of
    the range at once). `empty`: the warehouse tables that held nothing when the range started;
    `split`: the dates whose file of an entity was read in parts (its keys are checked across them);
    `reloaded`: the dates loaded before (a re-delivery: corrected; the caller replaced its quarantine)."""
    out = _Outcome()
    tick = time.perf_counter()
    reloaded = reloaded or []
    staged_rows = {name: sum(by_date.values()) for name, by_date in staged.items()}
    # A range's rules join hundreds of thousands of staged rows: hash joins are always right, and a
    # misestimated anti-join (a dimension emptied by this very range) must not turn into a nested loop.
    bulk = sum(staged_rows.values()) >= BULK_ROWS
    cur.execute(f"SET LOCAL enable_nestloop = {'off' if bulk else 'on'}")
    cur.execute("TRUNCATE rule_hits")
    for entity in ENTITIES:  # dimensions first: the rules of a fact see only good dimension rows
        if not staged_rows.get(entity.name):
            continue
        rules = RULES[entity.name]
        if entity.name in split:
            rules = [duplicate_in_file(entity.name, entity.key, split[entity.name]), *rules]
        rules = [*rules, *correction_rules(entity.name, reloaded)]
        cur.execute(hits_sql(entity.name, rules))
        if cur.rowcount:
            cur.execute(move_hits_sql(entity.name, rules))
            out.quarantined[entity.name] = _by_date(cur.fetchall())
            cur.execute("TRUNCATE rule_hits")
    tick = _phase(phases, "rules", tick)
    for entity in ENTITIES:
        name = entity.name
        if not staged_rows.get(name):
            continue
        bad = out.quarantined.get(name, {})
        if reloaded:  # before the insert, whose conflicts then skip the corrected rows
            cur.execute(correct_sql(name), {"dates": reloaded})
            out.corrected[name] = _by_date(cur.fetchall())
        if TARGETS[name] in empty and name in CONFLICT_RULES and _insert_plain(cur, name):
            out.written[name] = {d: n - bad.get(d, 0) for d, n in staged[name].items()}
            continue
        cur.execute(merge_sql(name))
        out.written[name] = _by_date(cur.fetchall())
        if name in CONFLICT_RULES and sum(out.written[name].values()) < staged_rows[name] - sum(bad.values()):
            # a key of another date (first loads never pay for this probe)
            cur.execute(hits_sql(name, [CONFLICT_RULES[name]]))
            cur.execute(move_hits_sql(name, [CONFLICT_RULES[name]]))
            for d, n in cur.fetchall():
                out.quarantined.setdefault(name, {})[d] = bad.get(d, 0) + n
            cur.execute("TRUNCATE rule_hits")
    for entity in CORRECTIONS if reloaded else ():  # staging holds only the rows merged now
        cur.execute(kept_sql(entity), {"dates": reloaded})
        out.kept[entity] = _by_date(cur.fetchall())
    if staged_rows.get(ORDER_ITEMS.name):
        cur.execute("SELECT batch_date, coalesce(sum(revenue), 0) FROM staging.order_items GROUP BY 1")
        out.revenue = {d: float(v) for d, v in cur.fetchall()}
    _phase(phases, "merge", tick)
    return out


def _insert_plain(cur, entity: str) -> bool:
    """Into a table that was empty: a plain INSERT (no ON CONFLICT arbiter, no RETURNING), 40% cheaper,
    and without its primary key when no foreign key references it (one sorted build afterwards).
    False (and nothing done) when two dates of the range stage the same key: the merge then sorts it out."""
    table = f"warehouse.{TARGETS[entity]}"
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint p WHERE conrelid = %s::regclass "
        "AND contype = 'p' AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
        "AND f.confrelid = p.conrelid)",
        (table,),
    )
    key = cur.fetchone()
    cur.execute("SAVEPOINT plain_insert")
    try:
        if key:
            cur.execute(f"ALTER TABLE {table} DROP CONSTRAINT {key[0]}")
        cur.execute(MERGES[entity].split("ON CONFLICT")[0])
        if key:
            cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {key[0]} {key[1]}")
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT plain_insert")
        return False
    cur.execute("RELEASE SAVEPOINT plain_insert")
    return True


def _settle(result: BatchResult, prepared: PreparedBatch, out: _Outcome) -> None:
    """The date's counts once the set-based phase ran."""
    day = result.batch_date
    result.counts = prepared.counts()
    for name, counts in result.counts.items():
        counts.quarantined += out.quarantined.get(name, {}).get(day, 0)
        counts.loaded = out.written.get(name, {}).get(day, 0)
        counts.corrected = out.corrected.get(name, {}).get(day, 0)
        counts.kept = out.kept.get(name, {}).get(day, 0)
        counts.unchanged = counts.read - counts.quarantined - counts.loaded - counts.corrected
    result.good_revenue = out.revenue.get(day, 0.0)
    result.message = redelivery_message(result)


def redelivery_message(result: BatchResult) -> str:
    """What a re-delivery changed, by entity: never silent (the CLI prints it, audit keeps it)."""
    parts = []
    for attr, what in (
        ("corrected", "corrected (SCD type 1, overwritten in place)"),
        ("kept", "kept from the earlier delivery, absent from this one or quarantined"),
    ):
        if result.total(attr):
            by_entity = ", ".join(
                f"{n} {getattr(c, attr)}" for n, c in result.counts.items() if getattr(c, attr)
            )
            total = result.total(attr)
            parts.append(f"{total} row{'s' * (total != 1)} {what}: {by_entity}")
    return "; ".join(parts)


def _over_threshold(result: BatchResult, threshold: float) -> str | None:
    bad, read = result.total("quarantined"), result.total("read")
    if read and bad / read > threshold:
        worst = max(result.counts.items(), key=lambda kv: kv[1].quarantined)[0]
        return (
            f"{bad} of {read} rows are bad ({bad / read:.1%} > threshold {threshold:.1%}; "
            f"most in {worst}.csv); nothing of this batch was loaded"
        )
    return None


def _quarantine_rows(cur, prepared: list[PreparedBatch]) -> None:
    for entity in ENTITIES:
        rows = [
            (p.batch, r.row_no, Json(r.record), r.reason) for p in prepared for r in p.files[entity.name].bad
        ]
        if rows:
            execute_values(
                cur,
                f"INSERT INTO quarantine.{entity.name} (batch_date, row_no, record, reason) VALUES %s "
                "ON CONFLICT (batch_date, row_no) DO NOTHING",
                rows,
                page_size=5000,
            )


def _record_run(cur, result: BatchResult, source: Path, started: datetime, checksum: str) -> int:
    """The audit row of one date's attempt; returns its run_id."""
    by_entity = {name: vars(c) for name, c in result.counts.items()}
    by_entity |= {"checksum": checksum, "good_revenue": result.good_revenue}
    if result.resolved:
        by_entity["resolved"] = {d.isoformat(): n for d, n in sorted(result.resolved.items())}
    cur.execute(
        "INSERT INTO audit.load_runs (batch_date, source_dir, status, rows_read, rows_loaded, "
        "rows_quarantined, rows_unchanged, rows_corrected, rows_by_entity, message, started_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING run_id",
        (
            result.batch_date,
            str(source),
            result.status,
            result.total("read"),
            result.total("loaded"),
            result.total("quarantined"),
            result.total("unchanged"),
            result.total("corrected"),
            Json(by_entity),
            result.message or None,
            started,
        ),
    )
    return cur.fetchone()[0]


def _record_outside(conn, rows: list[tuple[BatchResult, Path, str]], started: datetime) -> None:
    """Audit rows of dates that did not load (rejected, failed), in a transaction of their own."""
    try:
        with conn.cursor() as cur:
            for result, source, checksum in rows:
                for counts in result.counts.values():  # nothing was loaded
                    counts.loaded = counts.unchanged = counts.corrected = counts.kept = 0
                result.seconds = 0.0
                _record_run(cur, result, source, started, checksum)
        conn.commit()
    except Exception:  # the audit row is best effort when the database itself failed (or is gone)
        _rolled_back(conn)


def _analyze(cur, tables: set[str], before: dict[str, float], written: dict[str, int]) -> None:
    """Statistics once per range, for a table the range changed by a tenth or more."""
    for table in sorted(tables):
        if written.get(table, 0) >= 0.1 * max(before.get(table, 0), 1000):
            cur.execute(f"ANALYZE warehouse.{table}")


def load_directory(
    conn,
    path: Path,
    *,
    threshold: float,
    force: bool = False,
    until: date | None = None,
    progress: Callable[[BatchResult], None] | None = None,
    workers: int | None = None,
    phases: dict[str, float] | None = None,
    zone: str = "UTC",
) -> list[BatchResult]:
    """Load every batch under `path` (up to `until`), oldest first, as one atomic range.

    The first date whose bad rows exceed the threshold (or that cannot be read) is rejected; the
    dates before it load, it and the later ones do not (later days depend on it: customers, orders
    to return). `progress` is called once per date as it is staged (status "staged") or skipped,
    `workers` = worker processes (None: the machine's cores for a bulk load, none for a small one);
    `phases` gets the seconds of each phase (read+stage, rules, merge, indexes, ...) added to it;
    `zone`: the shop's time zone, which timestamps with a zone offset are converted to.
    """
    phases = {} if phases is None else phases
    check_zone(zone)
    batches = batch_directories(path, until)
    loaded = loaded_checksums(conn)
    known = {} if force else loaded
    gap = first_gap([d for d, _ in batches], set(loaded))
    # the date after a gap is refused, and so are the later ones: only the dates before it are read
    batches_to_read = [(d, p) for d, p in batches if gap is None or d < gap[0]]
    started = datetime.now(UTC)
    clock = time.perf_counter()
    results: list[BatchResult] = []
    staged: list[tuple[PreparedBatch, BatchResult]] = []
    rejected: tuple[BatchResult, PreparedBatch] | None = None
    committing = False
    try:
        with worker_pool(batches_to_read, workers) as pool, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOAD_LOCK_KEY,))
            _skip_fk_triggers_if_allowed(cur)
            cur.execute("SET LOCAL synchronize_seqscans = off")  # staging is read in date order
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS rule_hits (batch_date date, row_no int, "
                "rule_no int, reason text) ON COMMIT DELETE ROWS"
            )
            cur.execute("TRUNCATE " + ", ".join(f"staging.{e.name}" for e in ENTITIES))
            ahead = max(2, 2 * getattr(pool, "_max_workers", 1))
            reader = BatchReader(pool, batches_to_read, known, ahead, zone)
            for prepared in reader:
                tick = time.perf_counter()
                result = BatchResult(prepared.batch, "staged", prepared.counts())
                if prepared.skip:
                    result.status, result.message = "skipped", "already loaded (same files)"
                    results.append(result)
                elif prepared.error is not None:
                    result.status, result.message = "rejected", str(prepared.error)
                elif (message := _over_threshold(result, threshold)) is not None:
                    result.status, result.message = "rejected", message
                else:
                    _stage(cur, prepared)  # the payloads are in staging: only the bad rows are kept
                    staged.append((prepared, result))
                result.seconds = time.perf_counter() - tick
                if progress:
                    progress(result)
                if result.status == "rejected":
                    rejected = (result, prepared)
                    reader.cancel()
                    break
            if rejected is None and gap is not None:
                rejected = _refuse_gap(dict(batches)[gap[0]], gap[0], gap[1], progress)
        _phase(phases, "read_and_stage", clock)
        with conn.cursor() as cur:
            if staged:
                rejected = _load_staged(cur, staged, threshold, started, phases) or rejected
            results += [r for _, r in staged]
            tick = time.perf_counter()
            committing = True
            conn.commit()
            _phase(phases, "commit", tick)
    except Exception as exc:
        if not _rolled_back(conn):  # nothing to roll back or record on: the real error is `exc`
            raise ConnectionLost(_lost_message(exc, batches, committing)) from exc
        message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        failed = []
        for prepared, result in staged:
            result.status, result.message = "failed", message
            failed.append((result, prepared.batch_dir, prepared.checksum))
        _record_outside(conn, failed, started)
        raise
    if rejected is not None:
        result, prepared = rejected
        _record_outside(conn, [(result, prepared.batch_dir, prepared.checksum)], started)
        results.append(result)
    results.sort(key=lambda r: r.batch_date)
    spent = time.perf_counter() - clock
    loaded = [r for r in results if r.status == "loaded"]
    for r in loaded:  # each date's own staging time plus its share of the set-based phase
        r.seconds += max(0.0, spent - sum(x.seconds for x in results)) / len(loaded)
    return results


def _refuse_gap(
    batch_dir: Path, day: date, missing: list[date], progress: Callable[[BatchResult], None] | None
) -> tuple[BatchResult, PreparedBatch]:
    """The date after a day never loaded, refused before it is read (see first_gap)."""
    result = BatchResult(day, "rejected", message=gap_message(missing))
    if progress:
        progress(result)
    return result, PreparedBatch(day, batch_dir, batch_checksum(batch_dir))


def _rolled_back(conn) -> bool:
    """Roll back; False when the connection is gone (the server was killed or restarted)."""
    if conn.closed:
        return False
    try:
        conn.rollback()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        return False
    return True


def _lost_message(exc: Exception, batches: list[tuple[date, Path]], committing: bool) -> str:
    """One line for a load whose connection went away: the server's own words, and what stands."""
    cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    first, last = batches[0][0], batches[-1][0]
    span = str(first) if first == last else f"{first}..{last}"
    if committing:  # the COMMIT may have reached the server before it went away
        return (
            f"the database connection was lost during the commit ({cause}): {span} may or may not have "
            "been committed; run the load again once the server is back (dates loaded are skipped)"
        )
    return (
        f"the database connection was lost during the load ({cause}); nothing of {span} was "
        "committed: run the load again once the server is back"
    )


def _load_staged(
    cur,
    staged: list[tuple[PreparedBatch, BatchResult]],
    threshold: float,
    started: datetime,
    phases: dict[str, float],
) -> tuple[BatchResult, PreparedBatch] | None:
    """The set-based phase over every staged date; returns the date it rejected (cutting it and every
    later date out of `staged`), if any: an earlier date than any the reader stopped at."""
    tick = time.perf_counter()
    for entity in ENTITIES:  # statistics once per range: the rules' plans depend on them
        cur.execute(f"ANALYZE staging.{entity.name}")
    filled = {name for prepared, _ in staged for name, file in prepared.files.items() if file.good}
    dropped = _secondary_indexes_of_empty_targets(cur, filled)
    for definitions in dropped.values():
        for definition in definitions:
            name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
            cur.execute(f"DROP INDEX warehouse.{name}")
    cur.execute("SELECT relname, reltuples FROM pg_class WHERE relnamespace = 'warehouse'::regnamespace")
    before = dict(cur.fetchall())
    cur.execute(  # the dates loaded before: a re-delivery corrects what they loaded
        "SELECT DISTINCT batch_date FROM audit.load_runs WHERE status = 'loaded' AND batch_date = ANY(%s)",
        ([p.batch for p, _ in staged],),
    )
    reloaded = sorted(d for (d,) in cur.fetchall())
    tick = _phase(phases, "analyze_staging", tick)
    new_rejection = None
    while True:
        by_entity: dict[str, dict[date, int]] = {}
        for prepared, _ in staged:
            for name, file in prepared.files.items():
                by_entity.setdefault(name, {})[prepared.batch] = file.good
        split: dict[str, list[date]] = {}
        for prepared, _ in staged:
            for name in prepared.split:
                split.setdefault(name, []).append(prepared.batch)
        cur.execute("SAVEPOINT range_merge")
        dates = {prepared.batch for prepared, _ in staged}
        redelivered = [d for d in reloaded if d in dates]
        if redelivered:  # the earlier delivery's quarantine goes: this one's bad rows replace it
            for entity in ENTITIES:
                cur.execute(
                    f"DELETE FROM quarantine.{entity.name} WHERE batch_date = ANY(%s)", (redelivered,)
                )
        # validation's bad rows first: a rule quarantines the rows that depend on them (the purchase
        # event of an order line that failed validation)
        _quarantine_rows(cur, [p for p, _ in staged])
        out = _apply(cur, by_entity, set(dropped), split, phases, redelivered)
        cut = None
        for prepared, result in staged:
            _settle(result, prepared, out)
            message = _over_threshold(result, threshold)
            if message is not None:
                cut, result.status, result.message = result.batch_date, "rejected", message
                new_rejection = (result, prepared)
                break
            result.status = "loaded"
        if cut is None:
            break
        cur.execute("ROLLBACK TO SAVEPOINT range_merge")
        for entity in ENTITIES:
            cur.execute(f"DELETE FROM staging.{entity.name} WHERE batch_date >= %s", (cut,))
        staged[:] = [(p, r) for p, r in staged if r.batch_date < cut]
        if not staged:
            break
    tick = time.perf_counter()
    resolved = retry_quarantined(cur, phases) if staged else {}
    for definitions in dropped.values():
        for definition in definitions:
            cur.execute(definition)
    tick = _phase(phases, "indexes", tick)
    if staged:
        written: dict[str, int] = {}
        for entity, by_date in out.written.items():
            if entity != "returns":
                written[TARGETS[entity]] = sum(by_date.values())
        _analyze(cur, set(written), before, written)
    tick = _phase(phases, "analyze", tick)
    if resolved:
        staged[-1][1].resolved = resolved
    run_id = None
    for prepared, result in staged:
        run_id = _record_run(cur, result, prepared.batch_dir, started, prepared.checksum)
    if resolved:
        _reopen(cur, resolved, run_id, {r.batch_date for _, r in staged})
    return new_rejection


def retry_quarantined(cur, phases: dict[str, float]) -> dict[date, dict[str, int]]:
    """Quarantined rows waiting only for a reference (quarantine.<entity>.retry) that the warehouse may
    hold now: staged again with their own batch_date and row_no, through the same rules and merges
    (the range's data is merged by now, staging is free); those that pass load and are marked
    resolved, the others stay as they were. Rows of this very range are included, so a range ends as
    its dates loaded one by one would. Returns the rows resolved per date and entity."""
    cur.execute(
        " UNION ALL ".join(
            f"SELECT '{e.name}', batch_date, count(*) FROM quarantine.{e.name} "
            "WHERE retry AND resolved_at IS NULL GROUP BY batch_date"
            for e in ENTITIES
        )
    )
    waiting: dict[str, dict[date, int]] = {}
    for name, day, rows in cur.fetchall():
        waiting.setdefault(name, {})[day] = rows
    if not waiting:
        return {}
    tick = time.perf_counter()
    cur.execute("TRUNCATE " + ", ".join(f"staging.{e.name}" for e in ENTITIES))
    for name in waiting:
        # ordered by date: of two dates staging one key the earlier is merged (see merge.MERGES)
        cur.execute(
            f"INSERT INTO staging.{name} SELECT (jsonb_populate_record(NULL::staging.{name}, "
            "q.record || jsonb_build_object('row_no', q.row_no, 'batch_date', q.batch_date))).* "
            f"FROM quarantine.{name} q WHERE q.retry AND q.resolved_at IS NULL ORDER BY q.batch_date, q.row_no"
        )
    for name in waiting:
        if name in RETRY_RULES:  # those stay as they are (the quarantine row is kept)
            cur.execute(hits_sql(name, RETRY_RULES[name]))
            cur.execute(move_hits_sql(name, RETRY_RULES[name]))
            cur.execute("TRUNCATE rule_hits")
    _phase(phases, "retry", tick)
    _apply(cur, waiting, set(), {}, phases)
    resolved: dict[date, dict[str, int]] = {}
    for name in waiting:  # what is still staged passed every rule: it is in the warehouse now
        cur.execute(
            f"UPDATE quarantine.{name} q SET resolved_at = now() FROM staging.{name} s "
            "WHERE q.batch_date = s.batch_date AND q.row_no = s.row_no AND q.resolved_at IS NULL "
            "RETURNING q.batch_date"
        )
        for (day,) in cur.fetchall():
            by_entity = resolved.setdefault(day, {})
            by_entity[name] = by_entity.get(name, 0) + 1
    return resolved


def _reopen(cur, resolved: dict[date, dict[str, int]], run_id: int, range_dates: set[date]) -> None:
    """Rows resolved for batches loaded before: their quarantine rows name this run, and the batches
    are checked again and rebuilt in the marts (their warehouse rows changed)."""
    for name in {name for by_entity in resolved.values() for name in by_entity}:
        cur.execute(
            f"UPDATE quarantine.{name} SET resolved_by_run = %s WHERE resolved_at = now() AND resolved_by_run IS NULL",
            (run_id,),
        )
    earlier = sorted(set(resolved) - range_dates)
    if earlier:
        cur.execute(
            "UPDATE audit.load_runs r SET checks_passed = NULL, checked_at = NULL WHERE r.batch_date = ANY(%s) "
            "AND r.status = 'loaded' AND NOT EXISTS (SELECT 1 FROM audit.load_runs n "
            "WHERE n.batch_date = r.batch_date AND n.status = 'loaded' AND n.run_id > r.run_id)",
            (earlier,),
        )
        cur.execute("DELETE FROM audit.mart_builds WHERE batch_date = ANY(%s)", (earlier,))


def _phase(phases: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - since
    return now
