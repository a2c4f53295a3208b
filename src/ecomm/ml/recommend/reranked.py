"""The served recommender: the general library's re-ranked model (ecomm.ml.recommend.general) fitted
on the shop's events before the holdout, its top-N lists precomputed for every known customer, and
the state RerankedRecommenderPyfunc serves them from (a lookup per request; cold start as before).

Tuning stays bounded: on the validation split (the `holdout_days` before the holdout, fitted on the
rows before it) the re-ranker's number of label windows and item-kNN's neighbours are chosen from
small grids with the library's own `tune`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from ecomm.features import columns as C
from ecomm.features.churn import FeatureError
from ecomm.ml.recommend import calibration as K
from ecomm.ml.recommend import model as M
from ecomm.ml.recommend.dataset import RecData
from ecomm.ml.recommend.general.candidates import GENERATORS, RANK, SCORE
from ecomm.ml.recommend.general.evaluate import top_lists
from ecomm.ml.recommend.general.interactions import EVENT, ITEM, TIMESTAMP, USER, Params
from ecomm.ml.recommend.general.log import TrainingLog, build_log, relog
from ecomm.ml.recommend.general.recommender import GeneralRecommender
from ecomm.ml.recommend.general.shop import ORDER
from ecomm.ml.recommend.general.tune import tune
from ecomm.ml.serving import MAX_K

TOP_N = MAX_K  # a request asks for at most MAX_K products: longer lists would never be read
LIST_BATCH = 2_000  # customers whose candidates and features are built at once (bounds memory)
BECAUSE_BATCH = 100_000  # list entries explained at once (bounds the entry x history pairs)
LABEL_WINDOWS = (1, 2, 3)  # the re-ranker's grid, in order: n_trials > 1 tunes its first n_trials
KNN_NEIGHBOURS = (20, 50, 100)
KNN_GENERATORS = ("item_knn", "item_knn_bm25")


@dataclass
class Tuned:
    params: Params
    validation_ndcg: float  # nan when nothing was tuned
    table: list[dict]  # one row per combination tried
    model: GeneralRecommender | None = None  # the best, fitted before the validation split (when tuned)
    lists: pd.DataFrame | None = None  # its top TOP_N of the validation users (when tuned)


def tune_reranker(
    frame: pd.DataFrame, items: pd.DataFrame, params: Params, validation_start, n_trials: int
) -> Tuned:
    """The best label_windows among the first n_trials of LABEL_WINDOWS that the history before the
    validation split holds (fewer than two: the first that fits, untuned)."""
    fitting = [
        w for w in LABEL_WINDOWS[: max(n_trials, 1)] if w <= windows_that_fit(frame, params, validation_start)
    ]
    if not fitting:
        first = frame[TIMESTAMP].min().date()
        raise FeatureError(
            f"the events start {first}: too short for a {params.label_days:g}-day re-ranker label window "
            f"after as many days of history, before the validation split at {validation_start.date()}"
        )
    if len(fitting) < 2:
        return Tuned(replace(params, label_windows=fitting[0]), float("nan"), [])
    tuning = tune(
        frame, params, {"label_windows": fitting}, validation_start, items=items, keep_best=True, depth=TOP_N
    )
    table = tuning.table
    return Tuned(
        tuning.params, float(table["ndcg_at_10"].max()), table.to_dict("records"), tuning.model, tuning.lists
    )


def windows_that_fit(frame: pd.DataFrame, params: Params, validation_start) -> int:
    """How many label windows fit before validation_start with at least one window's length of
    feature rows before the oldest (the same then holds for the longer training window)."""
    days = (pd.Timestamp(validation_start) - frame[TIMESTAMP].min()) / pd.Timedelta(days=1)
    return int(days // params.label_days) - 1


def tune_item_knn(
    frame: pd.DataFrame, items: pd.DataFrame, params: Params, validation_start
) -> tuple[str, Tuned]:
    """(generator name, its tuning): the better of cosine and BM25 item-kNN, each at its best
    number of neighbours on the validation split."""
    found = []
    for name in KNN_GENERATORS:
        tuning = tune(
            frame, params, {"neighbours": list(KNN_NEIGHBOURS)}, validation_start, items=items, generator=name
        )
        table = tuning.table
        found.append((name, Tuned(tuning.params, float(table["ndcg_at_10"].max()), table.to_dict("records"))))
    return max(found, key=lambda pair: pair[1].validation_ndcg)


def item_knn_lists(
    frame, items, name: str, params: Params, users: list[int], k: int, log: TrainingLog | None = None
) -> dict[int, list[int]]:
    """The item-kNN generator `name` alone, fitted on frame; log: one built from the same frame and
    items (the final model's), reused when params build it the same way."""
    log = relog(log, params) or build_log(frame, params, items)
    recs = GENERATORS[name]().fit(log).recommend(users, k)
    return int_lists(top_lists(recs, users))


def generator_lists(model: GeneralRecommender, users: list[int], k: int) -> dict[str, dict[int, list[int]]]:
    """Each of the fitted model's candidate generators alone (personal ones list nothing for
    customers without history)."""
    return {g.name: int_lists(top_lists(g.recommend(users, k), users)) for g in model.generators}


def int_lists(lists: dict) -> dict[int, list[int]]:
    return {int(u): [int(i) for i in items] for u, items in lists.items()}


def served_lists(model: GeneralRecommender, n: int = TOP_N) -> pd.DataFrame:
    """user_id, item_id, score, rank: the re-ranked top n of every customer in the training log."""
    users = list(model.log.users)
    parts = [model.recommend(users[lo : lo + LIST_BATCH], n) for lo in range(0, len(users), LIST_BATCH)]
    return pd.concat(parts, ignore_index=True)[[USER, ITEM, SCORE, RANK]]


def build_state(
    model: GeneralRecommender, data: RecData, lists: pd.DataFrame, calibration: dict | None = None
) -> dict:
    """RerankedRecommenderPyfunc's state: the lists as CSR-like arrays over sorted customer ids and
    positions in the sorted catalog, each entry's explaining history item, the previous model's
    cold-start popularity and the rank calibration (calibrated_curves)."""
    index = M.Index(
        np.sort(model.log.users.to_numpy(np.int64)), np.sort(data.catalog[C.PRODUCT_ID].to_numpy(np.int64))
    )
    lists = lists.assign(_row=index.user_pos(lists[USER]), _pos=index.item_pos(lists[ITEM]))
    lists = lists[(lists["_row"] >= 0) & (lists["_pos"] >= 0)].sort_values(["_row", RANK], kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(lists["_row"], minlength=len(index.users)))])
    users_per_item = pd.Series(model.log.item_users(), index=model.log.item_ids)
    item_new = users_per_item.reindex(index.items, fill_value=0).to_numpy() == 0
    categories = data.catalog.set_index(C.PRODUCT_ID).loc[index.items, C.CATEGORY].to_numpy().astype(str)
    return {
        "user_ids": index.users,
        "item_ids": index.items,
        "list_indptr": indptr.astype(np.int64),
        # 4-byte entries: 100 per known customer is most of the model's size
        "list_items": lists["_pos"].to_numpy(np.int32),
        "list_scores": lists[SCORE].to_numpy(np.float32),
        "list_because": because_items(model, lists, index),
        "item_new": item_new,
        "item_category": categories,
        **M.shared_state(data, index, M.bought_matrix(data, index)),
        "info": {"train_end": data.train_end.isoformat(), "params": params_dict(model.params)},
        **({"calibration": calibration} if calibration is not None else {}),
    }


def because_items(model: GeneralRecommender, lists: pd.DataFrame, index: M.Index) -> np.ndarray:
    """Per list entry (lists in served order), the catalog position of the customer's history item
    most often seen by the same customers as the recommended item (item-item co-occurrence in the
    training log, the item itself left out; ties: the first in the history's order); -1 when no
    history item co-occurs. int32: it sits beside list_items.

    Vectorised over (entry, history item) pairs in blocks of BECAUSE_BATCH entries: a loop per
    customer took about 0.6 ms each (about 2 minutes for the 1M-order world's customers)."""
    seen = model.log.seen.tocsr()
    cooc = model.log.item_cooccurrence()
    if cooc is None:  # a catalog too big to keep the matrix for features: built here, once
        cooc = (seen.T @ seen).tocsr()
    codes_to_pos = index.item_pos(model.log.item_ids.to_numpy())
    user_codes = model.log.user_codes(lists[USER].to_numpy())
    item_codes = model.log.item_ids.get_indexer(lists[ITEM].to_numpy())
    history_sizes = np.zeros(len(lists), dtype=np.int64)
    valid = (user_codes >= 0) & (item_codes >= 0)
    history_sizes[valid] = np.diff(seen.indptr)[user_codes[valid]]
    out = np.full(len(lists), -1, dtype=np.int32)
    for lo in range(0, len(lists), BECAUSE_BATCH):
        entries = lo + np.flatnonzero(history_sizes[lo : lo + BECAUSE_BATCH])
        if len(entries) == 0:
            continue
        sizes = history_sizes[entries]
        firsts = np.cumsum(sizes) - sizes  # each entry's first pair
        offsets = np.arange(int(sizes.sum())) - np.repeat(firsts, sizes)
        history = seen.indices[np.repeat(seen.indptr[user_codes[entries]], sizes) + offsets]
        wanted = np.repeat(item_codes[entries], sizes)
        counts = np.asarray(cooc[wanted, history]).ravel()
        counts[wanted == history] = 0
        best = np.maximum.reduceat(counts, firsts)
        at_best = np.flatnonzero(counts == np.repeat(best, sizes))
        first_best = at_best[np.searchsorted(at_best, firsts)]
        found = best > 0
        out[entries[found]] = codes_to_pos[history[first_best[found]]]
    return out


def calibrated_curves(
    frame: pd.DataFrame,
    items: pd.DataFrame,
    params: Params,
    validation_start,
    depth: int = TOP_N,
    fitted: GeneralRecommender | None = None,
    fitted_lists: pd.DataFrame | None = None,
) -> dict:
    """The rank calibration learned on the validation window (ecomm.ml.recommend.calibration): a model
    fitted before validation_start lists its customers' top `depth`; hits are the window's orders of
    products the customer had not ordered before. fitted: that model when tuning already fitted it
    (the same params on the same rows); fitted_lists: its lists (user_id, item_id, rank) to at least
    `depth` when tuning made them, used for the customers they cover."""
    start = pd.Timestamp(validation_start)
    before, window = frame[frame[TIMESTAMP] < start], frame[frame[TIMESTAMP] >= start]
    orders_before = before[before[EVENT] == ORDER]
    bought = {u: set(g) for u, g in orders_before.groupby(USER)[ITEM]}
    relevant: dict = {}
    for user, products in window[window[EVENT] == ORDER].groupby(USER)[ITEM]:
        fresh = set(products) - bought.get(user, set())
        if fresh:
            relevant[user] = fresh
    model = fitted if fitted is not None else GeneralRecommender(params).fit(before, items)
    known = set(model.log.users)
    warm = [u for u in relevant if u in known]
    listed = pd.DataFrame(columns=[USER, ITEM, RANK])
    if fitted is not None and fitted_lists is not None:
        listed = fitted_lists[fitted_lists[USER].isin(warm) & (fitted_lists[RANK] <= depth)]
    covered = set(listed[USER])
    missing = [u for u in warm if u not in covered]
    recs = pd.concat(
        [listed[[USER, ITEM, RANK]]]
        + [
            model.recommend(missing[lo : lo + LIST_BATCH], depth) for lo in range(0, len(missing), LIST_BATCH)
        ],
        ignore_index=True,
    )
    personal = {u: g.sort_values(RANK)[ITEM].tolist() for u, g in recs.groupby(USER)}
    new = [u for u in relevant if u not in known]
    cold_users = new if len(new) >= K.MIN_NEW_CUSTOMERS else list(relevant)
    ranked = orders_before[ITEM].value_counts().index.tolist()
    popular = K.popular_lists(ranked, cold_users, bought, depth)
    return {
        "personal": K.rank_curve({u: personal.get(u, []) for u in warm}, relevant, depth),
        "popular": K.rank_curve(popular, relevant, depth),
        "popular_customers": "new in the window" if cold_users is new else "every window customer",
        "validation_customers": len(relevant),
        "validation_warm_customers": len(warm),
    }


def params_dict(params: Params) -> dict:
    """Params as MLflow-loggable plain values (tuples and mappings as text)."""
    return {
        k: v if isinstance(v, int | float | str) or v is None else str(v) for k, v in asdict(params).items()
    }
