"""Choosing Params on a validation split that precedes the test split in time: every combination of
a small grid is fitted on the rows before validation_start and judged by NDCG@k on the rows after."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from ecomm.ml.recommend.general.candidates import GENERATORS, RANK
from ecomm.ml.recommend.general.evaluate import evaluate_lists, holdout_relevant, top_lists
from ecomm.ml.recommend.general.interactions import (
    TIMESTAMP,
    InteractionsError,
    Params,
    validate_interactions,
)
from ecomm.ml.recommend.general.log import build_log, relog
from ecomm.ml.recommend.general.recommender import GeneralRecommender, recommend_each
from ecomm.ml.recommend.general.rerank import DEFAULT_GENERATORS, stacked_candidates


@dataclass
class Tuning:
    """tune's answer: the best Params, one row per combination with its ndcg_at_k, and (when asked
    with keep_best) the best fitted re-ranked model and its lists of the validation users."""

    params: Params
    table: pd.DataFrame
    model: GeneralRecommender | None = None
    lists: pd.DataFrame | None = None  # user_id, item_id, score, rank, source to `depth`


def tune(
    frame: pd.DataFrame,
    params: Params,
    grid: Mapping[str, Sequence],
    validation_start: pd.Timestamp,
    *,
    items: pd.DataFrame | None = None,
    generator: str | None = None,
    k: int = 10,
    keep_best: bool = False,
    depth: int | None = None,
) -> Tuning:
    """The best Params and one row per combination with its ndcg_at_k, the first best on ties.

    generator: tune that generator alone; None: the re-ranked GeneralRecommender. Only rows before
    validation_start are fitted on; pass the training part of a temporal split, never the test part.
    keep_best (re-ranked only): also answer the best fitted model and its lists of the validation
    users to `depth` (default k), for a caller that reuses them.
    """
    depth = max(depth or k, k)
    frame = validate_interactions(frame, params)
    train = frame[frame[TIMESTAMP] < validation_start]
    validation = frame[frame[TIMESTAMP] >= validation_start]
    relevant = holdout_relevant(train, validation, params)
    if train.empty or not relevant:
        raise InteractionsError(
            f"tuning at {validation_start}: {len(train)} training row(s) and {len(relevant)} user(s) with "
            "new items after it; both must be non-empty"
        )
    users = list(relevant)
    combinations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    # label_windows alone only chooses which label windows the ranker learns from: the candidates of
    # the most windows are built once, the generators fitted once, and each setting trains its ranker
    windows_only = generator is None and set(grid) == {"label_windows"}
    fitted = _label_window_lists(train, params, combinations, items, users, depth) if windows_only else None
    rows, best_ndcg, log, kept = [], float("nan"), None, (None, None)
    for j, combination in enumerate(combinations):
        candidate = replace(params, **combination)
        if fitted is not None:
            model, recs = fitted[j]
        elif generator is None:
            model = GeneralRecommender(candidate).fit(train, items)
            recs = model.recommend(users, depth)
        else:  # a generator's own fields (neighbours...) leave the log as it is: built once
            log = relog(log, candidate) or build_log(train, candidate, items)
            recs = GENERATORS[generator]().fit(log).recommend(users, k)
        log = model.log if generator is None else log
        ndcg = evaluate_lists(top_lists(recs[recs[RANK] <= k], users), relevant, log, k)[f"ndcg_at_{k}"]
        if keep_best and generator is None and (not rows or ndcg > best_ndcg):
            kept, best_ndcg = (model, recs), ndcg  # the first best, as below
        rows.append({**combination, f"ndcg_at_{k}": ndcg})
    table = pd.DataFrame(rows)
    best = combinations[int(table[f"ndcg_at_{k}"].to_numpy().argmax())]  # the grid's own values
    return Tuning(replace(params, **best), table, *kept)


def _label_window_lists(
    train: pd.DataFrame, params: Params, combinations: list[dict], items, users: list, depth: int
) -> list[tuple[GeneralRecommender, pd.DataFrame]]:
    """(model, its top-depth lists of users) per label_windows setting: one stack of labelled
    candidates (the most windows), the generators fitted once, a ranker per setting, and the users'
    candidates built once for every ranker (recommend_each)."""
    widest = replace(params, label_windows=max(c["label_windows"] for c in combinations))
    stacked = stacked_candidates(train, widest, items, DEFAULT_GENERATORS)
    first = GeneralRecommender(replace(params, **combinations[0])).fit(train, items, stacked=stacked)
    models = [first, *(first.with_label_windows(c["label_windows"], stacked) for c in combinations[1:])]
    return list(zip(models, recommend_each(models, users, depth), strict=True))
