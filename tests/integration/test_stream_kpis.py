"""The live KPIs on the real `stream` tables: counted incrementally tick after tick, they equal the
same figures aggregated from scratch by SQL, through writers committing out of order, a day rolling
over and a prune."""

from __future__ import annotations

from ecomm import db
from ecomm.stream import kpis

# The KPIs' definitions as plain SQL over every row (what the producer recomputed each tick before
# it folded in increments): the oracle the incremental figures must equal.
RECOUNT_DAY = """SELECT max(t)::date FROM (SELECT max(order_ts) AS t FROM stream.order_items
                                          UNION ALL SELECT max(event_ts) FROM stream.web_events) AS latest"""
RECOUNT_ORDERS = """SELECT count(DISTINCT order_id) FILTER (WHERE status = 'completed'),
                           coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)::float8, count(*)
                    FROM stream.order_items WHERE {where}"""
RECOUNT_WEB = """SELECT count(DISTINCT session_id),
                        count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase'), count(*)
                 FROM stream.web_events WHERE {where}"""
RECOUNT_PRODUCTS = """SELECT o.product_id, coalesce(p.product_name, 'product ' || o.product_id),
                             sum(o.revenue)::float8, sum(o.quantity)
                      FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
                      WHERE o.order_ts::date = %(day)s AND o.status = 'completed'
                      GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 5"""
RECOUNT_CATEGORIES = """SELECT coalesce(p.category, 'unknown'), sum(o.revenue)::float8, sum(o.quantity)
                        FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
                        WHERE o.order_ts::date = %(day)s AND o.status = 'completed'
                        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"""


def _window(cur, orders_where: str, web_where: str, params: dict) -> dict:
    cur.execute(RECOUNT_ORDERS.format(where=orders_where), params)
    orders, revenue, lines = cur.fetchone()
    cur.execute(RECOUNT_WEB.format(where=web_where), params)
    sessions, converted, web_events = cur.fetchone()
    conversion = round(converted / sessions, 4) if sessions else 0.0
    figures = {"orders": orders, "revenue": round(revenue, 2), "sessions": sessions, "conversion": conversion}
    return {**figures, "events": lines + web_events}


def recount(conn) -> dict:
    """The KPIs from scratch by SQL, at the database's now() (one REPEATABLE READ snapshot)."""
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(RECOUNT_DAY)
        day = cur.fetchone()[0]
        params = {"day": day}
        today = _window(cur, "order_ts::date = %(day)s", "event_ts::date = %(day)s", params)
        minute_where = "received_at > now() - interval '60 seconds'"
        minute = _window(cur, minute_where, minute_where, {})
        cur.execute(RECOUNT_PRODUCTS, params)
        products = [{"product_id": p, "name": n, "revenue": round(r, 2), "units": u} for p, n, r, u in cur]
        cur.execute(RECOUNT_CATEGORIES, params)
        categories = [{"category": c, "revenue": round(r, 2), "units": u} for c, r, u in cur]
    conn.commit()
    return {
        "day": day.isoformat() if day else None,
        "today": today,
        "last_minute": {**minute, "events_per_second": round(minute["events"] / 60, 2)},
        "top_products": products,
        "top_categories": categories,
    }


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
        assert live.folded == 8
        assert shown(pruned) == recount(reader)
        assert pruned["day"] == "2026-03-02"
        assert pruned["today"] == {
            "orders": 3,
            "revenue": 26.15,
            "sessions": 3,
            "conversion": 0.3333,
            "events": 8,
        }
