"""Judging recommendations on a later part of the log with the project's shared ranking metrics
(ecomm.ml.metrics: NDCG, MAP, precision, recall, coverage, novelty)."""

from __future__ import annotations

import pandas as pd

from ecomm.ml.metrics import novelty, ranking_metrics
from ecomm.ml.recommend.general.candidates import RANK
from ecomm.ml.recommend.general.interactions import ITEM, USER, Params, rows_with_events
from ecomm.ml.recommend.general.log import TrainingLog


def holdout_relevant(train: pd.DataFrame, holdout: pd.DataFrame, params: Params) -> dict[object, set]:
    """Per user: the items of holdout rows with a target event that the user had not seen in train
    (seen: one of the exclude events); recommendations leave seen items out, so they cannot be hits."""
    later = rows_with_events(holdout, params.target_events)[[USER, ITEM]].drop_duplicates()
    seen = rows_with_events(train, params.exclude_events)[[USER, ITEM]].drop_duplicates()
    new = later.merge(seen, on=[USER, ITEM], how="left", indicator=True)
    new = new[new["_merge"] == "left_only"]
    return {user: set(group[ITEM]) for user, group in new.groupby(USER, sort=False)}


def top_lists(recs: pd.DataFrame, users) -> dict[object, list]:
    """Each user's recommended items in rank order (an empty list for a user without rows)."""
    ordered = recs.sort_values([USER, RANK], kind="stable")
    lists = {user: group[ITEM].tolist() for user, group in ordered.groupby(USER, sort=False)}
    return {user: lists.get(user, []) for user in users}


def evaluate_lists(lists: dict, relevant: dict, log: TrainingLog, k: int = 10) -> dict[str, float]:
    """The shared ranking metrics at k, coverage over the log's catalog and novelty by its users."""
    out = ranking_metrics(lists, relevant, k, catalog_size=len(log.item_ids))
    item_users = dict(zip(log.item_ids, log.item_users(), strict=True))
    out["novelty"] = novelty(lists, item_users, len(log.users), k)
    return out
