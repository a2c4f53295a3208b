"""Recommender data stage: a temporal split (train before `train_end`, holdout [train_end, holdout_end)),
the relevant items of the holdout, and (for evaluation only) the generator's true preferences.

Two sources: the shop (order lines and web events) and, when the warehouse holds nothing but an
imported rating log (reviews of no known order, not one order line or web event), the ratings: a
rating is the customer's choice of the product, so it takes the order line's place everywhere (what
was "bought", the holdout's relevant items, popularity), over the same split. And when it holds an
imported event log (web events, not one order line), its purchase events take that place, or, in a
log without a single purchase, every event (a view is then the strongest sign of choice the log
has); views and carts keep the shop's weights in training."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

import pandas as pd

from ecomm.db import query_frame
from ecomm.features import columns as C
from ecomm.features import interactions as I
from ecomm.features.churn import FeatureError, WarehouseSpan, warehouse_span

HOLDOUT_DAYS = 28
POPULARITY_DAYS = 56
SHOP, RATINGS, EVENTS = "shop", "ratings", "events"  # RecData.source
EVENT_TYPES = ("view", "add_to_cart", "purchase")  # the contract's web events
PURCHASES = "purchases"  # RecData.choice_kind: order lines, or an event log's purchase events
# per RecData.choice_kind, in messages: (what a relevant holdout item is to its customer, what the
# holdout customers have new of)
CHOICE_WORDS = {
    PURCHASES: ("bought", "purchases"),
    RATINGS: ("rated", "ratings"),
    EVENTS: ("had an event on", "events"),
}


@dataclass
class RecData:
    train_end: date  # the first holdout day; training reads rows before it
    holdout_end: date  # the day after the last holdout day
    interactions: pd.DataFrame  # customer_id, product_id, views, carts, purchases (training window)
    bought: pd.DataFrame  # customer_id, product_id, lines: completed lines (training window)
    recent: pd.DataFrame  # the same over the last POPULARITY_DAYS of the training window
    reviews: pd.DataFrame  # customer_id, product_id, rating (training window)
    holdout_reviews: pd.DataFrame
    holdout_bought: pd.DataFrame
    catalog: pd.DataFrame  # product_id, category, launch_date: launched before train_end
    train_customers: pd.DataFrame  # customer_id, country: signed up before train_end (the model's)
    customers: pd.DataFrame  # customer_id, country: signed up before holdout_end (evaluation inputs)
    # SHOP, or RATINGS: bought / recent / holdout_bought are ratings, or EVENTS: they are the
    # web events of kinds `chosen_events`
    source: str = SHOP
    chosen_events: tuple[str, ...] = ()

    def describe(self) -> dict:
        return {
            "train_end": self.train_end.isoformat(),
            "holdout_start": self.train_end.isoformat(),
            "holdout_last_day": (self.holdout_end - timedelta(days=1)).isoformat(),
            "train_interaction_pairs": len(self.interactions),
            "catalog_size": len(self.catalog),
            **({"interactions": "imported ratings"} if self.source == RATINGS else {}),
            **({"interactions": f"imported events, {self.events_chosen}"} if self.source == EVENTS else {}),
        }

    @property
    def events_chosen(self) -> str:
        """Which events of an event log play the order line's role, in messages."""
        if self.chosen_events == ("purchase",):
            return "purchases as orders"
        return "every event as an order (the log holds no purchase)"

    @property
    def choice_kind(self) -> str:
        """What plays the order line's role: PURCHASES (the shop's order lines or an event log's
        purchase events), RATINGS, or EVENTS (every event of a log without a purchase)."""
        if self.source == EVENTS and self.chosen_events != ("purchase",):
            return EVENTS
        return RATINGS if self.source == RATINGS else PURCHASES

    @property
    def choices(self) -> str:
        """What the holdout customers have new of, in messages."""
        return CHOICE_WORDS[self.choice_kind][1]

    @property
    def chose(self) -> str:
        """What a relevant holdout item is to its customer, in messages."""
        return CHOICE_WORDS[self.choice_kind][0]


def split_dates(
    span: WarehouseSpan, holdout_days: int, train_end: date | None = None, holdout_end: date | None = None
) -> tuple[date, date]:
    """(train_end, holdout_end) of the temporal split; by default the last `holdout_days` loaded
    days are the holdout. Raises FeatureError when the span is too short."""
    if train_end is None:
        train_end = span.last_day - timedelta(days=holdout_days - 1)
    holdout_end = holdout_end or min(
        train_end + timedelta(days=holdout_days), span.last_day + timedelta(days=1)
    )
    if train_end - span.first_day < timedelta(days=holdout_days):
        raise FeatureError(
            f"the warehouse holds {span.first_day} .. {span.last_day}: too short for a {holdout_days}-day "
            "recommender holdout after as many days of training history"
        )
    return train_end, holdout_end


def rating_log_span(conn) -> WarehouseSpan | None:
    """The days of the imported ratings when the warehouse is a rating log (ratings of no known order,
    and not one order line or web event); None otherwise (the shop's span is warehouse_span's)."""
    shop = query_frame(
        conn,
        """SELECT EXISTS (SELECT 1 FROM warehouse.fact_order_items)
                  OR EXISTS (SELECT 1 FROM warehouse.fact_web_events) AS shop""",
    ).iloc[0, 0]
    if shop:  # the shop's reviews are not read at all
        return None
    frame = query_frame(
        conn,
        """SELECT min(batch_date) AS first_day, max(batch_date) AS last_day
           FROM warehouse.fact_reviews WHERE order_id IS NULL""",
    )
    first, last = frame.iloc[0]
    if first is None or pd.isna(first):
        return None
    return WarehouseSpan(first, last)


def event_log_choices(conn) -> tuple[str, ...] | None:
    """The web events that take the order line's place when the warehouse is an imported event log
    (web events on products and not one order line): ("purchase",) when the log holds a purchase
    event, else every event kind (a log of views and carts: its events are all it says of choice);
    None otherwise (the shop, a transaction log, a rating log). Decided on the whole log, as its
    kind is: whether the log records purchases at all."""
    frame = query_frame(
        conn,
        """SELECT EXISTS (SELECT 1 FROM warehouse.fact_order_items) AS orders,
                  EXISTS (SELECT 1 FROM warehouse.fact_web_events WHERE product_id IS NOT NULL) AS events,
                  EXISTS (SELECT 1 FROM warehouse.fact_web_events
                          WHERE product_id IS NOT NULL AND event_type = 'purchase') AS purchases""",
    ).iloc[0]
    if frame["orders"] or not frame["events"]:
        return None
    return ("purchase",) if frame["purchases"] else EVENT_TYPES


@dataclass(frozen=True)
class ChoiceSource:
    """What stands for a customer's choice of a product in this warehouse."""

    source: str  # SHOP, RATINGS or EVENTS (RecData.source)
    events: tuple[str, ...] = ()  # EVENTS: the web events that count as a choice (event_log_choices)
    ratings_span: WarehouseSpan | None = None  # RATINGS: the ratings' days (rating_log_span)


def choice_source(conn) -> ChoiceSource:
    """The shop's order lines, an imported rating log's ratings or an imported event log's chosen events."""
    ratings_span = rating_log_span(conn)
    if ratings_span is not None:
        return ChoiceSource(RATINGS, ratings_span=ratings_span)
    events = event_log_choices(conn)
    return ChoiceSource(SHOP) if events is None else ChoiceSource(EVENTS, events=events)


def load_rec_data(
    conn, *, holdout_days: int = HOLDOUT_DAYS, train_end: date | None = None, holdout_end: date | None = None
) -> RecData:
    """The split of the warehouse: by default the last `holdout_days` loaded days are the holdout.
    A rating log's ratings, or an event log's chosen events (event_log_choices), take the order
    lines' place (bought, recent, holdout_bought)."""
    choices = choice_source(conn)
    span = choices.ratings_span or warehouse_span(conn)
    train_end, holdout_end = split_dates(span, holdout_days, train_end, holdout_end)
    chosen = {
        RATINGS: I.rated,
        EVENTS: partial(I.chosen_events, events=choices.events),
        SHOP: I.purchases,
    }[choices.source]
    return RecData(
        train_end=train_end,
        holdout_end=holdout_end,
        interactions=I.web_interactions(conn, None, train_end),
        bought=chosen(conn, None, train_end),
        recent=chosen(conn, train_end - timedelta(days=POPULARITY_DAYS), train_end),
        reviews=I.reviews(conn, None, train_end),
        holdout_reviews=I.reviews(conn, train_end, holdout_end),
        holdout_bought=chosen(conn, train_end, holdout_end),
        catalog=I.catalog(conn, train_end),
        train_customers=I.customers(conn, train_end),
        customers=I.customers(conn, holdout_end),
        source=choices.source,
        chosen_events=choices.events,
    )


def require_recommendable(data: RecData) -> None:
    """FeatureError (a model skipped with its reason) when `data` cannot train or judge a recommender:
    a one-product catalog (an imported log without product ids) leaves nothing to rank, and a holdout
    where nobody bought a product new to them leaves nothing to score a ranking against."""
    if len(data.catalog) < 2:
        raise FeatureError(
            f"no product ids: the catalog holds {len(data.catalog)} product(s) before {data.train_end} "
            "(a log without a product column is one product 'unknown'): nothing to recommend"
        )
    if not relevant_items(data):
        last = data.holdout_end - timedelta(days=1)
        raise FeatureError(
            f"no customer {data.chose} a product new to them in {data.train_end} .. {last}: no holdout to "
            "judge a recommender on"
        )


def relevant_items(data: RecData) -> dict[int, set[int]]:
    """Per customer: products bought (rated, in a rating log) in the holdout that are in the training
    catalog and that the customer had not bought before (recommendations exclude those, so they
    cannot be hits)."""
    hold = data.holdout_bought[data.holdout_bought[C.PRODUCT_ID].isin(data.catalog[C.PRODUCT_ID])]
    before = data.bought[[C.CUSTOMER_ID, C.PRODUCT_ID]].assign(_seen=True)
    hold = hold.merge(before, on=[C.CUSTOMER_ID, C.PRODUCT_ID], how="left")
    hold = hold[hold["_seen"].isna()]
    return {int(u): set(g[C.PRODUCT_ID].astype(int)) for u, g in hold.groupby(C.CUSTOMER_ID)}


def has_truth(conn) -> bool:
    """Whether the warehouse holds the generator's true preferences (an imported log has none)."""
    return bool(query_frame(conn, "SELECT EXISTS (SELECT 1 FROM truth.customer_preference) AS t").iloc[0, 0])


def true_preferences(conn, customer_ids: list[int]) -> pd.DataFrame:
    """customer_id, product_id, true_score, true_rank (evaluation only, never features)."""
    return query_frame(
        conn,
        """SELECT customer_id, product_id, true_score, true_rank FROM truth.customer_preference
           WHERE customer_id = ANY(%(ids)s) ORDER BY customer_id, true_rank""",
        {"ids": list(map(int, customer_ids))},
    )
