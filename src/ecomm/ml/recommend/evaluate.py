"""Recommender evaluation stage: top-k lists of a model, the popularity baseline and the oracle on the
same holdout users, and their ranking metrics (with novelty when the training item counts are given).

Evaluated users: every customer with a relevant holdout item (`dataset.relevant_items`); customers
without training interactions are served by the model's cold-start fallback and also reported on
their own (cold_*). Popularity: the most bought products of the last weeks of training, the
customer's purchases excluded (on a rating log: the most rated, and over the whole training window
as POPULARITY_ALL). Oracle: the customer's true consideration set (truth schema) ranked
by true score, restricted to the training catalog, purchases excluded - the ceiling of this split.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ecomm.features import columns as C
from ecomm.ml.metrics import novelty, ranking_metrics
from ecomm.ml.recommend.dataset import RecData, relevant_items, true_preferences
from ecomm.ml.serving import RecommenderPyfunc

MODEL, POPULARITY, ORACLE = "model", "popularity", "oracle"
POPULARITY_ALL = "popularity_all"  # a rating log's second popularity baseline: the whole training window
K = 10


def model_lists(model, users: list[int], countries: dict[int, str], k: int = K) -> dict[int, list[int]]:
    """Top-k product ids per user from a recommender pyfunc (a RecommenderPyfunc or a loaded model)."""
    if not users:
        return {}
    frame = pd.DataFrame(
        {
            C.CUSTOMER_ID: np.asarray(users, dtype=np.int64),
            "k": np.full(len(users), k, dtype=np.int64),
            C.COUNTRY: [countries.get(u, "") for u in users],
        }
    )
    out = model.predict(None, frame) if isinstance(model, RecommenderPyfunc) else model.predict(frame)
    out = out.sort_values([C.CUSTOMER_ID, "rank"])
    lists = {int(u): g[C.PRODUCT_ID].astype(int).tolist() for u, g in out.groupby(C.CUSTOMER_ID)}
    return {u: lists.get(u, []) for u in users}


def _bought_by_user(data: RecData) -> dict[int, set[int]]:
    return {int(u): set(g[C.PRODUCT_ID].astype(int)) for u, g in data.bought.groupby(C.CUSTOMER_ID)}


def popularity_lists(data: RecData, users: list[int], k: int = K) -> dict[int, list[int]]:
    counts = data.recent.groupby(C.PRODUCT_ID)["lines"].sum()
    counts = counts[counts.index.isin(data.catalog[C.PRODUCT_ID])]
    ranked = counts.sort_values(ascending=False, kind="stable").index.astype(int).tolist()
    bought = _bought_by_user(data)
    out = {}
    for u in users:
        seen = bought.get(u, set())
        out[u] = [i for i in ranked[: k + len(seen)] if i not in seen][:k]
    return out


def whole_window_popularity_lists(data: RecData, users: list[int], k: int = K) -> dict[int, list[int]]:
    """Popularity over the whole training window (a rating log's second baseline), the customer's
    ratings excluded."""
    return popularity_lists(replace(data, recent=data.bought), users, k)


def oracle_lists(conn, data: RecData, users: list[int], k: int = K) -> dict[int, list[int]]:
    truth = true_preferences(conn, users)
    truth = truth[truth[C.PRODUCT_ID].isin(data.catalog[C.PRODUCT_ID])]
    bought = _bought_by_user(data)
    out = {}
    for u, g in truth.groupby(C.CUSTOMER_ID):
        seen = bought.get(int(u), set())
        out[int(u)] = [int(i) for i in g.sort_values("true_rank")[C.PRODUCT_ID] if int(i) not in seen][:k]
    return {u: out.get(u, []) for u in users}


def evaluate_lists(
    lists: dict[str, dict[int, list[int]]],
    relevant: dict[int, set[int]],
    warm: set[int],
    catalog_size: int,
    k: int = K,
    *,
    item_users: dict | None = None,
    n_users: int = 0,
) -> dict[str, dict[str, float]]:
    """Ranking metrics per recommender: all users, then warm-only and cold-only (prefixed); novelty
    when item_users (training users per product) and n_users (training users) are given."""
    out = {}
    for name, recs in lists.items():
        metrics = ranking_metrics(recs, relevant, k, catalog_size)
        if item_users is not None and n_users:
            metrics["novelty"] = novelty(recs, item_users, n_users, k)
        for part, users in (("warm", warm), ("cold", set(relevant) - warm)):
            sub = {u: r for u, r in relevant.items() if u in users}
            if sub:
                m = ranking_metrics({u: recs.get(u, []) for u in sub}, sub, k)
                metrics[f"{part}_ndcg_at_{k}"] = m[f"ndcg_at_{k}"]
                metrics[f"{part}_users"] = m["users"]
        out[name] = metrics
    return out


def holdout_users(data: RecData) -> tuple[list[int], dict[int, set[int]], dict[int, str]]:
    relevant = relevant_items(data)
    users = sorted(relevant)
    countries = dict(
        zip(data.customers[C.CUSTOMER_ID].astype(int), data.customers[C.COUNTRY].astype(str), strict=True)
    )
    return users, relevant, countries
