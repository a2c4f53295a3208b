"""Recommender training stage: the general library's re-ranked model (ecomm.ml.recommend.reranked)
fitted on the shop's events before the holdout, evaluated on the temporal holdout beside each of its
candidate generators alone, popularity, a tuned item-kNN and the oracle, logged to MLflow, registered
as `recommender_model` and put through the promotion gate (NDCG@10 on the holdout).

On an imported rating log (dataset.RATINGS: ratings in the order lines' place) the same stages run;
popularity over the whole training window is a row of its own beside the last 56 days' (the shop's),
and there is no oracle (no planted truth). On an imported event log (dataset.EVENTS) likewise, with its
purchase events (every event, in a log without purchases) in the order lines' place.

Splits (default holdout 28 days): training = everything before the holdout; tuning (small grids, the
library's `tune`) fits on training minus its last 28 days and scores those 28 days. The registered
model is the one trained before the holdout, so the gate and `ecomm evaluate` score it on data it
has never seen.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecomm import db
from ecomm.features.churn import FeatureError
from ecomm.ml import registry, tracking
from ecomm.ml.metrics import ranking_metrics
from ecomm.ml.recommend import calibration as CAL
from ecomm.ml.recommend import evaluate as ev
from ecomm.ml.recommend import model as M
from ecomm.ml.recommend import reranked as R
from ecomm.ml.recommend.dataset import (
    HOLDOUT_DAYS,
    SHOP,
    has_truth,
    load_rec_data,
    require_recommendable,
)
from ecomm.ml.recommend.general.interactions import InteractionsError
from ecomm.ml.recommend.general.recommender import GeneralRecommender
from ecomm.ml.recommend.general.rerank import NotEnoughLabels
from ecomm.ml.recommend.general.shop import from_rec_data, rec_params
from ecomm.ml.serving import (
    CONFIDENCE,
    MAX_K,
    RERANKED,
    RERANKED_NEW_ITEM,
    SOURCE,
    RerankedRecommenderPyfunc,
)
from ecomm.monitoring.models import store_reference
from ecomm.monitoring.recommender import CATEGORICAL as RECOMMENDER_CATEGORICAL
from ecomm.monitoring.recommender import recommendation_population
from ecomm.monitoring.reference import training_reference
from ecomm.settings import Settings

log = logging.getLogger(__name__)
GATE_METRIC = "ndcg_at_10"
TOP_SHOWN = 10  # the ranks a default request shows: their calibration is checked on its own
ITEM_KNN_TUNED = "item_knn_tuned"


@dataclass(frozen=True)
class RecConfig:
    holdout_days: int = HOLDOUT_DAYS
    n_trials: int = 2  # re-ranker label-window settings tried on validation (< 2: the defaults)
    seed: int = 42
    n_jobs: int = 2
    k: int = 10
    margin: float = 0.005

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
    gate: registry.GateDecision
    params: dict
    split: dict
    seconds: float
    tuning: dict  # validation NDCG@10 per combination tried, per tuned part


def holdout_ndcg(model_uri: str, users: list[int], relevant: dict, countries: dict, k: int) -> float:
    import mlflow

    lists = ev.model_lists(mlflow.pyfunc.load_model(model_uri), users, countries, k)
    return ranking_metrics(lists, relevant, k)[f"ndcg_at_{k}"]


@dataclass
class Fitted:
    model: RerankedRecommenderPyfunc
    table: dict[str, dict[str, float]]
    params: dict
    tuning: dict
    users: list[int]
    relevant: dict
    countries: dict
    warm: set[int]
    split: dict
    train_end: str
    stage_seconds: dict[str, float]
    stage_cpu_seconds: dict[str, float]
    calibration: dict  # the holdout's reliability of the served confidence (calibration_check)


class StageClock:
    """Wall and CPU seconds per training stage (read, tune, tune_item_knn, calibrate, fit, lists,
    evaluate): where the time goes. CPU is the process's (every thread: LightGBM's, implicit's)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}
        self._last = time.perf_counter()
        self._last_cpu = time.process_time()

    def lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[stage] = now - self._last
        self.cpu_seconds[stage] = cpu - self._last_cpu
        self._last, self._last_cpu = now, cpu
        log.info("stage %s: %.1f s wall, %.1f s CPU", stage, self.seconds[stage], self.cpu_seconds[stage])


def fit_and_evaluate(conn, config: RecConfig) -> Fitted:
    """Tune on validation, fit before the holdout, precompute the served lists, score every row.
    The library's own refusals (too little to learn from) are a FeatureError: the model is skipped
    with the library's reason."""
    try:
        return _fit_and_evaluate(conn, config)
    except (InteractionsError, NotEnoughLabels) as error:
        raise FeatureError(f"the re-ranked recommender cannot be trained here: {error}") from error


def _fit_and_evaluate(conn, config: RecConfig) -> Fitted:
    clock = StageClock()
    data = load_rec_data(conn, holdout_days=config.holdout_days)
    require_recommendable(data)
    frame, items = from_rec_data(conn, data)
    clock.lap("read")
    params = rec_params(data, seed=config.seed, num_threads=config.n_jobs)
    validation_start = pd.Timestamp(data.train_end - timedelta(days=config.holdout_days))
    reranker = R.tune_reranker(frame, items, params, validation_start, config.n_trials)
    clock.lap("tune")
    curves = R.calibrated_curves(
        frame, items, reranker.params, validation_start, fitted=reranker.model, fitted_lists=reranker.lists
    )
    reranker = replace(reranker, model=None, lists=None)  # the tuned model's last use: let it go
    clock.lap("calibrate")
    knn_name, knn = R.tune_item_knn(frame, items, params, validation_start)
    clock.lap("tune_item_knn")  # the baseline row's tuning, not the served model's
    model = GeneralRecommender(reranker.params).fit(frame, items)
    clock.lap("fit")
    served = RerankedRecommenderPyfunc(R.build_state(model, data, R.served_lists(model), curves))
    clock.lap("lists")
    users, relevant, countries = ev.holdout_users(data)
    k = config.k
    lists = {
        ev.MODEL: ev.model_lists(served, users, countries, k),
        **R.generator_lists(model, users, k),
        ITEM_KNN_TUNED: R.item_knn_lists(frame, items, knn_name, knn.params, users, k, log=model.log),
        ev.POPULARITY: ev.popularity_lists(data, users, k),
    }
    if data.source != SHOP:  # an imported log: whole-window popularity beside the shop's 56 days
        lists[ev.POPULARITY_ALL] = ev.whole_window_popularity_lists(data, users, k)
    if has_truth(conn):
        lists[ev.ORACLE] = ev.oracle_lists(conn, data, users, k)
    known = set(served.state["user_ids"].tolist())
    warm = {u for u in users if u in known}
    item_users = dict(zip(model.log.item_ids, model.log.item_users(), strict=True))
    table = ev.evaluate_lists(
        lists, relevant, warm, len(data.catalog), k, item_users=item_users, n_users=len(model.log.users)
    )
    calibration = calibration_check(served, users, relevant, countries, curves)
    clock.lap("evaluate")
    split = data.describe() | {"validation_start": validation_start.date().isoformat()}
    tuning = {
        "reranked": {"validation_ndcg_at_10": reranker.validation_ndcg, "grid": reranker.table},
        ITEM_KNN_TUNED: {
            "generator": knn_name,
            "neighbours": knn.params.neighbours,
            "validation_ndcg_at_10": knn.validation_ndcg,
            "grid": knn.table,
        },
    }
    return Fitted(
        served,
        table,
        R.params_dict(reranker.params),
        tuning,
        users,
        relevant,
        countries,
        warm,
        split,
        data.train_end.isoformat(),
        clock.seconds,
        clock.cpu_seconds,
        calibration,
    )


def calibration_check(served, users: list[int], relevant: dict, countries: dict, curves: dict) -> dict:
    """Reliability of the served confidence on the holdout: every holdout customer's top MAX_K,
    hit = bought in the holdout; overall, over ranks 1..10 (what a default request shows) and per curve
    (personal: reranked rows, popular: the rest)."""
    frame = pd.DataFrame(
        {
            "customer_id": np.asarray(users, dtype=np.int64),
            "k": np.full(len(users), MAX_K, dtype=np.int64),
            "country": [countries.get(u, "") for u in users],
        }
    )
    out = served.predict(None, frame)
    hit = np.array(
        [
            int(p) in relevant.get(int(u), ())
            for u, p in zip(out["customer_id"], out["product_id"], strict=True)
        ]
    )
    personal = out[SOURCE].isin([RERANKED, RERANKED_NEW_ITEM]).to_numpy()
    top = out["rank"].to_numpy() <= TOP_SHOWN
    conf = out[CONFIDENCE].to_numpy()
    return {
        "all": CAL.reliability(conf, hit),
        "top10": CAL.reliability(conf[top], hit[top]),
        "personal": CAL.reliability(conf[personal], hit[personal]),
        "popular": CAL.reliability(conf[~personal], hit[~personal]),
        "learned_on": {k: v for k, v in curves.items() if k not in ("personal", "popular")},
        "curve_top10": {k: [round(float(x), 4) for x in curves[k][:10]] for k in ("personal", "popular")},
    }


def ratio_metrics(table: dict, k: int) -> dict[str, float]:
    """The served model's NDCG@k over popularity's and the oracle's (when there is one: imported
    data has no truth), coverage over popularity's."""
    mod, pop, orc = table[ev.MODEL], table[ev.POPULARITY], table.get(ev.ORACLE)
    out = {}
    if pop[f"ndcg_at_{k}"] > 0:
        out["ndcg_to_popularity"] = mod[f"ndcg_at_{k}"] / pop[f"ndcg_at_{k}"]
    if orc is not None and orc[f"ndcg_at_{k}"] > 0:
        out["ndcg_to_oracle"] = mod[f"ndcg_at_{k}"] / orc[f"ndcg_at_{k}"]
    if pop[f"coverage_at_{k}"] > 0:
        out["coverage_to_popularity"] = mod[f"coverage_at_{k}"] / pop[f"coverage_at_{k}"]
    return out


def train_recommender(settings: Settings, config: RecConfig | None = None) -> RecResult:
    import mlflow

    config = config or RecConfig.from_settings(settings)
    started, started_cpu = time.perf_counter(), time.process_time()
    with db.connection(settings) as conn:
        fitted = fit_and_evaluate(conn, config)
    fit_seconds, fit_cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
    table, k = fitted.table, config.k

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.RECOMMENDER_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"recommender-{fitted.train_end}") as run:
        mlflow.log_params(
            {
                **{f"lib_{name}": v for name, v in fitted.params.items()},
                **fitted.split,
                "holdout_days": config.holdout_days,
                "n_trials": config.n_trials,
                "seed": config.seed,
                "k": k,
                "holdout_users": len(fitted.users),
                "warm_users": len(fitted.warm),
                "item_knn_tuned": f"{fitted.tuning[ITEM_KNN_TUNED]['generator']}, "
                f"{fitted.tuning[ITEM_KNN_TUNED]['neighbours']} neighbours",
            }
        )
        flat = {f"{name}_{m}": v for name, ms in table.items() for m, v in ms.items() if np.isfinite(v)}
        val = fitted.tuning["reranked"]["validation_ndcg_at_10"]
        flat["validation_ndcg_at_10"] = val if np.isfinite(val) else 0.0
        flat |= ratio_metrics(table, k)
        flat["fit_seconds"], flat["fit_cpu_seconds"] = fit_seconds, fit_cpu_seconds
        flat |= {f"stage_{stage}_seconds": v for stage, v in fitted.stage_seconds.items()}
        flat |= {f"stage_{stage}_cpu_seconds": v for stage, v in fitted.stage_cpu_seconds.items()}
        flat |= {
            f"calibration_{part}_{m}": fitted.calibration[part][m]
            for part in ("all", "top10", "personal", "popular")
            for m in ("ece", "brier")
            if np.isfinite(fitted.calibration[part][m])
        }
        mlflow.log_metrics(flat)
        mlflow.log_dict(fitted.calibration, "evaluation/calibration.json")
        mlflow.log_dict(
            {"ranking": table, "split": fitted.split, "tuning": fitted.tuning}, "evaluation/metrics.json"
        )
        mlflow.log_figure(_ranking_plot(table, k), "plots/ranking.png")

        users = fitted.model.state["user_ids"]
        info = registry.log_pyfunc(
            fitted.model,
            name=registry.RECOMMENDER_MODEL,
            signature=M.signature(),
            input_example=M.input_example(int(users[0]) if len(users) else 1),
            requirements=registry.pip_requirements(),
            metadata={"train_end": fitted.train_end, "k": k, "params": fitted.params},
        )
        version = str(info.registered_model_version)
        store_recommender_reference(settings, client, fitted, version)
        gate = registry.promotion_gate(
            client,
            registry.RECOMMENDER_MODEL,
            version,
            metric=GATE_METRIC,
            score=lambda uri: holdout_ndcg(uri, fitted.users, fitted.relevant, fitted.countries, k),
            margin=config.margin,
        )
        mlflow.log_metric("gate_challenger_ndcg_at_10", gate.challenger_score)
        if gate.champion_score is not None:
            mlflow.log_metric("gate_champion_ndcg_at_10", gate.champion_score)
        mlflow.set_tags({"registered_version": version, "promoted": str(gate.promoted).lower()})
        seconds = time.perf_counter() - started
        mlflow.log_metrics({"train_seconds": seconds, "train_cpu_seconds": time.process_time() - started_cpu})
    return RecResult(
        run.info.run_id, version, table, gate, fitted.params, fitted.split, seconds, fitted.tuning
    )


def store_recommender_reference(settings: Settings, client, fitted: Fitted, version: str) -> None:
    """The version's drift reference: the customers who bought in the 4 weeks before its training end
    and what it recommends them (monitoring.recommender), the population model_drift compares daily."""
    with db.connection(settings) as conn:
        features, score = recommendation_population(fitted.model, conn, date.fromisoformat(fitted.train_end))
    reference = training_reference(features, RECOMMENDER_CATEGORICAL, score)
    store_reference(client, registry.RECOMMENDER_MODEL, version, reference)


def _ranking_plot(table: dict, k: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [f"precision_at_{k}", f"recall_at_{k}", f"ndcg_at_{k}", f"map_at_{k}", f"coverage_at_{k}"]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    width = 0.8 / len(table)
    for j, (name, m) in enumerate(table.items()):
        ax.bar(np.arange(len(metrics)) + j * width, [m.get(x, 0.0) for x in metrics], width, label=name)
    ax.set_xticks(np.arange(len(metrics)) + width * (len(table) - 1) / 2, metrics, rotation=15)
    ax.set(title=f"Temporal holdout, top {k}")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    plt.close(fig)
    return fig
