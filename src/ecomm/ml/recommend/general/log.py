"""A validated interactions frame turned into what the generators read: contiguous user and item
codes (ids may be strings or ints), the weighted user x item matrix, and per-item statistics."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from ecomm.ml.recommend.general.interactions import (
    CATEGORY,
    DAY,
    ITEM,
    PRICE,
    TIMESTAMP,
    USER,
    Params,
    row_weights,
    rows_with_events,
    validate_interactions,
    validate_items,
)

MAX_COOCCURRENCE_PAIRS = 25_000_000  # about 200 MB as a float32 CSR matrix


@dataclass
class TrainingLog:
    frame: pd.DataFrame  # validated interactions
    items: pd.DataFrame | None  # validated item attributes, or None
    params: Params
    as_of: pd.Timestamp  # the last timestamp of the log: "now" for recency
    users: pd.Index  # user id by code
    item_ids: pd.Index  # item id by code: interacted items, then attribute-only (new) items
    weights: csr_matrix  # user x item sum of row weights
    seen: csr_matrix  # user x item 1 where the user interacted
    excluded: csr_matrix  # user x item 1 where the user had one of Params.exclude_events
    _cooccurrence: csr_matrix | None = field(default=None, init=False, repr=False)
    # per-item and per-user statistics, computed once: every batch of listed users reads them
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def cached(self, key, compute):
        """compute() the first time per key, then the same value (an array is made read-only: the
        log's statistics are shared by every caller)."""
        if key not in self._cache:
            value = compute()
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
            self._cache[key] = value
        return self._cache[key]

    def user_codes(self, ids) -> np.ndarray:
        """Codes of the given user ids, -1 for users without history."""
        return self.users.get_indexer(pd.Index(list(ids)))

    def item_users(self) -> np.ndarray:
        """Per item, the number of distinct users who interacted with it (all-time popularity)."""
        return self.cached("item_users", lambda: np.asarray(self.seen.sum(axis=0)).ravel())

    def user_items(self) -> np.ndarray:
        """Per user, the number of distinct items in their history."""
        return self.cached("user_items", lambda: np.asarray(self.seen.sum(axis=1)).ravel())

    def item_cooccurrence(self) -> csr_matrix | None:
        """item x item: the users who had both items (the diagonal: the item's users), computed once;
        None when it could hold more than MAX_COOCCURRENCE_PAIRS entries (a huge catalog)."""
        if self._cooccurrence is None:
            per_user = np.diff(self.seen.indptr).astype(np.int64)
            bound = min(int((per_user**2).sum()), self.seen.shape[1] ** 2)
            if bound > MAX_COOCCURRENCE_PAIRS:
                return None
            self._cooccurrence = (self.seen.T @ self.seen).tocsr()
        return self._cooccurrence

    def recent_item_users(self, window_days: float) -> np.ndarray:
        """Per item, the distinct users who interacted with it in the last window_days."""

        def compute() -> np.ndarray:
            recent = self.frame[self.frame[TIMESTAMP] > self.as_of - window_days * DAY]
            pairs = recent[[USER, ITEM]].drop_duplicates()
            counts = pairs[ITEM].value_counts()
            return counts.reindex(self.item_ids, fill_value=0).to_numpy(float)

        return self.cached(("recent_item_users", window_days), compute)

    def days_since_last(self) -> np.ndarray:
        """Per item, days from its last interaction to as_of; nan for items never interacted with."""

        def compute() -> np.ndarray:
            last = self.frame.groupby(ITEM)[TIMESTAMP].max().reindex(self.item_ids)
            return ((self.as_of - last) / DAY).to_numpy(float)

        return self.cached("days_since_last", compute)

    def item_attribute(self, column: str) -> pd.Series | None:
        """An item attribute aligned to item codes, or None when the attributes do not carry it."""
        if self.items is None or column not in self.items.columns:
            return None
        return self.items.set_index(ITEM)[column].reindex(self.item_ids)

    def item_categories(self) -> tuple[np.ndarray, int] | None:
        """(category code per item, -1 where unknown; number of categories), or None without categories
        (no category column, or no item with a known category: an imported log's unknown ones)."""
        categories = self.item_attribute(CATEGORY)
        if categories is None or categories.isna().all():
            return None
        codes, uniques = pd.factorize(categories)
        return codes, len(uniques)

    def prices(self) -> np.ndarray | None:
        price = self.item_attribute(PRICE)
        return None if price is None else price.to_numpy(float)


# the Params fields build_log reads: logs of the same rows built with equal ones are equal
LOG_FIELDS = ("event_weights", "rating_range", "half_life_days", "exclude_events")


def relog(log: TrainingLog | None, params: Params) -> TrainingLog | None:
    """`log` under other params when they build it the same way (equal LOG_FIELDS; the generators'
    fields such as neighbours may differ), else None. The matrices are shared, the statistics'
    cache starts empty."""
    if log is None or any(getattr(log.params, f) != getattr(params, f) for f in LOG_FIELDS):
        return None
    return replace(log, params=params)


def build_log(frame: pd.DataFrame, params: Params, items: pd.DataFrame | None = None) -> TrainingLog:
    frame = validate_interactions(frame, params)
    items = validate_items(items)
    as_of = frame[TIMESTAMP].max()
    users = pd.Index(pd.unique(frame[USER]))
    item_ids = pd.Index(pd.unique(frame[ITEM]))
    if items is not None:
        item_ids = item_ids.append(pd.Index(items[ITEM])).drop_duplicates()
    u = users.get_indexer(frame[USER])
    i = item_ids.get_indexer(frame[ITEM])
    shape = (len(users), len(item_ids))
    weights = csr_matrix((row_weights(frame, params, as_of).astype(np.float32), (u, i)), shape=shape)
    seen = indicator(u, i, shape)
    excluding = rows_with_events(frame, params.exclude_events)
    excluded = indicator(users.get_indexer(excluding[USER]), item_ids.get_indexer(excluding[ITEM]), shape)
    weights.sort_indices()
    return TrainingLog(frame, items, params, as_of, users, item_ids, weights, seen, excluded)


def indicator(u: np.ndarray, i: np.ndarray, shape: tuple[int, int]) -> csr_matrix:
    """1 at each (u, i) pair, however often it occurs."""
    out = csr_matrix((np.ones(len(u), dtype=np.float32), (u, i)), shape=shape)
    out.data[:] = 1.0  # duplicates of a pair were summed
    out.sort_indices()
    return out
