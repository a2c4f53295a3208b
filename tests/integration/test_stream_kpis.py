"""The live KPIs on the real `stream` tables: counted incrementally tick after tick, they equal the
same figures aggregated from scratch by SQL (`ecomm.stream.recount`), through writers committing out
of order, a day rolling over and a prune."""

from __future__ import annotations

from ecomm import db
from ecomm.stream import kpis
from ecomm.stream.recount import recount


def shown(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "recent_events"}


def add_lines(cur, lines: list[tuple], received: str = "now()") -> None:
    """Order lines (order_id, line_no, 'YYYY-MM-DD HH:MM', product_id, quantity, revenue, status)."""
    for order_id, line_no, at, product, quantity, revenue, status in lines:
        cur.execute(
            "INSERT INTO stream.order_items (stream_event_id, received_at, order_id, line_no, order_ts, "
            "customer_id, product_id, quantity, unit_price, discount, revenue, status) "
            f"VALUES (%s, {received}, %s, %s, %s, 1, %s, %s, 0, 0, %s, %s)",
            (f"o-{order_id}-{line_no}", order_id, line_no, at, product, quantity, revenue, status),
        )


def add_web(cur, events: list[tuple], received: str = "now()") -> None:
    """Web events (event_id, session_id, 'YYYY-MM-DD HH:MM', event_type)."""
    for event_id, session, at, kind in events:
        cur.execute(
            "INSERT INTO stream.web_events (stream_event_id, received_at, event_id, session_id, "
            f"customer_id, event_type, event_ts) VALUES (%s, {received}, %s, %s, 1, %s, %s)",
            (f"w-{event_id}", event_id, session, kind, at),
        )


def test_an_empty_stream_has_no_day_and_zero_figures(warehouse):
    with db.connection(warehouse) as conn:
        figures = kpis.compute(conn)
        assert shown(figures) == recount(conn)

    zero = {"orders": 0, "revenue": 0.0, "sessions": 0, "conversion": 0.0, "events": 0}
    assert figures == {
        "day": None,
        "today": zero,
        "last_minute": {**zero, "events_per_second": 0.0},
        "top_products": [],
        "top_categories": [],
        "recent_events": [],
    }


def test_ticks_fold_in_what_is_new_and_equal_a_recount_through_out_of_order_commits(warehouse):
    live = kpis.LiveKpis()
    with (
        db.connection(warehouse) as reader,
        db.connection(warehouse) as early,
        db.connection(warehouse) as late,
    ):
        with reader.cursor() as cur:
            cur.execute(
                "INSERT INTO warehouse.dim_product (product_id, product_name, category, launch_date, batch_date) "
                "VALUES (3, 'Lamp', 'home', '2026-01-01', '2026-01-01'), (4, 'Mug', 'kitchen', '2026-01-01', '2026-01-01')"
            )
        reader.commit()
        with early.cursor() as cur:  # a writer that began first and commits last
            add_lines(cur, [(1, 1, "2026-03-02 09:00", 3, 2, "20.10", "completed")])
            add_web(cur, [(1, 10, "2026-03-02 09:00", "purchase")])
        with late.cursor() as cur:
            add_lines(cur, [(2, 1, "2026-03-02 09:05", 4, 1, "5.05", "completed")])
            add_lines(cur, [(3, 1, "2026-03-02 09:06", 4, 1, "9.99", "cancelled")])
            add_web(cur, [(2, 11, "2026-03-02 09:05", "view"), (3, 10, "2026-03-02 09:05", "view")])
            # received two minutes ago: in the day, not in the last minute
            add_web(cur, [(4, 12, "2026-03-02 08:00", "view")], received="now() - interval '2 minutes'")
        late.commit()
        first = live.compute(reader)
        assert shown(first) == recount(reader)
        assert first["today"] == {"orders": 1, "revenue": 5.05, "sessions": 3, "conversion": 0.0, "events": 5}
        early.commit()  # its rows have an older transaction id than the rows already folded in
        second = live.compute(reader)
        assert live.folded == 2
        assert shown(second) == recount(reader)
        assert second["today"] == {
            "orders": 2,
            "revenue": 25.15,
            "sessions": 3,
            "conversion": 0.3333,
            "events": 7,
        }
        assert second["last_minute"]["events"] == 6
        assert second["top_products"] == [
            {"product_id": 3, "name": "Lamp", "revenue": 20.1, "units": 2},
            {"product_id": 4, "name": "Mug", "revenue": 5.05, "units": 1},
        ]
        assert second["top_categories"] == [
            {"category": "home", "revenue": 20.1, "units": 2},
            {"category": "kitchen", "revenue": 5.05, "units": 1},
        ]
        assert shown(live.compute(reader)) == shown(second) and live.folded == 0  # nothing new

        with late.cursor() as cur:  # a late row of the day, then the next day begins
            add_lines(cur, [(4, 1, "2026-03-02 23:59", 9, 1, "1.00", "completed")])
            add_lines(cur, [(5, 1, "2026-03-03 00:00", 4, 3, "7.50", "completed")])
            add_web(cur, [(5, 20, "2026-03-03 00:00", "purchase")])
        late.commit()
        rolled = live.compute(reader)
        assert shown(rolled) == recount(reader)
        assert rolled["day"] == "2026-03-03"
        assert rolled["today"] == {"orders": 1, "revenue": 7.5, "sessions": 1, "conversion": 1.0, "events": 2}
        assert rolled["top_categories"] == [{"category": "kitchen", "revenue": 7.5, "units": 3}]

        with late.cursor() as cur:  # the nightly prune of the new day: everything is counted again
            cur.execute("DELETE FROM stream.order_items WHERE order_ts >= '2026-03-03'")
            cur.execute("DELETE FROM stream.web_events WHERE event_ts >= '2026-03-03'")
        late.commit()
        pruned = live.compute(reader)
        assert live.folded is None  # started over from the SQL counts
        assert shown(pruned) == recount(reader)
        assert pruned["day"] == "2026-03-02"
        assert pruned["today"] == {
            "orders": 3,
            "revenue": 26.15,
            "sessions": 3,
            "conversion": 0.3333,
            "events": 8,
        }
