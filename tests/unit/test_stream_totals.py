"""The live KPIs' running totals (ecomm.stream.totals) on hand-made rows with known figures: the day
so far, late and out-of-order rows, the day rolling over at midnight, and the last minute's window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from ecomm.stream.totals import DayTotals, LiveTotals, OrderLine, WebEvent

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
DAY, NEXT = date(2026, 3, 2), date(2026, 3, 3)


def line(order_id: int, revenue: str, *, day=DAY, status="completed", product=1, qty=1, ago=1.0) -> OrderLine:
    return OrderLine(NOW - timedelta(seconds=ago), day, order_id, status, product, qty, Decimal(revenue))


def web(session: int, kind: str = "view", *, day=DAY, ago=1.0) -> WebEvent:
    return WebEvent(NOW - timedelta(seconds=ago), day, session, 1, int(kind == "purchase"))


def totals_at(now: datetime, *batches) -> LiveTotals:
    totals = LiveTotals()
    totals.at(now)
    for rows in batches:
        totals.add(rows)
    return totals


def test_an_empty_stream_has_no_day_and_zero_figures():
    zero = {"orders": 0, "revenue": 0.0, "sessions": 0, "conversion": 0.0, "events": 0}
    assert totals_at(NOW).figures() == {
        "day": None,
        "today": zero,
        "last_minute": {**zero, "events_per_second": 0.0},
    }
    assert totals_at(NOW).products() == ([], [], [])


def test_the_day_counts_completed_orders_distinct_sessions_and_exact_revenue():
    rows = [
        line(1, "10.10", product=7, qty=2),
        line(1, "0.20", product=8),  # a second line of order 1: still one order
        line(2, "5.00", status="cancelled", product=7),  # counted as an event only
        line(3, "0.10", product=7, qty=3),
        web(100),
        web(100, "purchase"),
        web(101),
        web(102, "purchase"),
    ]
    day = totals_at(NOW, rows).figures()["today"]
    # 10.10 + 0.20 + 0.10 is 10.4 exactly (as numeric sums it), not 10.399999999999999
    assert day == {"orders": 2, "revenue": 10.4, "sessions": 3, "conversion": 0.6667, "events": 8}
    assert totals_at(NOW, rows).products() == ([7, 8], [Decimal("10.20"), Decimal("0.20")], [5, 1])


def test_rows_in_any_order_and_any_batching_give_the_same_totals():
    rows = [line(n, f"{n}.25", product=n % 3) for n in range(1, 30)] + [web(n % 7) for n in range(40)]
    once = totals_at(NOW, rows)
    reversed_in_pieces = totals_at(NOW, *[rows[::-1][i : i + 5] for i in range(0, len(rows), 5)])
    assert once.figures() == reversed_in_pieces.figures()
    assert once.figures()["today"] == {
        "orders": 29,
        "revenue": 442.25,
        "sessions": 7,
        "conversion": 0.0,
        "events": 69,
    }
    assert sorted(zip(*once.products(), strict=True)) == sorted(
        zip(*reversed_in_pieces.products(), strict=True)
    )


def test_a_late_row_of_an_earlier_day_changes_nothing_shown_but_the_minute():
    totals = totals_at(NOW, [line(1, "3.00"), web(1)])
    totals.add([line(2, "100.00", day=DAY - timedelta(days=1)), web(2, day=DAY - timedelta(days=1))])
    figures = totals.figures()
    assert figures["day"] == "2026-03-02"
    assert figures["today"] == {"orders": 1, "revenue": 3.0, "sessions": 1, "conversion": 0.0, "events": 2}
    # the last minute is by arrival, whatever the event's day
    assert figures["last_minute"]["orders"] == 2 and figures["last_minute"]["revenue"] == 103.0
    assert figures["last_minute"]["events"] == 4


def test_the_day_rolls_over_at_midnight_to_the_next_days_own_totals():
    totals = totals_at(NOW, [line(1, "3.00"), web(1, "purchase")])
    # a row of tomorrow arrives before the last ones of today: tomorrow becomes the day at once
    totals.add([line(2, "7.00", day=NEXT), line(3, "1.00", day=DAY), web(5, day=NEXT)])
    figures = totals.figures()
    assert figures["day"] == "2026-03-03"
    assert figures["today"] == {"orders": 1, "revenue": 7.0, "sessions": 1, "conversion": 0.0, "events": 2}
    assert totals.products() == ([1], [Decimal("7.00")], [1])
    totals.add([line(4, "2.50", day=NEXT, product=2), web(5, "purchase", day=NEXT)])
    today = totals.figures()["today"]
    assert today == {"orders": 2, "revenue": 9.5, "sessions": 1, "conversion": 1.0, "events": 4}
    assert set(totals.days) == {NEXT}  # yesterday's sets are let go


def test_rows_of_a_later_day_stored_first_count_once_that_day_is_reached():
    totals = totals_at(NOW, [line(1, "3.00", day=NEXT)])
    totals.add([line(2, "4.00", day=DAY)])  # earlier than the day: not shown
    assert totals.figures()["today"]["revenue"] == 3.0
    assert totals.figures()["day"] == "2026-03-03"


def test_the_last_minute_is_received_after_now_minus_60_seconds_and_moves_on():
    rows = [
        line(1, "1.00", ago=70),  # already out when folded in
        line(2, "2.00", ago=50),
        line(2, "0.50", ago=5, product=2),  # order 2 again, later
        web(1, ago=59.5),
        web(1, "purchase", ago=30),
        web(2, ago=2),
    ]
    totals = totals_at(NOW, rows)
    minute = totals.figures()["last_minute"]
    assert minute == {
        "orders": 1,
        "revenue": 2.5,
        "sessions": 2,
        "conversion": 0.5,
        "events": 5,
        "events_per_second": 0.08,
    }
    totals.at(NOW + timedelta(seconds=10))  # web(1, ago=59.5) and line(2, ago=50) leave
    minute = totals.figures()["last_minute"]
    assert minute == {
        "orders": 1,
        "revenue": 0.5,
        "sessions": 2,
        "conversion": 0.5,
        "events": 3,
        "events_per_second": 0.05,
    }
    totals.at(NOW + timedelta(seconds=31))  # the purchase leaves: session 1 too
    assert totals.figures()["last_minute"]["sessions"] == 1
    assert totals.figures()["last_minute"]["conversion"] == 0.0
    assert totals.minute.sessions == {2: 1} and dict(totals.minute.converted) == {}
    totals.at(NOW + timedelta(seconds=58))  # exactly 60 s after the last two: out (received_at > cutoff)
    assert totals.figures()["last_minute"]["events"] == 0
    assert totals.figures()["last_minute"]["revenue"] == 0.0
    # the day keeps everything, the first row too
    assert totals.figures()["today"] == {
        "orders": 2,
        "revenue": 3.5,
        "sessions": 2,
        "conversion": 0.5,
        "events": 6,
    }


def test_rows_of_one_micro_batch_share_a_received_at_and_leave_the_minute_together():
    batch = [web(1, ago=30), web(1, "purchase", ago=30), web(2, ago=30), line(5, "4.00", ago=30)]
    totals = totals_at(NOW, batch, [web(1, ago=10), line(5, "1.00", ago=10)])  # a later batch, same ids
    assert len(totals.minute.arrivals) == 2
    minute = totals.figures()["last_minute"]
    assert (minute["sessions"], minute["orders"], minute["revenue"], minute["events"]) == (2, 1, 5.0, 6)
    totals.at(NOW + timedelta(seconds=30))  # the first batch leaves: session 1 and order 5 stay
    minute = totals.figures()["last_minute"]
    assert minute == {
        "orders": 1,
        "revenue": 1.0,
        "sessions": 1,
        "conversion": 0.0,
        "events": 2,
        "events_per_second": 0.03,
    }
    assert list(totals.minute.arrivals) == [NOW - timedelta(seconds=10)]


def test_a_start_from_counted_totals_then_folds_in_like_rows_would():
    rows = [line(1, "3.00", ago=120), web(1, "purchase", ago=90), line(2, "4.00", ago=20), web(2, ago=5)]
    by_rows = totals_at(NOW, rows)
    started = LiveTotals()
    started.at(NOW)
    counted = DayTotals(
        orders={1, 2},
        revenue=Decimal("7.00"),
        sessions={1, 2},
        converted={1},
        events=4,
        products={1: [Decimal("7.00"), 2]},
    )
    # the minute's rows are already in the day's counts: they go into the minute only
    started.start(DAY, counted, [r for r in rows if r.received_at > NOW - timedelta(seconds=60)])
    assert started.figures() == by_rows.figures()
    later = [line(3, "1.00", day=NEXT), web(3, day=NEXT)]
    for totals in (started, by_rows):
        totals.add(later)
    assert started.figures() == by_rows.figures()
    assert started.figures()["today"] == {
        "orders": 1,
        "revenue": 1.0,
        "sessions": 1,
        "conversion": 0.0,
        "events": 2,
    }
