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
DENSE_CELLS = 4_000_000  # a batch's users x items counts held dense (32 MB of float64)


def candidate_union(
    generators: Sequence[Generator], user_ids, n: int, exclude_seen: bool = True
) -> pd.DataFrame:
    """(user_id, item_id, <g>_score, <g>_rank...) over the union of the generators' top n, sorted by
    user then item.

    The union is found on integer keys (each pair's sorted user and item codes): pandas outer
    merges took about a third of the listing's time outside the generators."""
    tops = [generator.recommend(user_ids, n, exclude_seen) for generator in generators]
    users, user_codes = _sorted_codes(tops, USER)
    items, item_codes = _sorted_codes(tops, ITEM)
    keys = [u * max(len(items), 1) + i for u, i in zip(user_codes, item_codes, strict=True)]
    union, positions = np.unique(np.concatenate(keys), return_inverse=True)
    out = {USER: users[union // max(len(items), 1)], ITEM: items[union % max(len(items), 1)]}
    bounds = np.cumsum([0, *(len(k) for k in keys)])
    for generator, top, lo, hi in zip(generators, tops, bounds[:-1], bounds[1:], strict=True):
        score = np.full(len(union), np.nan)
        rank = np.full(len(union), float(MISSING_RANK))
        score[positions[lo:hi]] = top[SCORE].to_numpy(float)
        rank[positions[lo:hi]] = top[RANK].to_numpy(float)
        out[f"{generator.name}_score"], out[f"{generator.name}_rank"] = score, rank
    return pd.DataFrame(out)


def _sorted_codes(tops: Sequence[pd.DataFrame], column: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The column's distinct values in sorted order, and each frame's codes into them."""
    values = pd.concat([top[column] for top in tops], ignore_index=True)
    codes, uniques = pd.factorize(values, sort=True)
    bounds = np.cumsum([0, *(len(top) for top in tops)])
    return np.asarray(uniques), [
        codes[lo:hi].astype(np.int64) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]


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
    out["user_items"] = log.user_items()[u]
    return out


def category_affinity(log: TrainingLog, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    affinity = log.cached("category_affinity", lambda: CategoryAffinity().fit(log))
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
        if counts.shape[0] * counts.shape[1] <= DENSE_CELLS:  # dense lookups: faster than sparse ones
            counts, history = counts.toarray(), history.toarray()
        pair_counts = np.asarray(counts[row_of_user, i[rows]]).ravel()
        own = np.asarray(history[row_of_user, i[rows]]).ravel() * log.item_users()[i[rows]]
        out[rows] = pair_counts - own
    return out


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in (USER, ITEM)]
