"""The recommender's monitored population: the customers it would serve and what it recommends them.

A recommender has no feature table: its inputs are the customers who come back and their histories,
its output a list. So one row per customer who bought in the WINDOW_DAYS before the cutoff (those
likely to ask for recommendations), with
* `history_items`: the distinct products they bought before the cutoff (their history's length),
* `known_customer`: whether the version has a list for them (False: the labelled cold start; the
  share grows as new customers arrive after the version was trained),
* `top_category`: the category of their first recommendation,
* `list_popularity_rank`: the median popularity rank (1 = the version's best seller) of their top K,
and as the prediction the first recommendation's score (the re-ranker's for a customer with a list,
the cold start's popularity score otherwise). Not its confidence: the served confidence is a
function of the rank and of whether the item is personal, so at rank 1 it takes two values and
its PSI stays 0 whatever happens.
Per customer rather than per recommended item: the KS and chi-squared tests assume independent rows,
and the K items of one list are not. The reference is this population at the version's training end
(ml.recommend.train); daily, at the day after the business date (monitoring.models).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ecomm.db import query_frame
from ecomm.ml.recommend.dataset import EVENTS, RATINGS, SHOP, choice_source

WINDOW_DAYS = 28
K = 10
CATEGORICAL = ["known_customer", "top_category"]
COLUMNS = ["history_items", "known_customer", "top_category", "list_popularity_rank"]


# the customers' purchases: the shop's completed lines, an imported rating log's ratings or an imported
# event log's chosen events (a rating or a chosen event is the customer's choice of the product, as in
# ecomm.ml.recommend.dataset)
CHOICES = {
    SHOP: ("warehouse.fact_order_items", "order_date", "f.status <> 'cancelled'"),
    RATINGS: ("warehouse.fact_reviews", "review_date", "f.order_id IS NULL"),
    EVENTS: (
        "warehouse.fact_web_events",
        "event_date",
        "f.event_type = ANY(%(events)s) AND f.product_id IS NOT NULL",
    ),
}


def recent_buyers(conn, cutoff: dt.date) -> pd.DataFrame:
    """customer_id, country, history_items of the customers with a completed line (a rating, in a
    rating log; a chosen event, in an event log) in the WINDOW_DAYS before `cutoff` (history: their
    distinct products bought before `cutoff`)."""
    choices = choice_source(conn)
    table, day, kept = CHOICES[choices.source]
    return query_frame(
        conn,
        f"""SELECT f.customer_id, c.country, count(DISTINCT f.product_id)::float8 AS history_items
           FROM {table} f JOIN warehouse.dim_customer c USING (customer_id)
           WHERE {kept} AND f.{day} < %(cutoff)s
           GROUP BY f.customer_id, c.country
           HAVING max(f.{day}) >= %(start)s
           ORDER BY f.customer_id""",
        {"cutoff": cutoff, "start": cutoff - dt.timedelta(days=WINDOW_DAYS), "events": list(choices.events)},
    )


def popularity_ranks(state: dict) -> np.ndarray:
    """Per catalog position of the version (state item_ids), its rank by the version's overall
    popularity (1 = most popular; ties share the best rank)."""
    return pd.Series(-np.asarray(state["global_popularity"], dtype=float)).rank(method="min").to_numpy()


def list_summary(model, buyers: pd.DataFrame) -> pd.DataFrame:
    """Per customer of `buyers`: top_category, list_popularity_rank and the first item's score."""
    from ecomm.ml.serving import RANK, SCORE

    request = pd.DataFrame(
        {"customer_id": buyers["customer_id"].astype(np.int64), "k": K, "country": buyers["country"]}
    )
    out = model.predict(None, request).sort_values(["customer_id", RANK], kind="stable")
    state = model.state
    pos = np.searchsorted(state["item_ids"], out["product_id"].to_numpy(np.int64))
    out = out.assign(
        category=np.asarray(state["item_category"])[pos],
        popularity_rank=popularity_ranks(state)[pos],
    )
    per_customer = out.groupby("customer_id", sort=True)
    return pd.DataFrame(
        {
            "top_category": per_customer["category"].first(),
            "list_popularity_rank": per_customer["popularity_rank"].median(),
            "score": per_customer[SCORE].first(),
        }
    )


def recommendation_population(model, conn, cutoff: dt.date) -> tuple[pd.DataFrame, pd.Series]:
    """The recent buyers at `cutoff` as the recommender `model` (a RecommenderPyfunc) serves them:
    their COLUMNS and the first recommendation's score."""
    buyers = recent_buyers(conn, cutoff)
    if buyers.empty:
        return pd.DataFrame({c: [] for c in COLUMNS}), pd.Series([], dtype=float, name="score")
    lists = list_summary(model, buyers).reindex(buyers["customer_id"].to_numpy())
    known = np.isin(buyers["customer_id"].to_numpy(np.int64), model.state["user_ids"])
    features = pd.DataFrame(
        {
            "history_items": buyers["history_items"].to_numpy(),
            "known_customer": known,
            "top_category": lists["top_category"].to_numpy(),
            "list_popularity_rank": lists["list_popularity_rank"].to_numpy(),
        }
    )
    return features, pd.Series(lists["score"].to_numpy(), name="score")
