"""Running totals of the live KPIs, folded in row by row (pure Python, no database).

The producer folds in each stream row once (the rows new since its last tick), so a tick costs what
arrived since the last one, not the whole day; web events come counted per session (a `WebEvent` is a
session's events of one arrival and day, with how many were purchases), so a session's events cost
one fold, not one each. Two kinds of totals:

- the day so far, per event day from the newest day streamed on (older days cannot become "the day"
  again while rows only arrive; a late row of an older day changes nothing shown). Distinct orders
  and sessions are sets: rows are never taken away here (a deletion makes the producer start over).
- the last minute by `received_at`: counts per order and per session for each arrival (the rows of
  one `received_at`, one writer's micro-batch) in a heap by `received_at`, so rows leaving the window
  take exactly their share away.

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


class WebEvent(NamedTuple):  # a session's web events of one arrival and day, counted by SQL
    received_at: datetime
    day: date  # of event_ts
    session_id: int
    events: int
    purchases: int  # of those, purchase events


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
        if isinstance(row, WebEvent):
            self.events += row.events
            self.sessions.add(row.session_id)
            if row.purchases:
                self.converted.add(row.session_id)
            return
        self.events += 1
        if _completed(row):
            self.orders.add(row.order_id)
            self.revenue += row.revenue
            sold = self.products.setdefault(row.product_id, [Decimal(0), 0])
            sold[0] += row.revenue
            sold[1] += row.quantity

    def figures(self) -> dict:
        return _window_figures(
            len(self.orders), self.revenue, len(self.sessions), len(self.converted), self.events
        )


def _count(counts: Counter, key: int, n: int) -> None:
    """`n` more (or fewer, n < 0) of `key`; a key at 0 leaves (so len() counts the distinct keys)."""
    left = counts[key] + n
    if left:
        counts[key] = left
    else:
        del counts[key]


@dataclass
class Arrival:
    """The window's rows of one `received_at`: one writer transaction's micro-batch (its rows share
    its now()), so the minute keeps one entry per batch, not per row."""

    orders: Counter = field(default_factory=Counter)  # order_id -> completed lines
    revenue: Decimal = Decimal(0)  # of completed lines
    sessions: Counter = field(default_factory=Counter)  # session_id -> web events
    converted: Counter = field(default_factory=Counter)  # session_id -> purchase events
    events: int = 0

    def add(self, row: Row) -> None:
        if isinstance(row, WebEvent):
            self.events += row.events
            _count(self.sessions, row.session_id, row.events)
            if row.purchases:
                _count(self.converted, row.session_id, row.purchases)
            return
        self.events += 1
        if _completed(row):
            _count(self.orders, row.order_id, 1)
            self.revenue += row.revenue

    def take_away(self, gone: Arrival) -> None:
        for mine, theirs in (
            (self.orders, gone.orders),
            (self.sessions, gone.sessions),
            (self.converted, gone.converted),
        ):
            for key, n in theirs.items():
                _count(mine, key, -n)
        self.revenue -= gone.revenue
        self.events -= gone.events


@dataclass
class MinuteTotals:
    window: Arrival = field(default_factory=Arrival)  # the sum of the arrivals below
    arrivals: dict[datetime, Arrival] = field(default_factory=dict)
    times: list[datetime] = field(default_factory=list)  # heap of the arrivals' received_at

    @property
    def sessions(self) -> Counter:
        return self.window.sessions

    @property
    def converted(self) -> Counter:
        return self.window.converted

    def add(self, row: Row) -> None:
        arrival = self.arrivals.get(row.received_at)
        if arrival is None:
            arrival = self.arrivals[row.received_at] = Arrival()
            heapq.heappush(self.times, row.received_at)
        arrival.add(row)
        self.window.add(row)

    def expire(self, cutoff: datetime) -> None:
        """Take away the rows received at or before `cutoff` (the window is received_at > cutoff)."""
        while self.times and self.times[0] <= cutoff:
            self.window.take_away(self.arrivals.pop(heapq.heappop(self.times)))

    def figures(self) -> dict:
        w = self.window
        figures = _window_figures(len(w.orders), w.revenue, len(w.sessions), len(w.converted), w.events)
        return {**figures, "events_per_second": round(w.events / 60, 2)}


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

    def start(self, day: date | None, totals: DayTotals, minute_rows) -> None:
        """Start from counts taken all at once (a recount by SQL): the day's totals, and the rows of
        the last minute (of any day: already in the day's totals, so they go into the minute only)."""
        self.day, self.days = day, ({day: totals} if day else {})
        for row in minute_rows:
            if self.cutoff is None or row.received_at > self.cutoff:
                self.minute.add(row)

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
