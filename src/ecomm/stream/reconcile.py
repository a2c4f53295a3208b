"""Reconciliation of a streamed date with its nightly batch, and pruning of the landing area.

When the quality checks look at a loaded batch whose date was streamed (the `stream` tables hold
events of that date), the streamed events must equal the batch in the warehouse, per entity: order
lines, orders and revenue (exact decimals) against `fact_order_items` of the batch; web events and
sessions against `fact_web_events`. A difference fails `stream_order_items` / `stream_web_events`
naming both sides' numbers. A date nobody streamed gets no such check.

A batch loaded while its date's replay had started and not finished (`stream.replays`; a run
triggered by hand during the day) holds events the stream has not sent yet: its checks pass and say
so, with both sides' numbers, and `ecomm stream` moves on to the next date once it sees that batch
loaded. Every other streamed date (replay finished, or events from another client) is compared
exactly.

Once a batch's checks all pass, the landing area's rows of its date are deleted: the warehouse holds
them now. A failed batch keeps them (to look into) until a later check passes. Events of an earlier
date whose batch had already passed its checks (posted after that date's prune, e.g. in the seconds a
replay takes to notice its date loaded) are deleted with the next passing batch: nothing compares
them any more, and the warehouse holds that date.
"""

from __future__ import annotations

from datetime import date

from ecomm.warehouse.check_result import CheckResult

# per entity: (streamed figures, batch figures), each giving (day, count, distinct, revenue) rows
_FIGURES = {
    "order_items": (
        "SELECT order_ts::date, count(*), count(DISTINCT order_id), sum(revenue) FROM stream.order_items "
        "WHERE order_ts >= %(first)s AND order_ts < %(last)s::date + 1 AND order_ts::date = ANY(%(dates)s) "
        "GROUP BY 1",
        "SELECT batch_date, count(*), count(DISTINCT order_id), sum(revenue) FROM warehouse.fact_order_items "
        "WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    ),
    "web_events": (
        "SELECT event_ts::date, count(*), count(DISTINCT session_id), NULL::numeric FROM stream.web_events "
        "WHERE event_ts >= %(first)s AND event_ts < %(last)s::date + 1 AND event_ts::date = ANY(%(dates)s) "
        "GROUP BY 1",
        "SELECT batch_date, count(*), count(DISTINCT session_id), NULL::numeric FROM warehouse.fact_web_events "
        "WHERE batch_date = ANY(%(dates)s) GROUP BY 1",
    ),
}
_TIME_COLUMN = {"order_items": "order_ts", "web_events": "event_ts"}
_UNITS = {"order_items": ("order lines", "orders"), "web_events": ("web events", "sessions")}


def _figures(cur, sql: str, dates: list[date]) -> dict[date, tuple]:
    cur.execute(sql, {"dates": dates, "first": min(dates), "last": max(dates)})
    return {day: tuple(rest) for day, *rest in cur.fetchall()}


def describe(name: str, figures: tuple) -> str:
    rows, distinct, revenue = figures
    lines, groups = _UNITS[name]
    money = "" if revenue is None else f", revenue {revenue:.2f}"
    return f"{rows} {lines} of {distinct} {groups}{money}"


def _replaying(cur, dates: list[date]) -> set[date]:
    """Dates whose replay started and has not finished."""
    cur.execute(
        "SELECT business_date FROM stream.replays WHERE business_date = ANY(%s) AND finished_at IS NULL",
        (dates,),
    )
    return {day for (day,) in cur.fetchall()}


def stream_checks(cur, dates: list[date]) -> list[CheckResult]:
    """One check per entity for each of `dates` that has streamed events (of any entity)."""
    if not dates:
        return []
    replaying = _replaying(cur, dates)
    figures = {
        name: (_figures(cur, streamed, dates), _figures(cur, batch, dates))
        for name, (streamed, batch) in _FIGURES.items()
    }
    streamed_dates = sorted({d for streamed, _ in figures.values() for d in streamed})
    checks = []
    for day in streamed_dates:
        for name, (streamed, batch) in figures.items():
            ours = streamed.get(day, (0, 0, None if name == "web_events" else 0))
            theirs = batch.get(day, (0, 0, None if name == "web_events" else 0))
            both = f"streamed {describe(name, ours)}; batch {describe(name, theirs)}"
            if day not in replaying:
                checks.append(CheckResult(f"stream_{name}", ours == theirs, ours[0], both, day))
            else:
                unfinished = (
                    f"not compared: the replay of {day} had not finished when its batch loaded ({both})"
                )
                checks.append(CheckResult(f"stream_{name}", True, ours[0], unfinished, day))
    return checks


def prune(cur, dates: list[date]) -> int:
    """Delete the landing area's rows of `dates`; how many."""
    deleted = 0
    for name, column in _TIME_COLUMN.items():
        for day in dates:  # a range on the indexed time column per date
            cur.execute(
                f"DELETE FROM stream.{name} WHERE {column} >= %(day)s AND {column} < %(day)s::date + 1",
                {"day": day},
            )
            deleted += cur.rowcount
    return deleted


def lingering_dates(cur, before: date) -> list[date]:
    """Dates before `before` that still hold streamed rows although their latest load passed its checks."""
    found: set[date] = set()
    for name, column in _TIME_COLUMN.items():  # the indexed time column: the rows of earlier days only
        cur.execute(f"SELECT DISTINCT {column}::date FROM stream.{name} WHERE {column} < %s", (before,))
        found |= {day for (day,) in cur.fetchall()}
    if not found:
        return []
    cur.execute(
        "SELECT DISTINCT ON (batch_date) batch_date, checks_passed FROM audit.load_runs "
        "WHERE status = 'loaded' AND batch_date = ANY(%s) ORDER BY batch_date, finished_at DESC",
        (sorted(found),),
    )
    return sorted(day for day, passed in cur.fetchall() if passed)
