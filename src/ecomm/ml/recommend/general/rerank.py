"""The LightGBM lambdarank re-ranker over candidate features (features.py).

Training protocol (no leakage): the log is cut at label_start. Generators and features are fitted on
the rows strictly before label_start; the labels are the (user, item) pairs of the label window
[label_start, label_end) with one of Params.target_events (default: any event). The generators leave
out the items the user had a Params.exclude_events event with before label_start, so those are never
candidates; an item only viewed before (with exclude_events=("purchase",)) can be a positive. A
candidate is positive when it is such a pair. Too few positives among the candidates raises NotEnoughLabels: the caller decides what
to do (lengthen the window, lower min_label_positives, or rank without a re-ranker), never silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecomm.ml.recommend.general.candidates import GENERATORS, Generator
from ecomm.ml.recommend.general.features import add_features, candidate_union, feature_columns
from ecomm.ml.recommend.general.interactions import (
    DAY,
    ITEM,
    TIMESTAMP,
    USER,
    InteractionsError,
    Params,
    rows_with_events,
)
from ecomm.ml.recommend.general.log import TrainingLog, build_log

LABEL = "label"
WINDOW = "label_window"  # which label window a training row belongs to (0: the latest)
DEFAULT_GENERATORS = ("als", "item_knn", "item_knn_bm25", "recent_popular", "popular", "category")


class NotEnoughLabels(ValueError):
    """The label window gives the re-ranker too few positive candidates to learn from."""


def fit_generators(log: TrainingLog, names: Sequence[str]) -> list[Generator]:
    unknown = sorted(set(names) - set(GENERATORS))
    if unknown:
        raise ValueError(f"unknown generator(s) {unknown}; known are {sorted(GENERATORS)}")
    return [GENERATORS[name]().fit(log) for name in names]


def label_window(
    frame: pd.DataFrame, label_start: pd.Timestamp, label_end: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(feature rows: timestamp < label_start, label rows: label_start <= timestamp < label_end)."""
    times = frame[TIMESTAMP]
    before = frame[times < label_start]
    after = frame[(times >= label_start) & ((times < label_end) if label_end is not None else True)]
    if before.empty or after.empty:
        raise InteractionsError(
            f"label window at {label_start}: {len(before)} feature row(s) before it, {len(after)} in it; "
            "both must be non-empty"
        )
    return before, after


def candidate_frame(
    log: TrainingLog, generators: Sequence[Generator], user_ids, exclude_seen: bool = True
) -> pd.DataFrame:
    """Feature rows for the users' candidates (users with history only)."""
    known = [user for user, code in zip(user_ids, log.user_codes(user_ids), strict=True) if code >= 0]
    candidates = candidate_union(generators, known, log.params.candidates_per_generator, exclude_seen)
    return add_features(log, candidates)


def labelled_candidates(
    frame: pd.DataFrame,
    params: Params,
    label_start: pd.Timestamp,
    items: pd.DataFrame | None = None,
    names: Sequence[str] = DEFAULT_GENERATORS,
    label_end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Candidate features from the rows before label_start, labelled by the label window."""
    before, after = label_window(frame, label_start, label_end)
    after = rows_with_events(after, params.target_events)
    log = build_log(before, params, items)
    generators = fit_generators(log, names)
    users = pd.unique(after[USER])
    if len(users) > params.ranker_max_users:  # a seeded sample bounds the ranker's training rows
        users = np.random.default_rng(params.seed).choice(users, params.ranker_max_users, replace=False)
    rows = candidate_frame(log, generators, users)
    positives = after[[USER, ITEM]].drop_duplicates().assign(**{LABEL: 1})
    rows = rows.merge(positives, on=[USER, ITEM], how="left")
    rows[LABEL] = rows[LABEL].fillna(0).astype(int)
    return rows


def stacked_candidates(
    frame: pd.DataFrame,
    params: Params,
    items: pd.DataFrame | None = None,
    names: Sequence[str] = DEFAULT_GENERATORS,
) -> pd.DataFrame:
    """Labelled candidates of params.label_windows consecutive label windows of label_days, the
    latest ending with the log, each with features from the rows before it (column WINDOW: 0 the
    latest). Older windows give the ranker more users to learn from, each still without leakage."""
    end = frame[TIMESTAMP].max()
    parts = []
    for window in range(params.label_windows):
        start = end - (window + 1) * params.label_days * DAY
        label_end = None if window == 0 else end - window * params.label_days * DAY
        rows = labelled_candidates(frame, params, start, items, names, label_end)
        parts.append(rows.assign(**{WINDOW: window}))
    return pd.concat(parts, ignore_index=True)


@dataclass
class Reranker:
    model: object  # lightgbm.LGBMRanker
    columns: list[str]

    @classmethod
    def train(cls, rows: pd.DataFrame, params: Params) -> Reranker:
        """Fit lambdarank on labelled candidates (users without a positive carry no signal: dropped)."""
        from lightgbm import LGBMRanker

        positives = int(rows[LABEL].sum())
        if positives < params.min_label_positives:
            raise NotEnoughLabels(
                f"the label window gives {positives} positive candidate(s) (< min_label_positives "
                f"{params.min_label_positives}); lengthen label_days, lower min_label_positives, or rank "
                "without the re-ranker"
            )
        if WINDOW not in rows.columns:
            rows = rows.assign(**{WINDOW: 0})
        useful = rows.groupby([WINDOW, USER])[LABEL].transform("max") > 0
        rows = rows[useful].sort_values([WINDOW, USER], kind="stable")
        columns = [c for c in feature_columns(rows) if c not in (LABEL, WINDOW)]
        model = LGBMRanker(
            objective="lambdarank",
            n_estimators=params.ranker_trees,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=params.ranker_min_child_samples,
            random_state=params.seed,
            n_jobs=params.ranker_threads,
            deterministic=True,
            verbose=-1,
        )
        groups = rows.groupby([WINDOW, USER], sort=False).size().to_numpy()
        model.fit(rows[columns].astype(float), rows[LABEL], group=groups)
        return cls(model, columns)

    def score(self, rows: pd.DataFrame) -> np.ndarray:
        features = rows.reindex(columns=self.columns).astype(float)  # a missing feature is nan
        return self.model.predict(features)
