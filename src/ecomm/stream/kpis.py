"""The live KPIs, kept up to date incrementally by the one producer (`LiveKpis.compute` per tick).

"The day" is the day of the latest event time streamed (the business date being replayed), so the
day-so-far figures are that date's events; "the last minute" is by wall clock (`received_at`, when
the events' micro-batch committed). Orders and revenue count completed lines (as the warehouse's
daily sales do); conversion is the share of sessions with a purchase event.

Each tick reads, in one snapshot (REPEATABLE READ), only the rows stored by transactions its last
snapshot did not see (`txid`, revision 0022), folds them into running totals (`ecomm.stream.totals`)
and names the top products and categories from the day's per-product totals: a tick costs what
arrived since the last one, not the day. When stream rows were deleted or updated since
(`stream.live_resets` moved: the nightly prune) it counts everything again.
"""

from __future__ import annotations

from ecomm.stream.totals import LiveTotals, OrderLine, WebEvent

TOP = 5
RECENT = 10

SNAPSHOT = """SELECT pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text, now(),
                     (SELECT resets FROM stream.live_resets)"""
# rows whose transaction the last tick's snapshot did not see (all of them before any tick)
SINCE = "WHERE txid >= %(xmin)s::xid8 AND NOT pg_visible_in_snapshot(txid, %(seen)s::pg_snapshot)"
ORDER_LINES = """SELECT received_at, order_ts::date, order_id, status, product_id, quantity, revenue
                 FROM stream.order_items {since}"""
WEB_EVENTS = "SELECT received_at, event_ts::date, session_id, event_type FROM stream.web_events {since}"
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


def _new_rows(cur, seen: tuple[str, str] | None) -> list:
    """The stream rows stored since snapshot `seen` ((snapshot, its xmin)), or all when None."""
    since, params = ("", {}) if seen is None else (SINCE, {"seen": seen[0], "xmin": seen[1]})
    cur.execute(ORDER_LINES.format(since=since), params)
    rows: list = [OrderLine._make(r) for r in cur]
    cur.execute(WEB_EVENTS.format(since=since), params)
    rows += [WebEvent._make(r) for r in cur]
    return rows


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
        self.folded = 0  # rows folded in by the last tick (what it cost)

    def compute(self, conn) -> dict:
        """The KPIs now, read in one snapshot of the database (`conn` with no transaction open)."""
        with conn.cursor() as cur:
            # one snapshot for every statement, whatever the connection's default
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute(SNAPSHOT)
            snapshot, xmin, now, resets = cur.fetchone()
            if resets != self.resets:  # rows were taken away: start over from everything
                self.totals, self.seen, self.resets = LiveTotals(), None, resets
            self.totals.at(now)
            rows = _new_rows(cur, self.seen)
            self.totals.add(rows)
            self.seen, self.folded = (snapshot, xmin), len(rows)
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
