"""Running totals of the live KPIs, folded in row by row (pure Python, no database).

The producer folds in each stream row once (the rows new since its last tick), so a tick costs what
arrived since the last one, not the whole day. Two kinds of totals:

- the day so far, per event day from the newest day streamed on (older days cannot become "the day"
  again while rows only arrive; a late row of an older day changes nothing shown). Distinct orders
  and sessions are sets: rows are never taken away here (a deletion makes the producer start over).
- the last minute by `received_at`: every row of the window is kept (a heap by `received_at`) with
  counts per order and per session, so a row leaving the window takes exactly its share away.

Revenue is summed as `Decimal` (the column is numeric), so the figures equal the database's sums.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

WINDOW = timedelta(seconds=60)


class OrderLine(NamedTuple):  # tuples: thousands are built per tick, straight from cursor rows
    received_at: datetime
    day: date  # of order_ts
    order_id: int
    status: str
    product_id: int
    quantity: int
    revenue: Decimal


class WebEvent(NamedTuple):
    received_at: datetime
    day: date  # of event_ts
    session_id: int
    event_type: str


Row = OrderLine | WebEvent


def _completed(row: Row) -> bool:
    return isinstance(row, OrderLine) and row.status == "completed"


def _window_figures(orders: int, revenue: Decimal, sessions: int, converted: int, events: int) -> dict:
    return {
        "orders": orders,
        "revenue": round(float(revenue), 2),
        "sessions": sessions,
        "conversion": round(converted / sessions, 4) if sessions else 0.0,
        "events": events,
    }


@dataclass
class DayTotals:
    orders: set[int] = field(default_factory=set)  # with a completed line
    revenue: Decimal = Decimal(0)  # of completed lines
    sessions: set[int] = field(default_factory=set)
    converted: set[int] = field(default_factory=set)  # sessions with a purchase event
    events: int = 0  # order lines (any status) + web events
    products: dict[int, list] = field(default_factory=dict)  # product_id -> [revenue, units], completed

    def add(self, row: Row) -> None:
        self.events += 1
        if isinstance(row, WebEvent):
            self.sessions.add(row.session_id)
            if row.event_type == "purchase":
                self.converted.add(row.session_id)
        elif _completed(row):
            self.orders.add(row.order_id)
            self.revenue += row.revenue
            sold = self.products.setdefault(row.product_id, [Decimal(0), 0])
            sold[0] += row.revenue
            sold[1] += row.quantity

    def figures(self) -> dict:
        return _window_figures(
            len(self.orders), self.revenue, len(self.sessions), len(self.converted), self.events
        )


def _count(counts: Counter, key: int, sign: int) -> None:
    """One more (sign 1) or one fewer (-1) of `key`; a key at 0 leaves (len() counts distinct keys)."""
    left = counts[key] + sign
    if left:
        counts[key] = left
    else:
        del counts[key]


@dataclass
class MinuteTotals:
    rows: list = field(default_factory=list)  # heap of (received_at, n, row)
    orders: Counter = field(default_factory=Counter)  # order_id -> completed lines in the window
    revenue: Decimal = Decimal(0)
    sessions: Counter = field(default_factory=Counter)  # session_id -> web events in the window
    converted: Counter = field(default_factory=Counter)  # session_id -> purchase events in the window
    added: int = 0  # a tie-breaker for the heap (rows themselves do not compare)

    def add(self, row: Row, sign: int = 1) -> None:
        if isinstance(row, WebEvent):
            _count(self.sessions, row.session_id, sign)
            if row.event_type == "purchase":
                _count(self.converted, row.session_id, sign)
        elif _completed(row):
            _count(self.orders, row.order_id, sign)
            self.revenue += sign * row.revenue
        if sign > 0:
            self.added += 1
            heapq.heappush(self.rows, (row.received_at, self.added, row))

    def expire(self, cutoff: datetime) -> None:
        """Take away the rows received at or before `cutoff` (the window is received_at > cutoff)."""
        while self.rows and self.rows[0][0] <= cutoff:
            _, _, row = heapq.heappop(self.rows)
            self.add(row, sign=-1)

    def figures(self) -> dict:
        events = len(self.rows)
        figures = _window_figures(
            len(self.orders), self.revenue, len(self.sessions), len(self.converted), events
        )
        return {**figures, "events_per_second": round(events / 60, 2)}


class LiveTotals:
    """The KPIs' running totals: fold rows in (`add`), move the minute on (`at`), read (`figures`)."""

    def __init__(self) -> None:
        self.day: date | None = None  # the newest event day seen
        self.days: dict[date, DayTotals] = {}  # the day and any later one (none, until rows of it come)
        self.minute = MinuteTotals()
        self.cutoff: datetime | None = None  # rows received at or before it are out of the minute

    def at(self, now: datetime) -> None:
        """The window is now the minute before `now` (the database's now() of the tick)."""
        self.cutoff = now - WINDOW
        self.minute.expire(self.cutoff)

    def add(self, rows) -> None:
        for row in rows:
            if self.day is None or row.day > self.day:
                self.day = row.day
                self.days = {d: t for d, t in self.days.items() if d >= row.day}
            if row.day >= self.day:
                self.days.setdefault(row.day, DayTotals()).add(row)
            if self.cutoff is None or row.received_at > self.cutoff:
                self.minute.add(row)

    def today(self) -> DayTotals:
        return self.days.get(self.day, DayTotals()) if self.day else DayTotals()

    def products(self) -> tuple[list[int], list[Decimal], list[int]]:
        """The day's completed sales per product: ids, revenues, units (for the top-N queries)."""
        sold = self.today().products
        return list(sold), [r for r, _ in sold.values()], [u for _, u in sold.values()]

    def figures(self) -> dict:
        return {
            "day": self.day.isoformat() if self.day else None,
            "today": self.today().figures(),
            "last_minute": self.minute.figures(),
        }
