"""The live KPIs: one query set over the `stream` tables, run once per tick by the one producer.

"The day" is the day of the latest event time streamed (the business date being replayed), so the
day-so-far figures are that date's events; "the last minute" is by wall clock (`received_at`, when
the events' micro-batch committed). Orders and revenue count completed lines (as the warehouse's
daily sales do); conversion is the share of sessions with a purchase event.
"""

from __future__ import annotations

from datetime import date

TOP = 5
RECENT = 10

DAY = """SELECT max(t)::date FROM (SELECT max(order_ts) AS t FROM stream.order_items
                                 UNION ALL SELECT max(event_ts) FROM stream.web_events) AS latest"""
TODAY_ORDERS = "order_ts >= %(day)s AND order_ts < %(day)s + 1"
TODAY_WEB = "event_ts >= %(day)s AND event_ts < %(day)s + 1"
LAST_MINUTE = "received_at > now() - interval '60 seconds'"

ORDERS = """SELECT count(DISTINCT order_id) FILTER (WHERE status = 'completed'),
                   coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)::float8, count(*)
            FROM stream.order_items WHERE {where}"""
WEB = """SELECT count(DISTINCT session_id), count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase'),
                count(*)
         FROM stream.web_events WHERE {where}"""
TOP_PRODUCTS = f"""SELECT o.product_id, coalesce(p.product_name, 'product ' || o.product_id),
                          sum(o.revenue)::float8, sum(o.quantity)
                   FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
                   WHERE {TODAY_ORDERS} AND o.status = 'completed'
                   GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT {TOP}"""
TOP_CATEGORIES = f"""SELECT coalesce(p.category, 'unknown'), sum(o.revenue)::float8, sum(o.quantity)
                     FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
                     WHERE {TODAY_ORDERS} AND o.status = 'completed'
                     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}"""
RECENT_EVENTS = f"""(SELECT received_at, stream_event_id, event_type, event_ts, product_id, NULL::float8
                     FROM stream.web_events ORDER BY received_at DESC, stream_event_id DESC LIMIT {RECENT})
                    UNION ALL
                    (SELECT received_at, stream_event_id, 'order ' || status, order_ts, product_id, revenue::float8
                     FROM stream.order_items ORDER BY received_at DESC, stream_event_id DESC LIMIT {RECENT})
                    ORDER BY 1 DESC, 2 DESC LIMIT {RECENT}"""


def _window(cur, orders_where: str, web_where: str, params: dict) -> dict:
    cur.execute(ORDERS.format(where=orders_where), params)
    orders, revenue, lines = cur.fetchone()
    cur.execute(WEB.format(where=web_where), params)
    sessions, converted, web_events = cur.fetchone()
    return {
        "orders": orders,
        "revenue": round(revenue, 2),
        "sessions": sessions,
        "conversion": round(converted / sessions, 4) if sessions else 0.0,
        "events": lines + web_events,
    }


def compute(conn) -> dict:
    """The KPIs now, read in one snapshot of the database (a REPEATABLE READ read-only transaction)."""
    with conn.cursor() as cur:
        cur.execute(DAY)
        day: date | None = cur.fetchone()[0]
        params = {"day": day}
        today = _window(cur, TODAY_ORDERS, TODAY_WEB, params) if day else _window(cur, "false", "false", {})
        minute = _window(cur, LAST_MINUTE, LAST_MINUTE, {})
        minute["events_per_second"] = round(minute["events"] / 60, 2)
        cur.execute(TOP_PRODUCTS, params)
        products = [{"product_id": p, "name": n, "revenue": round(r, 2), "units": u} for p, n, r, u in cur]
        cur.execute(TOP_CATEGORIES, params)
        categories = [{"category": c, "revenue": round(r, 2), "units": u} for c, r, u in cur]
        cur.execute(RECENT_EVENTS)
        recent = [
            {"event_id": i, "kind": k, "at": t.isoformat(sep=" "), "product_id": p, "revenue": r}
            for _, i, k, t, p, r in cur
        ]
    conn.commit()
    return {
        "day": day.isoformat() if day else None,
        "today": today,
        "last_minute": minute,
        "top_products": products,
        "top_categories": categories,
        "recent_events": recent,
    }
