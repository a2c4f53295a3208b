"""The previous served recommender (an ALS + SVD blend), kept as the baseline benchmarks fit beside
the re-ranked model (ecomm.ml.recommend.reranked) and the model earlier registered versions hold.

Its algorithms: implicit-feedback ALS (the `implicit` package, user x item CSR), Surprise
SVD on review stars, purchase popularity; and the numpy state the served pyfunc carries.

Implicit feedback per (customer, product): views + cart_weight x add-to-carts + purchase_weight x
purchases; ALS confidence = 1 + alpha x that. Products nobody interacted with get their category's
mean item factor, shrunk by COLD_ITEM_SHRINK (labelled "model_cold_item" when recommended).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import timedelta

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema
from scipy.sparse import csr_matrix

from ecomm.features import columns as C
from ecomm.ml.metrics import ranking_metrics
from ecomm.ml.recommend.dataset import RecData, load_rec_data, require_recommendable
from ecomm.ml.serving import RANK, SCORE, SOURCE, RecommenderPyfunc

COLD_ITEM_SHRINK = 0.5
# Cold start: popularity in the customer's country, shrunk toward the whole shop's (both scaled to a
# max of 1): a country holds a fraction of the purchases, so its own ranking is noisy.
COUNTRY_GLOBAL_PRIOR = 1.0


@dataclass(frozen=True)
class RecParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0
    iterations: int = 15
    cart_weight: float = 3.0
    purchase_weight: float = 8.0
    blend_weight: float = 0.0  # x SVD predicted stars (centred) added to the z-scored ALS score
    svd_factors: int = 20
    svd_epochs: int = 30
    svd_reg: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Index:
    users: np.ndarray  # sorted customer ids with training interactions
    items: np.ndarray  # sorted product ids of the training catalog

    def user_pos(self, ids) -> np.ndarray:
        return _positions(self.users, np.asarray(ids, dtype=np.int64))

    def item_pos(self, ids) -> np.ndarray:
        return _positions(self.items, np.asarray(ids, dtype=np.int64))


def _positions(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    if len(sorted_ids) == 0:
        return np.full(len(ids), -1)
    pos = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.where(sorted_ids[pos] == ids, pos, -1)


def build_index(data: RecData) -> Index:
    users = np.union1d(
        data.interactions[C.CUSTOMER_ID].to_numpy(np.int64), data.bought[C.CUSTOMER_ID].to_numpy(np.int64)
    )
    return Index(users, np.sort(data.catalog[C.PRODUCT_ID].to_numpy(np.int64)))


def _matrix(frame: pd.DataFrame, values: np.ndarray, index: Index) -> csr_matrix:
    u = index.user_pos(frame[C.CUSTOMER_ID])
    i = index.item_pos(frame[C.PRODUCT_ID])
    keep = (u >= 0) & (i >= 0) & (values > 0)
    return csr_matrix(
        (values[keep].astype(np.float32), (u[keep], i[keep])), shape=(len(index.users), len(index.items))
    )


def confidence_matrix(data: RecData, index: Index, params: RecParams) -> csr_matrix:
    x = data.interactions
    values = (
        x["views"].to_numpy()
        + params.cart_weight * x["carts"].to_numpy()
        + params.purchase_weight * x["purchases"].to_numpy()
    )
    return _matrix(x, values, index)


def bought_matrix(data: RecData, index: Index) -> csr_matrix:
    m = _matrix(data.bought, data.bought["lines"].to_numpy(dtype=float), index)
    m.sort_indices()
    return m


def fit_als(
    matrix: csr_matrix, params: RecParams, *, seed: int, n_jobs: int
) -> tuple[np.ndarray, np.ndarray]:
    """(user_factors, item_factors) of implicit's ALS on a user x item confidence matrix."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top slows it down
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=params.alpha,
            iterations=params.iterations,
            random_state=seed,
            num_threads=n_jobs,
            calculate_training_loss=False,
        )
        model.fit(matrix, show_progress=False)
    return np.asarray(model.user_factors, dtype=np.float32), np.asarray(model.item_factors, dtype=np.float32)


def cold_item_factors(item_factors: np.ndarray, matrix: csr_matrix, categories: np.ndarray) -> np.ndarray:
    """Items without interactions: their category's mean factor x COLD_ITEM_SHRINK. Returns the cold mask."""
    cold = np.asarray(matrix.getnnz(axis=0) == 0)
    for cat in np.unique(categories[cold]):
        warm = (categories == cat) & ~cold
        mean = item_factors[warm].mean(axis=0) if warm.any() else np.zeros(item_factors.shape[1])
        item_factors[(categories == cat) & cold] = COLD_ITEM_SHRINK * mean
    return cold


@dataclass
class SvdFit:
    algo: object
    mu: float
    bu: np.ndarray  # aligned to the index's users (0 = unknown)
    bi: np.ndarray
    pu: np.ndarray
    qi: np.ndarray


def fit_svd(reviews: pd.DataFrame, index: Index, params: RecParams, *, seed: int) -> SvdFit:
    from surprise import SVD, Dataset, Reader

    nu, ni, f = len(index.users), len(index.items), params.svd_factors
    bu, bi = np.zeros(nu, np.float32), np.zeros(ni, np.float32)
    pu, qi = np.zeros((nu, f), np.float32), np.zeros((ni, f), np.float32)
    if reviews.empty:
        return SvdFit(None, 0.0, bu, bi, pu, qi)
    data = Dataset.load_from_df(reviews[[C.CUSTOMER_ID, C.PRODUCT_ID, C.RATING]], Reader(rating_scale=(1, 5)))
    trainset = data.build_full_trainset()
    algo = SVD(n_factors=f, n_epochs=params.svd_epochs, reg_all=params.svd_reg, random_state=seed)
    algo.fit(trainset)
    raw_users = np.array([trainset.to_raw_uid(i) for i in range(trainset.n_users)], dtype=np.int64)
    raw_items = np.array([trainset.to_raw_iid(i) for i in range(trainset.n_items)], dtype=np.int64)
    upos, ipos = index.user_pos(raw_users), index.item_pos(raw_items)
    ku, ki = upos >= 0, ipos >= 0
    bu[upos[ku]], pu[upos[ku]] = algo.bu[ku], algo.pu[ku]
    bi[ipos[ki]], qi[ipos[ki]] = algo.bi[ki], algo.qi[ki]
    return SvdFit(algo, float(trainset.global_mean), bu, bi, pu, qi)


def svd_predict(fit: SvdFit, reviews: pd.DataFrame) -> np.ndarray:
    """Surprise's own predictions (clipped to 1..5) for (customer, product) pairs."""
    if fit.algo is None:
        return np.full(len(reviews), 3.0)
    return np.array(
        [
            fit.algo.predict(int(u), int(i)).est
            for u, i in zip(reviews[C.CUSTOMER_ID], reviews[C.PRODUCT_ID], strict=True)
        ]
    )


def popularity(data: RecData, index: Index) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Completed lines per product over the last POPULARITY_DAYS of training: global and per country."""
    recent = data.recent.merge(data.train_customers, on=C.CUSTOMER_ID, how="left")
    pos = index.item_pos(recent[C.PRODUCT_ID])
    keep = pos >= 0
    lines = recent["lines"].to_numpy(dtype=float)
    global_pop = np.bincount(pos[keep], weights=lines[keep], minlength=len(index.items))
    scale = max(float(global_pop.max()), 1.0)
    countries = recent[C.COUNTRY].astype(str).to_numpy()
    by_country = {}
    for country in np.unique(countries[keep]):
        here = keep & (countries == country)
        counts = np.bincount(pos[here], weights=lines[here], minlength=len(index.items))
        by_country[str(country)] = (
            counts / max(float(counts.max()), 1.0) + COUNTRY_GLOBAL_PRIOR * global_pop / scale
        )
    return global_pop, by_country


@dataclass
class FittedRecommender:
    index: Index
    params: RecParams
    state: dict
    svd: SvdFit
    bought: csr_matrix


def fit_recommender(
    data: RecData, params: RecParams, *, seed: int, n_jobs: int, svd: SvdFit | None = None
) -> FittedRecommender:
    index = build_index(data)
    matrix = confidence_matrix(data, index, params)
    user_f, item_f = fit_als(matrix, params, seed=seed, n_jobs=n_jobs)
    categories = data.catalog.set_index(C.PRODUCT_ID).loc[index.items, C.CATEGORY].to_numpy().astype(str)
    cold = cold_item_factors(item_f, matrix, categories)
    svd = svd or fit_svd(data.reviews, index, params, seed=seed)
    bought = bought_matrix(data, index)
    state = {
        "user_ids": index.users,
        "item_ids": index.items,
        "user_factors": user_f,
        "item_factors": item_f,
        "item_cold": cold,
        "item_category": categories,
        "blend_weight": float(params.blend_weight),
        "svd_bu": svd.bu,
        "svd_bi": svd.bi,
        "svd_pu": svd.pu,
        "svd_qi": svd.qi,
        **shared_state(data, index, bought),
        "info": {"train_end": data.train_end.isoformat(), "params": params.to_dict()},
    }
    return FittedRecommender(index, params, state, svd, bought)


def shared_state(data: RecData, index: Index, bought: csr_matrix) -> dict:
    """What both served recommenders keep for cold start, fills and leaving out what was bought:
    each customer's bought items, popularity overall and per country, each customer's country."""
    global_pop, by_country = popularity(data, index)
    return {
        "bought_indptr": bought.indptr.astype(np.int64),
        "bought_indices": bought.indices.astype(np.int64),
        "global_popularity": global_pop,
        "country_popularity": by_country,
        "customer_country": {
            int(k): str(v)
            for k, v in zip(data.train_customers[C.CUSTOMER_ID], data.train_customers[C.COUNTRY], strict=True)
        },
    }


def signature() -> ModelSignature:
    inputs = Schema(
        [
            ColSpec("long", C.CUSTOMER_ID),
            ColSpec("long", "k", required=False),
            ColSpec("string", C.COUNTRY, required=False),
            ColSpec("string", "categories", required=False),
        ]
    )
    outputs = Schema(
        [
            ColSpec("long", C.CUSTOMER_ID),
            ColSpec("long", RANK),
            ColSpec("long", C.PRODUCT_ID),
            ColSpec("double", SCORE),
            ColSpec("string", SOURCE),
            # the re-ranked model's (RerankedRecommenderPyfunc.annotate)
            ColSpec("double", "confidence", required=False),
            ColSpec("long", "because_product_id", required=False),
            ColSpec("string", "because_action", required=False),
            ColSpec("string", "popular_in", required=False),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(customer_id: int) -> pd.DataFrame:
    return pd.DataFrame({C.CUSTOMER_ID: [int(customer_id)], "k": [10]})


def pyfunc(fitted: FittedRecommender) -> RecommenderPyfunc:
    return RecommenderPyfunc(fitted.state)


def tune(
    conn,
    data: RecData,
    params: RecParams,
    *,
    n_trials: int,
    seed: int,
    n_jobs: int,
    holdout_days: int,
    k: int = 10,
) -> tuple[RecParams, float]:
    """Best parameters by NDCG@k on the last `holdout_days` of the training window (Optuna TPE)."""
    import optuna

    from ecomm.ml.recommend import evaluate as ev

    if n_trials <= 0:
        return params, float("nan")
    val = load_rec_data(
        conn,
        holdout_days=holdout_days,
        train_end=data.train_end - timedelta(days=holdout_days),
        holdout_end=data.train_end,
    )
    require_recommendable(val)
    users, relevant, countries = ev.holdout_users(val)
    svd = fit_svd(val.reviews, build_index(val), params, seed=seed)

    def objective(trial) -> float:
        trial_params = replace(
            params,
            factors=trial.suggest_categorical("factors", [16, 32, 64, 96]),
            regularization=trial.suggest_float("regularization", 0.005, 1.0, log=True),
            alpha=trial.suggest_float("alpha", 1.0, 50.0, log=True),
            iterations=trial.suggest_int("iterations", 8, 25),
            cart_weight=trial.suggest_float("cart_weight", 1.0, 6.0),
            purchase_weight=trial.suggest_float("purchase_weight", 2.0, 20.0, log=True),
            blend_weight=trial.suggest_float("blend_weight", 0.0, 1.0),
        )
        fitted = fit_recommender(val, trial_params, seed=seed, n_jobs=n_jobs, svd=svd)
        lists = ev.model_lists(RecommenderPyfunc(fitted.state), users, countries, k)
        return ranking_metrics(lists, relevant, k)[f"ndcg_at_{k}"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, min(6, n_trials // 2)))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.enqueue_trial(
        {
            name: getattr(params, name)
            for name in (
                "factors",
                "regularization",
                "alpha",
                "iterations",
                "cart_weight",
                "purchase_weight",
                "blend_weight",
            )
        }
    )
    study.optimize(objective, n_trials=n_trials)
    return replace(params, **study.best_params), float(study.best_value)
