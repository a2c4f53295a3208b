"""Data-quality checks run after each load and recorded in audit.quality_checks.

Reconciliation counts the raw files of each checked batch itself, with Python's csv module (not
the loader's parser): per entity, rows in the file = warehouse rows of the batch + quarantined rows
of the batch still unresolved (a row a later load resolved is in the warehouse, with this batch's
date); the revenue of the file's order lines that are not quarantined = the warehouse revenue of the
batch, in exact decimals. A loader that loses or alters a row between the file and
the warehouse therefore fails it, whatever the loader's own figures say. A re-run of the same files
(skipped, or forced) passes again: the rows it reports "unchanged" are the rows the batch already
holds in the warehouse, counted once there. A corrected re-delivery passes (its rows are overwritten in
place); one lacking rows the earlier delivery loaded fails it (the loader keeps them: merge.py).

The other checks look for problems no constraint or load rule prevents (purchase events without
the order they record, orders whose lines disagree, duplicate e-mails, a day without orders; in a
warehouse of an imported interactions log, which has no orders, a batch without events or ratings
is the stale one, and a purchase event has no order to match). Every
check touches only the batches checked, through indexes (batch_date, lower(email), the keys), so
its cost depends on the day, not on the history.

A batch whose date was streamed (`ecomm stream`) is also reconciled with the `stream` tables, whose
rows of its date are pruned once its checks pass (`ecomm.stream.reconcile`).

Which batches a run checks: every batch whose latest successful load was never checked (a run
killed between its commit and its checks) or whose last check failed (a failure stands until a
check passes: a re-run cannot hide it). See `batches_to_check`.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from multiprocessing import get_context
from pathlib import Path

from psycopg2.extras import execute_values

from ecomm.entities import ENTITIES, ORDER_ITEMS
from ecomm.warehouse.check_result import CheckResult

# Warehouse rows per batch, per raw entity (a return is the order line it returned, by return date:
# the contract puts every return in the batch of its return date).
_BATCH_ROWS = {
    "customers": "SELECT batch_date, count(*) FROM warehouse.dim_customer WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "products": "SELECT batch_date, count(*) FROM warehouse.dim_product WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "campaigns": "SELECT batch_date, count(*) FROM warehouse.dim_campaign WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "campaign_exposure": "SELECT batch_date, count(*) FROM warehouse.fact_campaign_exposure "
    "WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "order_items": "SELECT batch_date, count(*) FROM warehouse.fact_order_items WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "returns": "SELECT return_date, count(*) FROM warehouse.fact_order_items "
    "WHERE status = 'returned' AND return_date = ANY(%(dates)s) GROUP BY 1",
    "web_events": "SELECT batch_date, count(*) FROM warehouse.fact_web_events WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    "reviews": "SELECT batch_date, count(*) FROM warehouse.fact_reviews WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
}

# name -> SQL giving (batch_date, offending rows) for the checked batches that have any (0 = pass)
_ZERO_CHECKS = {
    # a warehouse without a single order line holds an imported log of interactions: its purchase
    # events record purchases the log has no order of (`ecomm import interactions`), nothing to match
    "orphan_purchase_events": """
        SELECT e.batch_date, count(*) FROM warehouse.fact_web_events e
        WHERE e.batch_date = ANY(%(dates)s) AND e.event_type = 'purchase'
        AND EXISTS (SELECT 1 FROM warehouse.fact_order_items) AND NOT EXISTS (
            SELECT 1 FROM warehouse.fact_order_items f WHERE f.customer_id = e.customer_id
            AND f.order_date = e.event_date AND (e.product_id IS NULL OR f.product_id = e.product_id))
        GROUP BY 1""",
    # an order of the batch whose lines (in any batch) disagree on the customer or the time: one
    # aggregate over the batch's orders joined to their lines (primary key probes)
    "inconsistent_orders": """
        SELECT batch_date, count(*) FROM (
            SELECT o.batch_date FROM (
                SELECT DISTINCT batch_date, order_id FROM warehouse.fact_order_items
                WHERE batch_date = ANY(%(dates)s)) o
            JOIN warehouse.fact_order_items f ON f.order_id = o.order_id
            GROUP BY o.batch_date, o.order_id  -- min <> max, not count(DISTINCT): a hash aggregate
            HAVING min(f.customer_id) <> max(f.customer_id) OR min(f.order_ts) <> max(f.order_ts)) bad
        GROUP BY 1""",
    # e-mails of the batch's customers that another customer (of any batch) has too: index probes
    # on dim_customer (batch_date) and (lower(email))
    "duplicate_customer_emails": """
        SELECT c.batch_date, count(DISTINCT lower(c.email)) FROM warehouse.dim_customer c
        WHERE c.batch_date = ANY(%(dates)s) AND EXISTS (
            SELECT 1 FROM warehouse.dim_customer o
            WHERE lower(o.email) = lower(c.email) AND o.customer_id <> c.customer_id)
        GROUP BY 1""",
}

# Below this many bytes of raw files the checks read them in this process (a pool costs more).
_PARALLEL_BYTES = 8 << 20


@dataclass
class Batch:
    """The latest successful load of a batch, which the checks look at."""

    batch_date: date
    run_id: int
    source_dir: Path
    checks_passed: bool | None = None  # as recorded before this check: None = never checked


@dataclass
class RawCount:
    """What the independent parser found in one raw file."""

    rows: int = 0
    revenue: Decimal = Decimal(0)  # of the rows not quarantined (order_items only)
    bad_revenue: list[int] = field(default_factory=list)  # row_no of unparseable kept revenues
    error: str | None = None


def count_raw_file(path: Path, revenue_column: str | None, quarantined: frozenset[int]) -> RawCount:
    """Count the records of a raw CSV file with the csv module (quoted commas and newlines, BOM,
    CRLF) and sum `revenue_column` over the records whose row_no is not quarantined.

    row_no numbers records as the loader does: header = 1, blank lines are not rows."""
    count = RawCount()
    # a cell of any size is counted (the loader quarantines oversized ones as bad rows)
    csv.field_size_limit(2**31 - 1)
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            reader = csv.reader(fh)
            header = next((r for r in reader if r), None)
            if header is None:
                count.error = f"raw file {path} is empty"
                return count
            names = [h.strip().strip('"') for h in header]
            column = names.index(revenue_column) if revenue_column in names else None
            if revenue_column and column is None:
                count.error = f"raw file {path} has no {revenue_column} column"
                return count
            row_no, revenue = 1, Decimal(0)
            for record in reader:
                if not record:
                    continue
                row_no += 1
                if column is None or row_no in quarantined:
                    continue
                try:
                    revenue += Decimal(record[column].strip())
                except (IndexError, InvalidOperation):
                    count.bad_revenue.append(row_no)
            count.rows, count.revenue = row_no - 1, revenue
    except FileNotFoundError:
        count.error = f"raw file {path} is gone: cannot reconcile the batch with it"
    except OSError as exc:
        count.error = f"raw file {path} cannot be read ({exc.strerror or exc})"
    return count


def _count_many(jobs: list[tuple[Path, str | None, frozenset[int]]]) -> list[RawCount]:
    """Count many files: in parallel processes when they are big enough to pay for the pool."""
    sizes = [_size(path) for path, _, _ in jobs]
    workers = min(os.cpu_count() or 1, len(jobs))
    if sum(sizes) < _PARALLEL_BYTES or workers < 2:
        return [count_raw_file(*job) for job in jobs]
    # biggest first, so no worker is left alone with the largest file at the end. fork, not spawn
    # or forkserver: those re-import the caller's __main__ (Airflow's task runner, a script on
    # stdin); the forked workers run only the csv module and Decimal, taking no lock a parent
    # thread could hold
    order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        counted = dict(zip(order, pool.map(_count_job, [jobs[i] for i in order]), strict=True))
    return [counted[i] for i in range(len(jobs))]


def _count_job(job: tuple[Path, str | None, frozenset[int]]) -> RawCount:
    return count_raw_file(*job)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _by_batch(cur, sql: str, dates: list[date]) -> dict:
    cur.execute(sql, {"dates": dates})
    return dict(cur.fetchall())


def _reconcile(cur, batches: list[Batch]) -> list[CheckResult]:
    """Raw files (counted here) against the warehouse and quarantine, per batch and entity."""
    dates = [b.batch_date for b in batches]
    warehouse = {entity: _by_batch(cur, sql, dates) for entity, sql in _BATCH_ROWS.items()}
    quarantined = {
        e.name: _by_batch(
            cur,
            f"SELECT batch_date, count(*) FROM quarantine.{e.name} WHERE batch_date = ANY(%(dates)s) "
            "AND resolved_at IS NULL GROUP BY 1",
            dates,
        )
        for e in ENTITIES
    }
    bad_lines = _by_batch(
        cur,
        "SELECT batch_date, array_agg(row_no) FROM quarantine.order_items "
        "WHERE batch_date = ANY(%(dates)s) AND resolved_at IS NULL GROUP BY 1",
        dates,
    )
    revenue = _by_batch(
        cur,
        "SELECT batch_date, sum(revenue) FROM warehouse.fact_order_items WHERE batch_date = ANY(%(dates)s) "
        "GROUP BY 1",
        dates,
    )
    jobs = [
        (
            b.source_dir / e.file_name,
            "revenue" if e is ORDER_ITEMS else None,
            frozenset(bad_lines.get(b.batch_date, ())) if e is ORDER_ITEMS else frozenset(),
        )
        for b in batches
        for e in ENTITIES
    ]
    counts = iter(_count_many(jobs))
    checks = []
    for b in batches:
        day = b.batch_date
        for e in ENTITIES:
            raw = next(counts)
            name = f"reconcile_{e.name}_rows"
            in_warehouse, in_quarantine = warehouse[e.name].get(day, 0), quarantined[e.name].get(day, 0)
            if raw.error:
                checks.append(CheckResult(name, False, None, raw.error, day))
            else:
                checks.append(
                    CheckResult(
                        name,
                        raw.rows == in_warehouse + in_quarantine,
                        raw.rows,
                        f"raw file rows {raw.rows}, warehouse rows {in_warehouse} + quarantined {in_quarantine}",
                        day,
                    )
                )
            if e is ORDER_ITEMS:
                checks.append(_revenue_check(raw, revenue.get(day) or Decimal(0), day))
    return checks


def _revenue_check(raw: RawCount, loaded: Decimal, day: date) -> CheckResult:
    name = "reconcile_order_items_revenue"
    if raw.error:
        return CheckResult(name, False, None, raw.error, day)
    if raw.bad_revenue:
        rows = ", ".join(map(str, raw.bad_revenue[:5]))
        return CheckResult(
            name, False, None, f"revenue is not a number in raw row(s) {rows} that are not quarantined", day
        )
    return CheckResult(
        name,
        raw.revenue == loaded,
        float(loaded),
        f"raw good revenue {raw.revenue:.2f}, warehouse revenue {loaded:.2f}",
        day,
    )


def batches_to_check(conn, until: date | None = None) -> list[Batch]:
    """The batches whose latest successful load was never checked or whose last check failed (up to
    `until` when given), oldest first. Index-backed: it reads only those runs."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT r.batch_date, r.run_id, r.source_dir, r.checks_passed FROM audit.load_runs r "
            "WHERE r.status = 'loaded' AND r.checks_passed IS NOT TRUE "
            "AND (%(until)s::date IS NULL OR r.batch_date <= %(until)s) AND NOT EXISTS ("
            "  SELECT 1 FROM audit.load_runs n WHERE n.batch_date = r.batch_date AND n.status = 'loaded' "
            "  AND n.run_id > r.run_id) "
            "ORDER BY r.batch_date",
            {"until": until},
        )
        return [Batch(d, run_id, Path(source), passed) for d, run_id, source, passed in cur.fetchall()]


def _failed_freshness(cur, batches: list[Batch]) -> set[date]:
    """Failed batches whose freshness check failed (re-checked like any failure)."""
    cur.execute(
        "SELECT DISTINCT batch_date FROM audit.quality_checks WHERE check_name = 'freshness' AND NOT passed "
        "AND batch_date = ANY(%s)",
        ([b.batch_date for b in batches if b.checks_passed is False],),
    )
    return {d for (d,) in cur.fetchall()}


def _freshness(cur, day: date, latest: bool) -> CheckResult:
    """Order lines dated on the batch's day. A warehouse without a single order line holds an
    imported log of interactions (events or ratings, `ecomm import interactions`): its batch is fresh
    when it holds web events or reviews. A shop's day with events but no orders (an outage upstream)
    still fails."""
    cur.execute("SELECT count(*) FROM warehouse.fact_order_items WHERE order_date = %s", (day,))
    orders = cur.fetchone()[0]
    which = "the latest batch" if latest else "batch"
    after = "" if latest else " (its freshness failed before)"
    details = f"{orders} order lines dated on {which} {day}{after}"
    if orders == 0:
        cur.execute("SELECT EXISTS (SELECT 1 FROM warehouse.fact_order_items)")
        if not cur.fetchone()[0]:
            cur.execute(
                "SELECT (SELECT count(*) FROM warehouse.fact_web_events WHERE batch_date = %(d)s), "
                "(SELECT count(*) FROM warehouse.fact_reviews WHERE batch_date = %(d)s)",
                {"d": day},
            )
            events, reviews = cur.fetchone()
            if events + reviews:
                details = (
                    f"{events} web events and {reviews} reviews in {which} {day}{after} "
                    "(a log of interactions: the warehouse holds no order line)"
                )
                return CheckResult("freshness", True, events + reviews, details, day)
    return CheckResult("freshness", orders > 0, orders, details, day)


def run_checks(conn, batches: list[Batch]) -> list[CheckResult]:
    """Check the given batches (see `batches_to_check`), record every result and each batch's
    verdict in its load run; returns the results."""
    from ecomm.stream.reconcile import lingering_dates, prune, stream_checks  # it builds on CheckResult

    if not batches:
        return []
    dates = [b.batch_date for b in batches]
    checks: list[CheckResult] = []
    with conn.cursor() as cur:
        checks += _reconcile(cur, batches)
        for name, sql in _ZERO_CHECKS.items():
            offending = _by_batch(cur, sql, dates)
            for day in dates:
                bad = offending.get(day, 0)
                checks.append(CheckResult(name, bad == 0, bad, f"{bad} offending rows in batch {day}", day))
        # a day without orders: the latest batch checked (and one whose freshness failed before)
        for day in sorted({max(dates)} | _failed_freshness(cur, batches)):
            checks.append(_freshness(cur, day, latest=day == max(dates)))
        checks += stream_checks(cur, dates)  # a streamed date: its events against the batch
        run_of = {b.batch_date: b.run_id for b in batches}
        execute_values(  # one statement per 1,000 results (a year's import has ~4,400)
            cur,
            "INSERT INTO audit.quality_checks (batch_date, check_name, passed, observed, details, load_run_id) "
            "VALUES %s",
            [(c.batch_date, c.name, c.passed, c.observed, c.details, run_of[c.batch_date]) for c in checks],
            page_size=1000,
        )
        failed = {c.batch_date for c in checks if not c.passed}
        cur.executemany(
            "UPDATE audit.load_runs SET checks_passed = %s, checked_at = now() WHERE run_id = %s",
            [(b.batch_date not in failed, b.run_id) for b in batches],
        )
        passed = [d for d in dates if d not in failed]
        if passed:  # the warehouse holds those events now, and those of earlier dates that passed
            prune(cur, passed + lingering_dates(cur, min(dates)))
    conn.commit()
    return checks
