"""Candidate features for the re-ranker: the union of every generator's candidates with each one's
score and rank, and item and user-item features, all computed from one TrainingLog (so from rows
before whatever the log's end is).

    <generator>_score  the generator's score; nan where it did not propose the item (LightGBM routes
                       missing values itself, and no number means "not proposed" on every scale)
    <generator>_rank   its rank; MISSING_RANK where it did not propose the item
    item_users, item_recent_users   distinct users of the item all-time / over the popularity window
    item_days_since_last            days from the item's last interaction to the log's end (nan: new)
    price                           when the item attributes carry one
    category_affinity               the user's share of weight in the item's category (0 without)
    cooccurrence                    sum over the user's items j of the users who had both j and the item
    user_items                      the number of items in the user's history
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecomm.ml.recommend.general.candidates import RANK, SCORE, CategoryAffinity, Generator
from ecomm.ml.recommend.general.interactions import ITEM, PRICE, USER
from ecomm.ml.recommend.general.log import TrainingLog

MISSING_RANK = 1_000  # above any candidates_per_generator used
COOCCURRENCE_BATCH = 512


def candidate_union(
    generators: Sequence[Generator], user_ids, n: int, exclude_seen: bool = True
) -> pd.DataFrame:
    """(user_id, item_id, <g>_score, <g>_rank...) over the union of the generators' top n."""
    merged = None
    for generator in generators:
        top = generator.recommend(user_ids, n, exclude_seen).rename(
            columns={SCORE: f"{generator.name}_score", RANK: f"{generator.name}_rank"}
        )
        merged = top if merged is None else merged.merge(top, on=[USER, ITEM], how="outer")
    for generator in generators:
        merged[f"{generator.name}_rank"] = merged[f"{generator.name}_rank"].fillna(MISSING_RANK)
    return merged.sort_values([USER, ITEM], kind="stable").reset_index(drop=True)


def add_features(log: TrainingLog, candidates: pd.DataFrame) -> pd.DataFrame:
    """The candidates with the item and user-item features above (users must have history)."""
    u = log.user_codes(candidates[USER])
    i = log.item_ids.get_indexer(candidates[ITEM])
    out = candidates.copy()
    out["item_users"] = log.item_users()[i]
    out["item_recent_users"] = log.recent_item_users(log.params.popularity_window_days)[i]
    out["item_days_since_last"] = log.days_since_last()[i]
    prices = log.prices()
    if prices is not None:
        out[PRICE] = prices[i]
    out["category_affinity"] = category_affinity(log, u, i)
    out["cooccurrence"] = cooccurrence(log, u, i)
    out["user_items"] = np.asarray(log.seen.sum(axis=1)).ravel()[u]
    return out


def category_affinity(log: TrainingLog, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    affinity = CategoryAffinity().fit(log)
    if not affinity.available:
        return np.zeros(len(u))
    users, inverse = np.unique(u, return_inverse=True)
    return affinity.user_affinity(users)[inverse, i]


def cooccurrence(log: TrainingLog, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Per (user, item) pair: sum over the user's items j != item of the users who had both j and item.

    history @ (item x item co-users), the matrix computed once per log; for a catalog too big for it,
    (history x users) @ (users x items), the same counts without forming it. The j = item term (the
    item's own users) is taken off.
    """
    co_users = log.item_cooccurrence()
    out = np.zeros(len(u))
    order = np.argsort(u, kind="stable")
    users = np.unique(u)
    for start in range(0, len(users), COOCCURRENCE_BATCH):  # bounds the history x users product
        batch = users[start : start + COOCCURRENCE_BATCH]
        rows = order[np.isin(u[order], batch)]
        row_of_user = np.searchsorted(batch, u[rows])
        history = log.seen[batch]
        counts = history @ co_users if co_users is not None else (history @ log.seen.T) @ log.seen
        pair_counts = np.asarray(counts[row_of_user, i[rows]]).ravel()
        own = np.asarray(history[row_of_user, i[rows]]).ravel() * log.item_users()[i[rows]]
        out[rows] = pair_counts - own
    return out


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (USER, ITEM)]
