"""An imported rating or event log on the dashboard: a warehouse without a single order line
(`Warehouse.has_orders` False). What the log holds (the message the order-based pages show instead of
zero tiles and empty charts), the users to pick on the Recommendations page, and a user's history.

Ratings are `warehouse.fact_reviews` rows of no known order; events are `warehouse.fact_web_events`
(`ecomm import interactions`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ecomm.dashboard.filters import Filters, customer_name, known, scope_sql
from ecomm.dashboard.source import Warehouse, cached, read

# one row per rating or event: customer, product, day, and what it was (a rating's stars, an event's type)
INTERACTIONS = """
SELECT customer_id, product_id, review_date AS day, NULL::timestamp AS at, rating, NULL::text AS event
FROM warehouse.fact_reviews
UNION ALL
SELECT customer_id, product_id, event_date, event_ts, NULL::smallint, event_type FROM warehouse.fact_web_events
"""
EVENT_NAMES = {"view": "views", "add_to_cart": "add-to-carts", "purchase": "purchases"}


@dataclass(frozen=True)
class LogSummary:
    ratings: int
    events: dict[str, int]  # event type -> events, most first
    users: int
    items: int
    first_day: object
    last_day: object

    @property
    def noun(self) -> str:
        """What the log's rows are: 'ratings', 'events', or 'ratings and events'."""
        return " and ".join(
            n for n, rows in (("ratings", self.ratings), ("events", self.total_events)) if rows
        )

    @property
    def total_events(self) -> int:
        return sum(self.events.values())

    def describe(self) -> str:
        """e.g. '31,468 ratings by 300 users of 1,574 items, 20 Sep 1997 – 22 Apr 1998'."""
        parts = [f"{self.ratings:,} ratings"] if self.ratings else []
        if self.events:
            kinds = ", ".join(f"{n:,} {EVENT_NAMES.get(k, k)}" for k, n in self.events.items())
            parts.append(f"{self.total_events:,} events ({kinds})")
        return (
            f"{' and '.join(parts) or 'no rating or event'} by {self.users:,} users of {self.items:,} items, "
            f"{self.first_day:%d %b %Y} – {self.last_day:%d %b %Y}"
        )


@cached
def summary(wh: Warehouse) -> LogSummary:
    """The whole log: rows by kind, distinct users and items, first and last day (the warehouse's)."""
    whole = read(
        wh.url,
        f"""SELECT count(rating) AS ratings, count(DISTINCT customer_id) AS users,
                   count(DISTINCT product_id) AS items
            FROM ({INTERACTIONS}) i""",
    ).iloc[0]
    events = read(
        wh.url,
        """SELECT event_type, count(*) AS events FROM warehouse.fact_web_events
           GROUP BY 1 ORDER BY 2 DESC, 1""",
    )
    return LogSummary(
        ratings=int(whole["ratings"]),
        events=dict(zip(events["event_type"], events["events"].astype(int), strict=True)),
        users=int(whole["users"]),
        items=int(whole["items"]),
        first_day=wh.first_day,  # the warehouse's span: these same days when it holds no order
        last_day=wh.last_day,
    )


def no_orders(wh: Warehouse) -> str:
    """What an order-based page says on a rating or event log, instead of zeros and empty charts."""
    log = summary(wh)
    return (
        f"The imported data has no orders: it holds {log.describe()}. This page shows orders, so it has "
        f"nothing to show; the Recommendations page shows what the recommender learnt from the {log.noun}, "
        "and the Models page the models registered."
    )


@cached
def user_choices(wh: Warehouse, flt: Filters, limit: int = 300) -> pd.DataFrame:
    """customer_id, label, interactions: the users with the most ratings and events in the dates and
    countries (categories apply to the items), most first."""
    label = f"{customer_name('c')} || ' (' || {known('c.country')} || ')'"
    return read(
        wh.url,
        f"""SELECT i.customer_id, {label} AS label, count(*) AS interactions
            FROM ({INTERACTIONS}) i
            JOIN warehouse.dim_customer c USING (customer_id)
            LEFT JOIN warehouse.dim_product p USING (product_id)
            WHERE {scope_sql("i.day", "c.country", "p.category")}
            GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT %(limit)s""",
        flt.params() | {"limit": limit},
    )


@cached
def user_history(wh: Warehouse, customer_id: int) -> pd.DataFrame:
    """The user's ratings and events, newest first: date, time (an event's), product_id, product_name,
    rating, event (a column only when the log has that kind: a rating has a day, not a time)."""
    history = read(
        wh.url,
        f"""SELECT i.day AS date, i.at AS time, i.product_id, p.product_name, i.rating, i.event
            FROM ({INTERACTIONS}) i LEFT JOIN warehouse.dim_product p USING (product_id)
            WHERE i.customer_id = %(id)s ORDER BY coalesce(i.at, i.day) DESC, i.product_id""",
        {"id": customer_id},
    )
    return history if history.empty else history.dropna(axis="columns", how="all")
