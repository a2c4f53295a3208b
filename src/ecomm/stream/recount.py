"""The live KPIs' definitions as plain SQL over every stream row: what the producer computed each tick
before it folded in increments (`ecomm.stream.kpis`). Kept as the oracle its running totals must equal
(tests) and the baseline its tick cost is measured against (benchmarks.bench_stream)."""

from __future__ import annotations

DAY = """SELECT max(t)::date FROM (SELECT max(order_ts) AS t FROM stream.order_items
                                 UNION ALL SELECT max(event_ts) FROM stream.web_events) AS latest"""
ORDERS = """SELECT count(DISTINCT order_id) FILTER (WHERE status = 'completed'),
                   coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)::float8, count(*)
            FROM stream.order_items WHERE {where}"""
WEB = """SELECT count(DISTINCT session_id), count(DISTINCT session_id) FILTER (WHERE event_type = 'purchase'),
                count(*)
         FROM stream.web_events WHERE {where}"""
TODAY_ORDERS = "order_ts >= %(day)s::date AND order_ts < %(day)s::date + 1"
TODAY_WEB = "event_ts >= %(day)s::date AND event_ts < %(day)s::date + 1"
LAST_MINUTE = "received_at > now() - interval '60 seconds'"
PRODUCTS = """SELECT o.product_id, coalesce(p.product_name, 'product ' || o.product_id),
                     sum(o.revenue)::float8, sum(o.quantity)
              FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
              WHERE o.order_ts >= %(day)s::date AND o.order_ts < %(day)s::date + 1 AND o.status = 'completed'
              GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 5"""
CATEGORIES = """SELECT coalesce(p.category, 'unknown'), sum(o.revenue)::float8, sum(o.quantity)
                FROM stream.order_items o LEFT JOIN warehouse.dim_product p USING (product_id)
                WHERE o.order_ts >= %(day)s::date AND o.order_ts < %(day)s::date + 1 AND o.status = 'completed'
                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"""


def _window(cur, orders_where: str, web_where: str, params: dict) -> dict:
    cur.execute(ORDERS.format(where=orders_where), params)
    orders, revenue, lines = cur.fetchone()
    cur.execute(WEB.format(where=web_where), params)
    sessions, converted, web_events = cur.fetchone()
    conversion = round(converted / sessions, 4) if sessions else 0.0
    figures = {"orders": orders, "revenue": round(revenue, 2), "sessions": sessions, "conversion": conversion}
    return {**figures, "events": lines + web_events}


def recount(conn) -> dict:
    """The KPIs (all but the last events) from scratch, in one REPEATABLE READ snapshot at its now()."""
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(DAY)
        day = cur.fetchone()[0]
        params = {"day": day}
        zero = "false"  # no day: nothing streamed
        today = _window(cur, TODAY_ORDERS if day else zero, TODAY_WEB if day else zero, params)
        minute = _window(cur, LAST_MINUTE, LAST_MINUTE, {})
        cur.execute(PRODUCTS, params)
        products = [{"product_id": p, "name": n, "revenue": round(r, 2), "units": u} for p, n, r, u in cur]
        cur.execute(CATEGORIES, params)
        categories = [{"category": c, "revenue": round(r, 2), "units": u} for c, r, u in cur]
    conn.commit()
    return {
        "day": day.isoformat() if day else None,
        "today": today,
        "last_minute": {**minute, "events_per_second": round(minute["events"] / 60, 2)},
        "top_products": products,
        "top_categories": categories,
    }
