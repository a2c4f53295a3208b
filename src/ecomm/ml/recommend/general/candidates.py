"""Candidate generators: each scores every item for given users and returns its top N as a frame
(user_id, item_id, score, rank), leaving out items the user has seen when asked (seen: had one
of Params.exclude_events, by default any event). Each one can be fitted
and evaluated alone.

    als            implicit's ALS on the weighted matrix, confidence 1 + confidence_scale x weight
    item_knn       item-item cosine similarity (implicit.nearest_neighbours), top `neighbours` per item
    item_knn_bm25  the same with BM25-weighted user vectors
    recent_popular distinct users per item over the last popularity_window_days
    popular        distinct users per item over the whole log
    category       the user's share of weight in the item's category x the item's standing within it
                   (needs item categories: without them it scores nothing)

A generator gives -inf to items it cannot score (e.g. an item nobody touched for ALS): they never
become its candidates. Users without history get no rows from personal generators.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from ecomm.ml.recommend.general.interactions import ITEM, USER
from ecomm.ml.recommend.general.log import TrainingLog

SCORE = "score"
RANK = "rank"
SCORE_CELLS = 20_000_000  # dense (users x items) scores held at once: 160 MB of float64
NEW_ITEM_STANDING = 0.5  # category generator: an item without interactions ranks like a middling one


class Generator:
    name: ClassVar[str]
    personal: ClassVar[bool] = True  # False: every user gets the same scores

    def fit(self, log: TrainingLog) -> Generator:
        self.log = log
        self._fit(log)
        return self

    def _fit(self, log: TrainingLog) -> None:
        raise NotImplementedError

    def scores(self, codes: np.ndarray) -> np.ndarray:
        """Dense (len(codes) x items) scores of users with history (codes >= 0), -inf where unscored."""
        raise NotImplementedError

    def recommend(self, user_ids, n: int, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-n (user_id, item_id, score, rank) per user; rank 1 is the best."""
        user_ids = pd.Index(list(user_ids))
        codes = self.log.user_codes(user_ids)
        if self.personal:
            keep = codes >= 0
            user_ids, codes = user_ids[keep], codes[keep]
        batch = max(1, SCORE_CELLS // max(len(self.log.item_ids), 1))
        parts = [
            self._top(user_ids[start : start + batch], codes[start : start + batch], n, exclude_seen)
            for start in range(0, len(codes), batch)
        ]
        return pd.concat(parts, ignore_index=True) if parts else empty_candidates()

    def _top(self, user_ids: pd.Index, codes: np.ndarray, n: int, exclude_seen: bool) -> pd.DataFrame:
        scores = self.scores(codes).astype(float)
        if exclude_seen:
            known = codes >= 0
            seen = self.log.excluded[codes[known]].tocoo()
            scores[np.flatnonzero(known)[seen.row], seen.col] = -np.inf
        return top_n_frame(scores, user_ids, self.log.item_ids, n)


def empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({USER: [], ITEM: [], SCORE: np.zeros(0), RANK: np.zeros(0, dtype=int)})


def top_n_frame(scores: np.ndarray, user_ids: pd.Index, item_ids: pd.Index, n: int) -> pd.DataFrame:
    """The n best finite scores of each row, ties broken by item code (stable)."""
    n = min(n, scores.shape[1])
    if n == 0 or len(scores) == 0:
        return empty_candidates()
    order = top_n_order(scores, n)
    top = np.take_along_axis(scores, order, axis=1)
    rows, ranks = np.nonzero(np.isfinite(top))
    return pd.DataFrame(
        {
            USER: user_ids.to_numpy()[rows],
            ITEM: item_ids.to_numpy()[order[rows, ranks]],
            SCORE: top[rows, ranks],
            RANK: ranks + 1,
        }
    )


def top_n_order(scores: np.ndarray, n: int) -> np.ndarray:
    """Per row the column indices of the n best scores, best first, ties by column: the first n of a
    stable descending argsort, found in linear time (a full sort of a large catalog per user is slow).

    The n-th best score t is found by partition; every column above t is kept, and of the columns equal
    to t the lowest-numbered ones fill the rest.
    """
    m = scores.shape[1]
    if n >= m:
        return np.argsort(-scores, axis=1, kind="stable")
    threshold = np.partition(scores, m - n, axis=1)[:, m - n : m - n + 1]
    above = scores > threshold
    tied = scores == threshold
    room = n - above.sum(axis=1)
    chosen = above | tied
    overflow = np.flatnonzero(tied.sum(axis=1) > room)  # the rows with more ties at t than room
    if len(overflow):
        ties = tied[overflow]
        chosen[overflow] = above[overflow] | (ties & (np.cumsum(ties, axis=1) <= room[overflow, None]))
    columns = np.nonzero(chosen)[1].reshape(len(scores), n)  # row-major: ascending columns per row
    values = np.take_along_axis(scores, columns, axis=1)
    return np.take_along_axis(columns, np.lexsort((columns, -values), axis=1), axis=1)


def _untouched(log: TrainingLog) -> np.ndarray:
    return log.item_users() == 0


class ALS(Generator):
    name = "als"

    def _fit(self, log: TrainingLog) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        p = log.params
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; a BLAS pool on top slows it
            model = AlternatingLeastSquares(
                factors=p.factors,
                regularization=p.regularization,
                alpha=p.confidence_scale,
                iterations=p.iterations,
                random_state=p.seed,
                num_threads=p.num_threads,
                calculate_training_loss=False,
            )
            model.fit(log.weights, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        self.untouched = _untouched(log)

    def scores(self, codes: np.ndarray) -> np.ndarray:
        out = (self.user_factors[codes] @ self.item_factors.T).astype(float)
        out[:, self.untouched] = -np.inf
        return out


class ItemKNN(Generator):
    name = "item_knn"

    def _model(self, neighbours: int):
        from implicit.nearest_neighbours import CosineRecommender

        return CosineRecommender(K=neighbours, num_threads=self.log.params.num_threads)

    def _fit(self, log: TrainingLog) -> None:
        model = self._model(log.params.neighbours)
        with warnings.catch_warnings():  # implicit's own weighting hands its fit a COO matrix and warns
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(log.weights, show_progress=False)
        self.similarity = csr_matrix(model.similarity)

    def scores(self, codes: np.ndarray) -> np.ndarray:
        out = (self.log.weights[codes] @ self.similarity).toarray().astype(float)
        out[out <= 0] = -np.inf  # no similar item in the user's history
        return out


class ItemKNNBM25(ItemKNN):
    name = "item_knn_bm25"

    def _model(self, neighbours: int):
        from implicit.nearest_neighbours import BM25Recommender

        return BM25Recommender(K=neighbours, num_threads=self.log.params.num_threads)


class _Popularity(Generator):
    personal = False

    def _counts(self, log: TrainingLog) -> np.ndarray:
        raise NotImplementedError

    def _fit(self, log: TrainingLog) -> None:
        counts = self._counts(log).astype(float)
        # the all-time count breaks ties of the windowed one (a tiny fraction of a unit)
        tiebreak = log.item_users() / (log.item_users().max() + 1.0) * 1e-3
        self.item_scores = np.where(counts > 0, counts + tiebreak, -np.inf)
        ranked = np.argsort(-self.item_scores, kind="stable")  # best first, ties by item code
        self.ranked = ranked[np.isfinite(self.item_scores[ranked])]

    def scores(self, codes: np.ndarray) -> np.ndarray:
        return np.tile(self.item_scores, (len(codes), 1))

    def _top(self, user_ids: pd.Index, codes: np.ndarray, n: int, exclude_seen: bool) -> pd.DataFrame:
        """Generator._top's rows without a (users x items) score matrix: every user has the same
        scores, so each one's top n is the first n of one descending order (ties by item code, as
        top_n_order breaks them) that the user has not seen. Only the first n + (most items a user
        of the batch has seen) of that order can be in a top n."""
        n = min(n, len(self.item_scores))
        if n == 0 or len(codes) == 0:
            return empty_candidates()
        order = self.ranked
        known = np.flatnonzero(codes >= 0) if exclude_seen else np.zeros(0, dtype=np.int64)
        seen = self.log.excluded[codes[known]]
        prefix = order[: n + int(np.diff(seen.indptr).max(initial=0))]
        position = np.full(len(self.item_scores), -1)
        position[prefix] = np.arange(len(prefix))
        excluded = np.zeros((len(codes), len(prefix)), dtype=bool)
        row = known[np.repeat(np.arange(len(known)), np.diff(seen.indptr))]
        col = position[seen.indices]
        excluded[row[col >= 0], col[col >= 0]] = True
        rank = np.cumsum(~excluded, axis=1)
        rows, cols = np.nonzero(~excluded & (rank <= n))
        items = prefix[cols]
        return pd.DataFrame(
            {
                USER: user_ids.to_numpy()[rows],
                ITEM: self.log.item_ids.to_numpy()[items],
                SCORE: self.item_scores[items],
                RANK: rank[rows, cols],
            }
        )


class RecentPopular(_Popularity):
    name = "recent_popular"

    def _counts(self, log: TrainingLog) -> np.ndarray:
        return log.recent_item_users(log.params.popularity_window_days)


class Popular(_Popularity):
    name = "popular"

    def _counts(self, log: TrainingLog) -> np.ndarray:
        return log.item_users()


class CategoryAffinity(Generator):
    name = "category"

    def _fit(self, log: TrainingLog) -> None:
        categories = log.item_categories()
        self.available = categories is not None
        if not self.available:
            return
        self.item_category, n_categories = categories
        known = self.item_category >= 0
        # item x category indicator; the user's category weights are their weights summed per category
        indicator = csr_matrix(
            (np.ones(known.sum()), (np.flatnonzero(known), self.item_category[known])),
            shape=(len(log.item_ids), n_categories),
        )
        totals = np.asarray(log.weights.sum(axis=1)).ravel()
        self.affinity = (log.weights @ indicator).toarray() / np.maximum(totals, 1e-12)[:, None]
        self.standing = _standing_in_category(log.item_users(), self.item_category, n_categories)

    def user_affinity(self, codes: np.ndarray) -> np.ndarray:
        """(users x items) the user's share of weight in each item's category; 0 without categories."""
        if not self.available:
            return np.zeros((len(codes), len(self.log.item_ids)))
        out = self.affinity[codes][:, np.maximum(self.item_category, 0)]
        out[:, self.item_category < 0] = 0.0
        return out

    def scores(self, codes: np.ndarray) -> np.ndarray:
        if not self.available:
            return np.full((len(codes), len(self.log.item_ids)), -np.inf)
        out = self.user_affinity(codes) * self.standing
        out[out <= 0] = -np.inf
        return out


def _standing_in_category(users: np.ndarray, category: np.ndarray, n_categories: int) -> np.ndarray:
    """Each item's users / its category's most-used item's users; NEW_ITEM_STANDING for new items."""
    best = np.zeros(n_categories)
    known = category >= 0
    np.maximum.at(best, category[known], users[known])
    standing = np.where(known, users / np.maximum(best[np.maximum(category, 0)], 1.0), 0.0)
    return np.where(known & (users == 0), NEW_ITEM_STANDING, standing)


GENERATORS: dict[str, type[Generator]] = {
    g.name: g for g in (ALS, ItemKNN, ItemKNNBM25, RecentPopular, Popular, CategoryAffinity)
}
