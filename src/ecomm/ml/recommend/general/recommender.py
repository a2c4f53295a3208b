"""GeneralRecommender: fit on an interactions frame, recommend top-k per user.

    model = GeneralRecommender(params).fit(frame, items)
    model.recommend(["u1", "u2"], k=10)   # user_id, item_id, score, rank, source

With rerank=True (the default) the LightGBM re-ranker learns from the last params.label_windows
windows of params.label_days of the log (features from the rows before each), then the generators are refitted on the whole log to serve.
With rerank=False the first generator's candidates are served as they are.

source: "reranked" (or the serving generator's name), "new_item" for an item without interactions in
the log (known only from the item attributes), "cold_start_popular" for a user without history (recent
popularity).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from ecomm.ml.recommend.general.candidates import RANK, SCORE, RecentPopular
from ecomm.ml.recommend.general.interactions import ITEM, USER, Params
from ecomm.ml.recommend.general.log import build_log
from ecomm.ml.recommend.general.rerank import (
    DEFAULT_GENERATORS,
    WINDOW,
    Reranker,
    candidate_frame,
    fit_generators,
    stacked_candidates,
)

SOURCE = "source"
RERANKED = "reranked"
COLD_START = "cold_start_popular"
NEW_ITEM = "new_item"
COLUMNS = [USER, ITEM, SCORE, RANK, SOURCE]


class GeneralRecommender:
    def __init__(
        self,
        params: Params | None = None,
        generators: Sequence[str] = DEFAULT_GENERATORS,
        rerank: bool = True,
    ):
        self.params = params or Params()
        self.generator_names = tuple(generators)
        self.rerank = rerank

    def fit(
        self, frame: pd.DataFrame, items: pd.DataFrame | None = None, stacked: pd.DataFrame | None = None
    ) -> GeneralRecommender:
        """Raises InteractionsError on a bad frame, NotEnoughLabels when the re-ranker has too little
        to learn from (fit with rerank=False, a longer label_days or a lower min_label_positives).

        stacked: the labelled candidates of this frame for at least params.label_windows windows
        (stacked_candidates with this model's generators), when the caller built them already."""
        self.log = build_log(frame, self.params, items)
        self.ranker = None
        if self.rerank:
            if stacked is None:
                stacked = stacked_candidates(self.log.frame, self.params, items, self.generator_names)
            self.ranker = Reranker.train(stacked[stacked[WINDOW] < self.params.label_windows], self.params)
        self.generators = fit_generators(self.log, self.generator_names)
        self.popular = RecentPopular().fit(self.log)
        return self

    def with_label_windows(self, windows: int, stacked: pd.DataFrame) -> GeneralRecommender:
        """This fitted model with a ranker trained on `windows` label windows of `stacked` (the fitted
        frame's labelled candidates); the generators, fitted on the same log, are shared."""
        other = copy.copy(self)
        other.params = replace(self.params, label_windows=windows)
        other.ranker = Reranker.train(stacked[stacked[WINDOW] < windows], other.params)
        return other

    def recommend(self, user_ids, k: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        warm, cold = self._split_users(user_ids)
        parts = [self._personal(warm, k, exclude_seen)] if warm else []
        return self._labelled(parts + self._cold_start(cold, k, exclude_seen))

    def _split_users(self, user_ids) -> tuple[list, list]:
        """(the users with history in the log, those without), each in the given order."""
        user_ids = list(user_ids)
        known = self.log.user_codes(user_ids) >= 0
        warm = [user for user, ok in zip(user_ids, known, strict=True) if ok]
        cold = [user for user, ok in zip(user_ids, known, strict=True) if not ok]
        return warm, cold

    def _cold_start(self, cold: list, k: int, exclude_seen: bool) -> list[pd.DataFrame]:
        """[the cold users' recent-popularity lists], or [] without cold users."""
        if not cold:
            return []
        return [self.popular.recommend(cold, k, exclude_seen).assign(**{SOURCE: COLD_START})]

    def _labelled(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        """The parts as one frame of COLUMNS, an item without interactions in the log labelled NEW_ITEM."""
        if not parts:
            return pd.DataFrame(columns=COLUMNS)
        out = pd.concat(parts, ignore_index=True)
        new = self.log.item_users()[self.log.item_ids.get_indexer(out[ITEM])] == 0
        out.loc[new, SOURCE] = NEW_ITEM
        return out[COLUMNS]

    def _personal(self, users: list, k: int, exclude_seen: bool) -> pd.DataFrame:
        if self.ranker is None:
            return (
                self.generators[0]
                .recommend(users, k, exclude_seen)
                .assign(**{SOURCE: self.generators[0].name})
            )
        rows = candidate_frame(self.log, self.generators, users, exclude_seen)
        rows[SCORE] = self.ranker.score(rows)
        return top_k_rows(rows, k).assign(**{SOURCE: RERANKED})


def recommend_each(
    models: Sequence[GeneralRecommender], user_ids, k: int, batch: int = 2_000
) -> list[pd.DataFrame]:
    """[model.recommend(user_ids, k) for model in models] (the same rows; the users' order may differ
    when they come unsorted in more than one batch), for re-ranked models that share their log
    and generators (with_label_windows copies of one fitted model): each batch of users' candidates
    and features are built once and scored by every model's ranker (building them is most of a
    recommend's time)."""
    first = models[0]
    if any(
        m.log is not first.log or m.generators is not first.generators or m.ranker is None for m in models
    ):
        raise ValueError("recommend_each needs re-ranked models sharing one log and its generators")
    warm, cold = first._split_users(user_ids)
    parts: list[list[pd.DataFrame]] = [[] for _ in models]
    for lo in range(0, len(warm), batch):
        rows = candidate_frame(first.log, first.generators, warm[lo : lo + batch])
        pairs = rows[[USER, ITEM]]
        for part, model in zip(parts, models, strict=True):
            top = top_k_rows(pairs.assign(**{SCORE: model.ranker.score(rows)}), k)
            part.append(top.assign(**{SOURCE: RERANKED}))
    popular = first._cold_start(cold, k, exclude_seen=True)  # built once, shared by every model
    return [first._labelled(part + popular) for part in parts]


def top_k_rows(rows: pd.DataFrame, k: int) -> pd.DataFrame:
    """(user_id, item_id, score, rank) of the k best-scored rows per user."""
    ranked = rows.sort_values([USER, SCORE], ascending=[True, False], kind="stable")
    ranked = ranked.groupby(USER, sort=False).head(k)
    ranked[RANK] = ranked.groupby(USER, sort=False).cumcount() + 1
    return ranked[[USER, ITEM, SCORE, RANK]].reset_index(drop=True)
