"""The live KPIs, kept up to date incrementally by the one producer (`LiveKpis.compute` per tick).

"The day" is the day of the latest event time streamed (the business date being replayed), so the
day-so-far figures are that date's events; "the last minute" is by wall clock (`received_at`, when
the events' micro-batch committed). Orders and revenue count completed lines (as the warehouse's
daily sales do); conversion is the share of sessions with a purchase event.

Each tick reads, in one snapshot (REPEATABLE READ), only the rows stored by transactions its last
snapshot did not see (`txid`, revision 0023), folds them into running totals (`ecomm.stream.totals`)
and names the top products and categories from the day's per-product totals: a tick costs what
arrived since the last one, not the day. The first tick, and the first after stream rows were deleted
or updated (`stream.live_resets` moved: the nightly prune), starts from the day's totals aggregated
by SQL (distinct orders and sessions, per-product sums) and the last minute's rows.
"""

from __future__ import annotations

from decimal import Decimal

from ecomm.stream import recount
from ecomm.stream.totals import DayTotals, LiveTotals, OrderLine, WebEvent

TOP = 5
RECENT = 10

SNAPSHOT = """SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text, now(),
                     (SELECT resets FROM stream.live_resets)"""
# the rows whose transaction the last tick's snapshot did not see (committed since, in any order)
SINCE = "WHERE txid >= %(xmin)s::xid8 AND NOT pg_visible_in_snapshot(txid, %(seen)s::pg_snapshot)"
ORDER_LINES = """SELECT received_at, order_ts::date, order_id, status, product_id, quantity, revenue
                 FROM stream.order_items {since}"""
# web events per session, arrival and day (what the totals count of them): a row per session, not per event
WEB_EVENTS = """SELECT received_at, event_ts::date, session_id, count(*), count(*) FILTER (WHERE event_type = 'purchase')
                FROM stream.web_events {since} GROUP BY 1, 2, 3"""
# a start from scratch: the day's totals aggregated by SQL (distinct ids, not every row), and the
# rows of the last minute
DAY_ORDERS = f"""SELECT order_id FROM stream.order_items WHERE {recount.TODAY_ORDERS} AND status = 'completed'
                 GROUP BY 1"""
DAY_SESSIONS = f"""SELECT session_id, bool_or(event_type = 'purchase') FROM stream.web_events
                   WHERE {recount.TODAY_WEB} GROUP BY 1"""
DAY_PRODUCTS = f"""SELECT product_id, sum(revenue), sum(quantity) FROM stream.order_items
                   WHERE {recount.TODAY_ORDERS} AND status = 'completed' GROUP BY 1"""
DAY_EVENTS = f"""SELECT (SELECT count(*) FROM stream.order_items WHERE {recount.TODAY_ORDERS})
                      + (SELECT count(*) FROM stream.web_events WHERE {recount.TODAY_WEB})"""
LAST_MINUTE = f"WHERE {recount.LAST_MINUTE}"
# the day's completed sales per product (arrays from the running totals), named from the catalog
SOLD = (
    "unnest(%(ids)s::bigint[], %(revenue)s::numeric[], %(units)s::bigint[]) AS o(product_id, revenue, units)"
)
TOP_PRODUCTS = f"""SELECT o.product_id, coalesce(p.product_name, 'product ' || o.product_id),
                          o.revenue::float8, o.units
                   FROM {SOLD} LEFT JOIN warehouse.dim_product p USING (product_id)
                   ORDER BY 3 DESC, 1 LIMIT {TOP}"""
TOP_CATEGORIES = f"""SELECT coalesce(p.category, 'unknown'), sum(o.revenue)::float8, sum(o.units)::bigint
                     FROM {SOLD} LEFT JOIN warehouse.dim_product p USING (product_id)
                     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}"""
RECENT_EVENTS = f"""(SELECT received_at, stream_event_id, event_type, event_ts, product_id, NULL::float8
                     FROM stream.web_events ORDER BY received_at DESC, stream_event_id DESC LIMIT {RECENT})
                    UNION ALL
                    (SELECT received_at, stream_event_id, 'order ' || status, order_ts, product_id, revenue::float8
                     FROM stream.order_items ORDER BY received_at DESC, stream_event_id DESC LIMIT {RECENT})
                    ORDER BY 1 DESC, 2 DESC LIMIT {RECENT}"""


def _rows(cur, where: str, params: dict) -> list:
    """The order lines and web events `where` selects, as the running totals take them."""
    cur.execute(ORDER_LINES.format(since=where), params)
    rows: list = [OrderLine._make(r) for r in cur]
    cur.execute(WEB_EVENTS.format(since=where), params)
    return rows + [WebEvent._make(r) for r in cur]


def _day_totals(cur, day) -> DayTotals:
    """The day's totals counted by SQL: a start costs about what one recount does."""
    params, totals = {"day": day}, DayTotals()
    if day is None:
        return totals
    cur.execute(DAY_ORDERS, params)
    totals.orders = {order_id for (order_id,) in cur}
    cur.execute(DAY_SESSIONS, params)
    for session_id, purchased in cur:
        totals.sessions.add(session_id)
        if purchased:
            totals.converted.add(session_id)
    cur.execute(DAY_PRODUCTS, params)
    totals.products = {product_id: [revenue, units] for product_id, revenue, units in cur}
    totals.revenue = sum((revenue for revenue, _ in totals.products.values()), Decimal(0))
    cur.execute(DAY_EVENTS, params)
    totals.events = cur.fetchone()[0]
    return totals


def _top(cur, totals: LiveTotals) -> tuple[list, list]:
    ids, revenue, units = totals.products()
    params = {"ids": ids, "revenue": revenue, "units": units}
    cur.execute(TOP_PRODUCTS, params)
    products = [{"product_id": p, "name": n, "revenue": round(r, 2), "units": u} for p, n, r, u in cur]
    cur.execute(TOP_CATEGORIES, params)
    categories = [{"category": c, "revenue": round(r, 2), "units": u} for c, r, u in cur]
    return products, categories


class LiveKpis:
    """Running totals and the snapshot they are up to date with; `compute` once per tick."""

    def __init__(self) -> None:
        self.totals = LiveTotals()
        self.seen: tuple[str, str] | None = None  # the last tick's snapshot and its xmin
        self.resets: int | None = None
        self.folded: int | None = None  # rows folded in by the last tick (None: it started over)

    def compute(self, conn) -> dict:
        """The KPIs now, read in one snapshot of the database (`conn` with no transaction open)."""
        if conn.autocommit:  # each statement would see its own snapshot: rows counted twice or never
            raise ValueError("the live KPIs need a connection outside autocommit")
        with conn.cursor() as cur:
            # one snapshot for every statement, whatever the connection's default
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(SNAPSHOT)
            snapshot, xmin, now, resets = cur.fetchone()
            if resets != self.resets:  # rows were taken away: start over from everything
                self.seen, self.resets = None, resets
            if self.seen is None:
                self.totals = LiveTotals()
            self.totals.at(now)
            if self.seen is None:
                cur.execute(recount.DAY)
                day = cur.fetchone()[0]
                minute = _rows(cur, LAST_MINUTE, {})
                self.totals.start(day, _day_totals(cur, day), minute)
                self.folded = None
            else:
                rows = _rows(cur, SINCE, {"seen": self.seen[0], "xmin": self.seen[1]})
                self.totals.add(rows)
                self.folded = len(rows)
            self.seen = (snapshot, xmin)
            products, categories = _top(cur, self.totals)
            cur.execute(RECENT_EVENTS)
            recent = [
                {"event_id": i, "kind": k, "at": t.isoformat(sep=" "), "product_id": p, "revenue": r}
                for _, i, k, t, p, r in cur
            ]
        conn.commit()
        return {
            **self.totals.figures(),
            "top_products": products,
            "top_categories": categories,
            "recent_events": recent,
        }


def compute(conn) -> dict:
    """The KPIs counted from scratch (a fresh `LiveKpis`)."""
    return LiveKpis().compute(conn)
