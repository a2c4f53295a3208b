"""The Segments page's SQL: `marts.customer_segments` (the segment champion's assignment of every
customer at each month start, `ecomm train segments`) with `marts.segment_profiles` (each segment's
name and centroid profile) and the order lines.

Each query is a pure function of a psycopg2 connection (tests run them on their own connection); the
page calls the cached wrappers below, keyed by the warehouse's last load. Every query narrows the
customers to the chosen countries (an empty tuple: all); dates and categories do not apply, as a
segment is of the customer's whole history before the month start.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomm import db
from ecomm.dashboard.filters import scope_sql
from ecomm.dashboard.source import Warehouse, cached, connection

VALUE_DAYS = 90  # value by segment: completed orders in the last this many loaded days


def members_sql(month_param: str = "as_of") -> str:
    """The assigned customers of the month start in parameter `month_param`, with their segment's
    name, in the chosen countries."""
    return f"""
SELECT s.customer_id, s.segment_id, p.segment_name
FROM marts.customer_segments s
JOIN marts.segment_profiles p USING (model_version, segment_id)
JOIN warehouse.dim_customer c USING (customer_id)
WHERE s.as_of_date = %({month_param})s AND {scope_sql(None, "c.country", None)}
"""


def _params(countries: tuple[str, ...], **more) -> dict:
    return {"countries": list(countries), **more}


def months(conn) -> list[dt.date]:
    """Every as-of month start with an assignment, oldest first (empty: no segments yet)."""
    frame = db.query_frame(conn, "SELECT DISTINCT as_of_date FROM marts.customer_segments ORDER BY 1")
    return frame["as_of_date"].tolist()


def sizes(conn, as_of: dt.date, countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """segment_id, segment_name, customers, share (of the customers segmented that month)."""
    return db.query_frame(
        conn,
        f"""SELECT segment_id, segment_name, count(*) AS customers,
                   (count(*)::float8 / sum(count(*)) OVER ()) AS share
            FROM ({members_sql()}) m GROUP BY 1, 2 ORDER BY 1""",
        _params(countries, as_of=as_of),
    )


def profiles(conn) -> pd.DataFrame:
    """segment_id, segment_name, training_share, feature, z, mean, overall_mean: each segment's most
    distinctive features (as derived from its centroid at training), in their stored order."""
    return db.query_frame(
        conn,
        """SELECT p.segment_id, p.segment_name, p.training_share, f.item ->> 'feature' AS feature,
                  (f.item ->> 'z')::float8 AS z, (f.item ->> 'mean')::float8 AS mean,
                  (f.item ->> 'overall_mean')::float8 AS overall_mean
           FROM marts.segment_profiles p
           LEFT JOIN LATERAL jsonb_array_elements(p.profile) WITH ORDINALITY AS f(item, n) ON TRUE
           ORDER BY p.segment_id, f.n""",
    )


def value(
    conn, as_of: dt.date, start: dt.date, end: dt.date, countries: tuple[str, ...] = ()
) -> pd.DataFrame:
    """segment_id, segment_name, customers, buyers, orders, revenue, avg_order_value,
    revenue_per_customer: the completed lines ordered from `start` to `end` (inclusive) by the
    customers of each segment at `as_of`. An order counts once; AOV is None without orders."""
    return db.query_frame(
        conn,
        f"""WITH members AS ({members_sql()}),
            spend AS (
                SELECT f.customer_id, sum(f.revenue) AS revenue, count(DISTINCT f.order_id) AS orders
                FROM warehouse.fact_order_items f
                WHERE f.status = 'completed' AND f.order_date BETWEEN %(start)s AND %(end)s
                  AND f.customer_id IN (SELECT customer_id FROM members)
                GROUP BY 1)
            SELECT m.segment_id, m.segment_name, count(*) AS customers,
                   count(sp.customer_id) AS buyers,
                   coalesce(sum(sp.orders), 0)::bigint AS orders,
                   coalesce(sum(sp.revenue), 0)::float8 AS revenue,
                   (sum(sp.revenue) / nullif(sum(sp.orders), 0))::float8 AS avg_order_value,
                   (coalesce(sum(sp.revenue), 0) / count(*))::float8 AS revenue_per_customer
            FROM members m LEFT JOIN spend sp USING (customer_id)
            GROUP BY 1, 2 ORDER BY 1""",
        _params(countries, as_of=as_of, start=start, end=end),
    )


def transitions(conn, before: dt.date, after: dt.date, countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """from_id, from_name, to_id, to_name, customers: the customers segmented at both month starts,
    by their segment at `before` and at `after` (pairs with no customer are left out)."""
    return db.query_frame(
        conn,
        f"""SELECT b.segment_id AS from_id, b.segment_name AS from_name,
                   a.segment_id AS to_id, a.segment_name AS to_name, count(*) AS customers
            FROM ({members_sql("before")}) b
            JOIN ({members_sql("after")}) a USING (customer_id)
            GROUP BY 1, 2, 3, 4 ORDER BY 1, 3""",
        _params(countries, before=before, after=after),
    )


def value_window(last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The last VALUE_DAYS loaded days, inclusive."""
    return last_day - dt.timedelta(days=VALUE_DAYS - 1), last_day


# --------------------------------------------------------------- cached, per warehouse and last load
@cached
def cached_months(wh: Warehouse) -> list[dt.date]:
    with connection(wh.url) as conn:
        return months(conn)


@cached
def cached_sizes(wh: Warehouse, as_of: dt.date, countries: tuple[str, ...]) -> pd.DataFrame:
    with connection(wh.url) as conn:
        return sizes(conn, as_of, countries)


@cached
def cached_profiles(wh: Warehouse) -> pd.DataFrame:
    with connection(wh.url) as conn:
        return profiles(conn)


@cached
def cached_value(wh: Warehouse, as_of: dt.date, countries: tuple[str, ...]) -> pd.DataFrame:
    with connection(wh.url) as conn:
        return value(conn, as_of, *value_window(wh.last_day), countries)


@cached
def cached_transitions(
    wh: Warehouse, before: dt.date, after: dt.date, countries: tuple[str, ...]
) -> pd.DataFrame:
    with connection(wh.url) as conn:
        return transitions(conn, before, after, countries)
