"""Recommender training stage: tune ALS + blend on a validation split (Optuna, bounded and seeded),
fit on the whole training window, evaluate on the temporal holdout against popularity and the oracle,
log to MLflow, register `recommender_model` and run the promotion gate (NDCG@10 on the holdout).

Splits (default holdout 28 days): training = everything before the holdout; tuning fits on
training minus its last 28 days and scores those 28 days. The registered model is the one trained
before the holdout, so the gate and `ecomm evaluate` score it on data it has never seen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import timedelta

import numpy as np

from ecomm import db
from ecomm.ml import registry, tracking
from ecomm.ml.metrics import ranking_metrics
from ecomm.ml.recommend import evaluate as ev
from ecomm.ml.recommend import model as M
from ecomm.ml.recommend.dataset import HOLDOUT_DAYS, RecData, load_rec_data, require_recommendable
from ecomm.ml.serving import RecommenderPyfunc
from ecomm.settings import Settings

GATE_METRIC = "ndcg_at_10"


@dataclass(frozen=True)
class RecConfig:
    holdout_days: int = HOLDOUT_DAYS
    n_trials: int = 12
    seed: int = 42
    n_jobs: int = 2
    k: int = 10
    margin: float = 0.005
    params: M.RecParams = field(default_factory=M.RecParams)  # the starting point of tuning

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> RecConfig:
        base = {
            "seed": settings.seed,
            "margin": settings.promotion_margin,
            "n_trials": settings.recommender_trials,
        }
        return cls(**{**base, **overrides})


@dataclass
class RecResult:
    run_id: str
    version: str
    metrics: dict[str, dict[str, float]]
    ratings: dict[str, float]
    gate: registry.GateDecision
    params: dict
    split: dict
    seconds: float


def tune(conn, data: RecData, config: RecConfig) -> tuple[M.RecParams, float]:
    """Best parameters by NDCG@k on the last `holdout_days` of the training window."""
    import optuna

    if config.n_trials <= 0:
        return config.params, float("nan")
    val = load_rec_data(
        conn,
        holdout_days=config.holdout_days,
        train_end=data.train_end - timedelta(days=config.holdout_days),
        holdout_end=data.train_end,
    )
    require_recommendable(val)
    users, relevant, countries = ev.holdout_users(val)
    svd = M.fit_svd(val.reviews, M.build_index(val), config.params, seed=config.seed)

    def objective(trial) -> float:
        params = replace(
            config.params,
            factors=trial.suggest_categorical("factors", [16, 32, 64, 96]),
            regularization=trial.suggest_float("regularization", 0.005, 1.0, log=True),
            alpha=trial.suggest_float("alpha", 1.0, 50.0, log=True),
            iterations=trial.suggest_int("iterations", 8, 25),
            cart_weight=trial.suggest_float("cart_weight", 1.0, 6.0),
            purchase_weight=trial.suggest_float("purchase_weight", 2.0, 20.0, log=True),
            blend_weight=trial.suggest_float("blend_weight", 0.0, 1.0),
        )
        fitted = M.fit_recommender(val, params, seed=config.seed, n_jobs=config.n_jobs, svd=svd)
        lists = ev.model_lists(RecommenderPyfunc(fitted.state), users, countries, config.k)
        return ranking_metrics(lists, relevant, config.k)[f"ndcg_at_{config.k}"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(
        seed=config.seed, n_startup_trials=max(1, min(6, config.n_trials // 2))
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    p = config.params
    study.enqueue_trial(
        {
            "factors": p.factors,
            "regularization": p.regularization,
            "alpha": p.alpha,
            "iterations": p.iterations,
            "cart_weight": p.cart_weight,
            "purchase_weight": p.purchase_weight,
            "blend_weight": p.blend_weight,
        }
    )
    study.optimize(objective, n_trials=config.n_trials)
    return replace(config.params, **study.best_params), float(study.best_value)


def holdout_ndcg(model_uri: str, users: list[int], relevant: dict, countries: dict, k: int) -> float:
    import mlflow

    lists = ev.model_lists(mlflow.pyfunc.load_model(model_uri), users, countries, k)
    return ranking_metrics(lists, relevant, k)[f"ndcg_at_{k}"]


def train_recommender(settings: Settings, config: RecConfig | None = None) -> RecResult:
    import mlflow

    config = config or RecConfig.from_settings(settings)
    started = time.perf_counter()
    with db.connection(settings) as conn:
        data = load_rec_data(conn, holdout_days=config.holdout_days)
        require_recommendable(data)
        params, val_ndcg = tune(conn, data, config)
        fitted = M.fit_recommender(data, params, seed=config.seed, n_jobs=config.n_jobs)
        users, relevant, countries = ev.holdout_users(data)
        model = RecommenderPyfunc(fitted.state)
        lists = {
            ev.MODEL: ev.model_lists(model, users, countries, config.k),
            ev.POPULARITY: ev.popularity_lists(data, users, config.k),
            ev.ORACLE: ev.oracle_lists(conn, data, users, config.k),
        }
        truth_corr = ev.svd_truth_correlation(
            conn, fitted, [u for u in users if u in set(fitted.index.users)]
        )
    warm = set(fitted.index.users.tolist())
    table = ev.evaluate_lists(lists, relevant, {u for u in users if u in warm}, len(data.catalog), config.k)
    ratings = ev.rating_metrics(fitted.svd, data, M.svd_predict)
    ratings["svd_true_score_spearman"] = truth_corr
    fit_seconds = time.perf_counter() - started

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.RECOMMENDER_EXPERIMENT)
    split = data.describe()
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"recommender-{data.train_end}") as run:
        mlflow.log_params(
            {
                **{f"als_{k}": v for k, v in params.to_dict().items()},
                **split,
                "holdout_days": config.holdout_days,
                "n_trials": config.n_trials,
                "seed": config.seed,
                "k": config.k,
                "holdout_users": len(users),
                "warm_users": len(warm & set(users)),
            }
        )
        k = config.k
        flat = {f"{name}_{m}": v for name, ms in table.items() for m, v in ms.items() if np.isfinite(v)}
        flat |= {m: v for m, v in ratings.items() if np.isfinite(v)}
        flat["validation_ndcg_at_10"] = val_ndcg if np.isfinite(val_ndcg) else 0.0
        mod, pop, orc = table[ev.MODEL], table[ev.POPULARITY], table[ev.ORACLE]
        if pop[f"ndcg_at_{k}"] > 0:
            flat["ndcg_to_popularity"] = mod[f"ndcg_at_{k}"] / pop[f"ndcg_at_{k}"]
        if orc[f"ndcg_at_{k}"] > 0:
            flat["ndcg_to_oracle"] = mod[f"ndcg_at_{k}"] / orc[f"ndcg_at_{k}"]
        if pop[f"coverage_at_{k}"] > 0:
            flat["coverage_to_popularity"] = mod[f"coverage_at_{k}"] / pop[f"coverage_at_{k}"]
        flat["fit_seconds"] = fit_seconds
        mlflow.log_metrics(flat)
        mlflow.log_dict({"ranking": table, "ratings": ratings, "split": split}, "evaluation/metrics.json")
        mlflow.log_figure(_ranking_plot(table, k), "plots/ranking.png")

        example_user = int(fitted.index.users[0]) if len(fitted.index.users) else 1
        info = registry.log_pyfunc(
            model,
            name=registry.RECOMMENDER_MODEL,
            signature=M.signature(),
            input_example=M.input_example(example_user),
            requirements=registry.pip_requirements(),
            metadata={"train_end": data.train_end.isoformat(), "k": k, "params": params.to_dict()},
        )
        version = str(info.registered_model_version)
        gate = registry.promotion_gate(
            client,
            registry.RECOMMENDER_MODEL,
            version,
            metric=GATE_METRIC,
            score=lambda uri: holdout_ndcg(uri, users, relevant, countries, k),
            margin=config.margin,
        )
        mlflow.log_metric("gate_challenger_ndcg_at_10", gate.challenger_score)
        if gate.champion_score is not None:
            mlflow.log_metric("gate_champion_ndcg_at_10", gate.champion_score)
        mlflow.set_tags({"registered_version": version, "promoted": str(gate.promoted).lower()})
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    return RecResult(run.info.run_id, version, table, ratings, gate, params.to_dict(), split, seconds)


def _ranking_plot(table: dict, k: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", f"map_at_{k}", f"coverage_at_{k}"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    width = 0.8 / len(table)
    for j, (name, m) in enumerate(table.items()):
        ax.bar(np.arange(len(metrics)) + j * width, [m.get(x, 0.0) for x in metrics], width, label=name)
    ax.set_xticks(np.arange(len(metrics)) + width * (len(table) - 1) / 2, metrics, rotation=15)
    ax.set(title=f"Temporal holdout, top {k}")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig
