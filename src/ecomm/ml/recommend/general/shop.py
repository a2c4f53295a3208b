"""The shop adapter: the warehouse's web events and order lines as the library's interactions frame,
and its catalog as item attributes. The shop's event weights live here, not in the library.

An imported rating log (RecData.source RATINGS) is read as order lines with their rating: each rating
is an ORDER row (so it is the re-ranker's target and excludes the item, as a purchase does) weighted
by its stars (the library's 0.5 at the log's lowest rating to 1 at its highest), dated at midnight of
its day (the warehouse keeps a review's date, not its time).

An imported event log (RecData.source EVENTS) is read as the web events it is, with the shop's
weights (view 1, cart 3, purchase 8); its chosen events (purchases, or every event in a log without
one) are the re-ranker's target and exclude the item, as order lines do in the shop."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd

from ecomm.features import columns as C
from ecomm.features import interactions as I
from ecomm.ml.recommend.dataset import EVENTS, RATINGS, RecData
from ecomm.ml.recommend.general.interactions import (
    CATEGORY,
    EVENT,
    ITEM,
    PRICE,
    RATING,
    TIMESTAMP,
    USER,
    Params,
)

ORDER = "order"  # a completed or returned order line (web "purchase" events are the checkout clicks)
# the served ALS's weights (views 1, carts 3, purchases 8), with an order line weighing as a purchase
SHOP_EVENT_WEIGHTS = {"view": 1.0, "add_to_cart": 3.0, "purchase": 8.0, ORDER: 8.0}


def shop_params(seed: int = 0, num_threads: int = 2) -> Params:
    """The library's defaults with the shop's event weights: order lines are the re-ranker's target
    and the only events that exclude an item (a viewed product stays recommendable)."""
    return Params(
        event_weights=SHOP_EVENT_WEIGHTS,
        exclude_events=(ORDER,),
        target_events=(ORDER,),
        # label_days and trees chosen by hand on seed 1's validation split (the 28 days before the
        # holdout) among label_days 14/28/56/84 and 25-200 trees; label_windows is tuned per run
        label_days=28,
        ranker_trees=50,
        popularity_window_days=28,
        seed=seed,
        num_threads=num_threads,
    )


def rec_params(data: RecData, seed: int = 0, num_threads: int = 2) -> Params:
    """shop_params, with an event log's chosen events as the target and the excluding events."""
    params = shop_params(seed=seed, num_threads=num_threads)
    if data.source == EVENTS:
        return replace(params, exclude_events=data.chosen_events, target_events=data.chosen_events)
    return params


def shop_interactions(conn, end: date, start: date | None = None) -> pd.DataFrame:
    """user_id, item_id, event, timestamp of the web events and order lines dated in [start, end)."""
    web = I.web_events(conn, start, end).rename(
        columns={C.CUSTOMER_ID: USER, C.PRODUCT_ID: ITEM, "event_type": EVENT, "event_ts": TIMESTAMP}
    )
    orders = I.order_lines(conn, start, end).rename(
        columns={C.CUSTOMER_ID: USER, C.PRODUCT_ID: ITEM, "order_ts": TIMESTAMP}
    )
    frame = pd.concat([web, orders.assign(**{EVENT: ORDER})], ignore_index=True)
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame[[USER, ITEM, EVENT, TIMESTAMP]].sort_values(TIMESTAMP, kind="stable").reset_index(drop=True)


def event_interactions(conn, end: date, start: date | None = None) -> pd.DataFrame:
    """user_id, item_id, event, timestamp of the web events dated in [start, end) (an event log)."""
    frame = I.web_events(conn, start, end).rename(
        columns={C.CUSTOMER_ID: USER, C.PRODUCT_ID: ITEM, "event_type": EVENT, "event_ts": TIMESTAMP}
    )
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame[[USER, ITEM, EVENT, TIMESTAMP]].reset_index(drop=True)


def rating_interactions(conn, end: date, start: date | None = None) -> pd.DataFrame:
    """user_id, item_id, event (ORDER), rating, timestamp of the imported ratings dated in [start, end)."""
    frame = I.ratings(conn, start, end).rename(
        columns={C.CUSTOMER_ID: USER, C.PRODUCT_ID: ITEM, "review_date": TIMESTAMP}
    )
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame.assign(**{EVENT: ORDER})[[USER, ITEM, EVENT, RATING, TIMESTAMP]]


def shop_items(conn, end: date) -> pd.DataFrame:
    """item_id, category, price of the products launched before `end`."""
    products = I.product_prices(conn, end)
    return products.rename(columns={C.PRODUCT_ID: ITEM, C.CATEGORY: CATEGORY, "list_price": PRICE})


def from_rec_data(conn, data: RecData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items) over the served recommender's training window (before data.train_end).

    RecData holds counts per (customer, product) without timestamps; recency needs the event rows,
    so they are read again from the warehouse for the same window (the ratings of a rating log, the
    web events of an event log).
    """
    read = {RATINGS: rating_interactions, EVENTS: event_interactions}.get(data.source, shop_interactions)
    return read(conn, data.train_end), shop_items(conn, data.train_end)
