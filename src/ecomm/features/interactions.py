"""Point-in-time inputs of the recommender, SQL over the warehouse: every builder takes a date window
[start, end) and reads only rows dated inside it (dimension rows: created before `end`)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C


def in_window(date_column: str) -> str:
    """The SQL condition "date_column in [%(start)s, %(end)s)", start NULL meaning unbounded."""
    return f"{date_column} < %(end)s AND (%(start)s::date IS NULL OR {date_column} >= %(start)s::date)"


def web_interactions(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, views, carts, purchases: web events on products in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id,
                  count(*) FILTER (WHERE event_type = 'view')::float8        AS views,
                  count(*) FILTER (WHERE event_type = 'add_to_cart')::float8 AS carts,
                  count(*) FILTER (WHERE event_type = 'purchase')::float8    AS purchases
           FROM warehouse.fact_web_events
           WHERE product_id IS NOT NULL AND {in_window("event_date")}
           GROUP BY customer_id, product_id
           ORDER BY customer_id, product_id""",
        {"start": start, "end": end},
    )


def purchases(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, lines: completed (not cancelled) order lines in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, count(*)::float8 AS lines
           FROM warehouse.fact_order_items
           WHERE status <> 'cancelled' AND {in_window("order_date")}
           GROUP BY customer_id, product_id
           ORDER BY customer_id, product_id""",
        {"start": start, "end": end},
    )


def reviews(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, rating (the latest review of the pair) written in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT DISTINCT ON (customer_id, product_id) customer_id, product_id, rating::float8 AS rating
           FROM warehouse.fact_reviews
           WHERE {in_window("review_date")}
           ORDER BY customer_id, product_id, review_date DESC, review_id DESC""",
        {"start": start, "end": end},
    )


def catalog(conn, end: date) -> pd.DataFrame:
    """product_id, category, launch_date of the products launched before `end`."""
    return query_frame(
        conn,
        f"""SELECT product_id, category AS {C.CATEGORY}, launch_date AS {C.LAUNCH_DATE}
            FROM warehouse.dim_product WHERE launch_date < %(end)s ORDER BY product_id""",
        {"end": end},
    )


def customers(conn, end: date) -> pd.DataFrame:
    """customer_id, country of the customers signed up before `end`."""
    return query_frame(
        conn,
        f"""SELECT customer_id, country AS {C.COUNTRY} FROM warehouse.dim_customer
            WHERE signup_date < %(end)s ORDER BY customer_id""",
        {"end": end},
    )


def web_events(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, event_type, event_ts: one row per web event on a product in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, event_type, event_ts
           FROM warehouse.fact_web_events
           WHERE product_id IS NOT NULL AND {in_window("event_date")}
           ORDER BY event_ts, event_id""",
        {"start": start, "end": end},
    )


def order_lines(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, order_ts: one row per completed or returned order line in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, order_ts
           FROM warehouse.fact_order_items
           WHERE status <> 'cancelled' AND {in_window("order_date")}
           ORDER BY order_ts, order_id, line_no""",
        {"start": start, "end": end},
    )


def product_prices(conn, end: date) -> pd.DataFrame:
    """product_id, category, list_price of the products launched before `end`."""
    return query_frame(
        conn,
        f"""SELECT product_id, category AS {C.CATEGORY}, list_price::float8 AS list_price
            FROM warehouse.dim_product WHERE launch_date < %(end)s ORDER BY product_id""",
        {"end": end},
    )


# An imported rating log (`ecomm import interactions` with a rating column) is reviews of no known
# order: a rating says the customer chose the product (watched, read, bought it), so to the
# recommender it is what an order line is to the shop.
def rated(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, lines: the ratings of no known order per pair, rated in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, count(*)::float8 AS lines
           FROM warehouse.fact_reviews
           WHERE order_id IS NULL AND {in_window("review_date")}
           GROUP BY customer_id, product_id
           ORDER BY customer_id, product_id""",
        {"start": start, "end": end},
    )


def ratings(conn, start: date | None, end: date) -> pd.DataFrame:
    """customer_id, product_id, rating, review_date: one row per rating of no known order in
    [start, end), in the log's order (the import numbers them by time)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, rating::float8 AS rating, review_date
           FROM warehouse.fact_reviews
           WHERE order_id IS NULL AND {in_window("review_date")}
           ORDER BY review_date, review_id""",
        {"start": start, "end": end},
    )


# An imported event log (`ecomm import interactions` with an event column: web events and not one
# order line): its purchase events (every event, in a log without purchases) are what order lines
# are to the shop (ecomm.ml.recommend.dataset.event_log_choices).
def chosen_events(conn, start: date | None, end: date, events: tuple[str, ...]) -> pd.DataFrame:
    """customer_id, product_id, lines: the web events of kinds `events` on products per pair in [start, end)."""
    return query_frame(
        conn,
        f"""SELECT customer_id, product_id, count(*)::float8 AS lines
           FROM warehouse.fact_web_events
           WHERE product_id IS NOT NULL AND event_type = ANY(%(events)s) AND {in_window("event_date")}
           GROUP BY customer_id, product_id
           ORDER BY customer_id, product_id""",
        {"start": start, "end": end, "events": list(events)},
    )
