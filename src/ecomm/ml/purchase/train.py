"""`ecomm train purchase`: purchase propensity (P(at least one completed order in the next 30 days))
for every customer signed up before the cutoff, tracked in MLflow, registered as `purchase_model`
and gated like churn (ecomm.ml.registry.promotion_gate: ROC-AUC on the evaluation cutoff, the fresh
holdout no training label reaches, by at least the promotion margin).

Candidates, each an sklearn Pipeline of ecomm.ml.builders driven by one FeatureSpec whose column
roles come from the dtypes (infer_spec; never the shop's column names): logistic regression and an
MLP (sklearn MLPClassifier, one small hidden pair of layers, early stopping) on the linear
preprocessing, XGBoost on the tree preprocessing (monotone in each numeric feature in the direction
the training rows give it). Each is fit on the earlier training cutoffs and
validated on the latest (dataset.time_split); the one with the best validation ROC-AUC (the earlier
in FAMILIES on a tie) is refit on every training cutoff and registered. Logged on the evaluation
cutoff: every candidate's ROC-AUC, accuracy and top-decile lift, the same for the recency rule
("ordered in the last 30 days -> will order") and the majority class's accuracy; on the simulated
shop also the planted truth's own (truth.customer_purchase at the evaluation cutoff, read for
evaluation only) and the served model's AUC over the truth's (`auc_to_truth`, target >= 0.95).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from ecomm import db
from ecomm.features.purchase import LABEL, never_active, recency_rule
from ecomm.ml import builders, registry, tracking
from ecomm.ml.builders import FeatureSpec, infer_spec, linear_preprocessing, make_logreg, make_xgb
from ecomm.ml.purchase import evaluate as ev
from ecomm.ml.purchase.dataset import (
    PurchaseData,
    load_purchase_data,
    time_split,
    true_purchase,
    truth_scores,
)
from ecomm.ml.serving import PURCHASE_PROBABILITY, PurchasePyfunc
from ecomm.monitoring.models import store_reference
from ecomm.monitoring.reference import reference_categories, training_reference
from ecomm.settings import Settings

LOGREG, XGBOOST, MLP = "logreg", "xgboost", "mlp"
FAMILIES = (LOGREG, XGBOOST, MLP)  # in the order that wins a tie
RECENCY_RULE, TRUTH = "recency_rule", "truth"
GATE_METRIC = "roc_auc"
XGB_PARAMS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "max_depth": 4,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}


@dataclass(frozen=True)
class PurchaseConfig:
    horizon_days: int = 30
    max_train_cutoffs: int = 6
    min_history_days: int = 60
    logreg_c: float = 0.5
    xgb_estimators: int = 300
    mlp_layers: tuple[int, ...] = (32, 16)
    mlp_max_iter: int = 200
    seed: int = 42
    n_jobs: int = 2
    margin: float = 0.005

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> PurchaseConfig:
        sized = {"xgb_estimators": settings.purchase_trees, "mlp_max_iter": settings.purchase_epochs}
        return cls(**{"seed": settings.seed, "margin": settings.promotion_margin, **sized, **overrides})


@dataclass
class PurchaseResult:
    run_id: str
    version: str
    family: str
    metrics: dict[str, float]
    table: dict[str, dict[str, float]]  # scorer -> roc_auc, accuracy, top_decile_lift (evaluation cutoff)
    validation: dict[str, float]
    gate: registry.GateDecision
    plan: dict
    seconds: float
    features: list[str] = field(default_factory=list)


def make_mlp(spec: FeatureSpec, *, layers: tuple[int, ...], max_iter: int, seed: int) -> Pipeline:
    model = MLPClassifier(
        hidden_layer_sizes=layers,
        alpha=1e-3,
        early_stopping=True,  # stops on a held-out tenth of the fit rows
        max_iter=max_iter,
        random_state=seed,
    )
    return Pipeline([("prepare", linear_preprocessing(spec)), ("model", model)])


def candidates(spec: FeatureSpec, config: PurchaseConfig, rows: pd.DataFrame) -> dict[str, Pipeline]:
    """Unfitted pipelines of every family, to be fit on `rows`. XGBoost is monotone in each numeric
    feature in the direction of its rank correlation with the label in `rows` (builders.directions:
    by the data, not the names): unconstrained trees on a few thousand rows let a customer who
    ordered last week score below the same customer lapsed for months."""
    directions = builders.directions(rows, spec.numbers, LABEL)
    return {
        LOGREG: make_logreg(spec, c=config.logreg_c, seed=config.seed),
        XGBOOST: make_xgb(
            spec,
            params={**XGB_PARAMS, "n_estimators": config.xgb_estimators},
            seed=config.seed,
            n_jobs=config.n_jobs,
            directions=directions,
        ),
        MLP: make_mlp(spec, layers=config.mlp_layers, max_iter=config.mlp_max_iter, seed=config.seed),
    }


def best_family(validation: dict[str, float]) -> str:
    return max(FAMILIES, key=lambda family: (validation[family], -FAMILIES.index(family)))


@dataclass
class FittedPurchase:
    spec: FeatureSpec
    validation: dict[str, float]
    family: str
    models: dict[str, Pipeline]  # every family refit on all training cutoffs

    @property
    def served(self) -> Pipeline:
        return self.models[self.family]


def fit_purchase(data: PurchaseData, config: PurchaseConfig) -> FittedPurchase:
    """Validate each family on the latest training cutoff, refit all on every cutoff (pure, for tests)."""
    spec = infer_spec(data.train, data.features)
    x, y = data.train[spec.columns], data.train[LABEL].to_numpy()
    fit_idx, val_idx = time_split(data.train, config.horizon_days)
    validation = {}
    for family, pipeline in candidates(spec, config, data.train.iloc[fit_idx]).items():
        pipeline.fit(x.iloc[fit_idx], y[fit_idx])
        scores = pipeline.predict_proba(x.iloc[val_idx])[:, 1]
        validation[family] = ev.scorer_metrics(y[val_idx], scores)["roc_auc"]
    models = {family: pipeline.fit(x, y) for family, pipeline in candidates(spec, config, data.train).items()}
    return FittedPurchase(spec, validation, best_family(validation), models)


def evaluation_table(
    holdout: pd.DataFrame, fitted: FittedPurchase, truth: np.ndarray | None
) -> dict[str, dict[str, float]]:
    y = holdout[LABEL].to_numpy()
    x = holdout[fitted.spec.columns]
    scores = {family: model.predict_proba(x)[:, 1] for family, model in fitted.models.items()}
    scores[RECENCY_RULE] = recency_rule(holdout).to_numpy(dtype="float64")
    if truth is not None:
        scores[TRUTH] = truth
    return {name: ev.scorer_metrics(y, s) for name, s in scores.items()}


def summary_metrics(table: dict, family: str, y: np.ndarray) -> dict[str, float]:
    """The served model against the baselines (and the truth when there is one)."""
    served = table[family]
    majority = ev.majority_accuracy(y)
    out = {
        "served_roc_auc": served["roc_auc"],
        "served_accuracy": served["accuracy"],
        "majority_accuracy": majority,
        "accuracy_over_majority": served["accuracy"] - majority,
        "accuracy_over_recency_rule": served["accuracy"] - table[RECENCY_RULE]["accuracy"],
        "auc_over_recency_rule": served["roc_auc"] - table[RECENCY_RULE]["roc_auc"],
        "evaluation_purchase_rate": float(np.mean(y)),
    }
    if TRUTH in table:
        out["auc_to_truth"] = served["roc_auc"] / table[TRUTH]["roc_auc"]
    return out


def holdout_auc(model_uri: str, holdout: pd.DataFrame) -> float:
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    scores = model.predict(None, holdout)[PURCHASE_PROBABILITY].to_numpy()
    return ev.scorer_metrics(holdout[LABEL].to_numpy(), scores)["roc_auc"]


def train_purchase(settings: Settings, config: PurchaseConfig | None = None) -> PurchaseResult:
    import mlflow

    config = config or PurchaseConfig.from_settings(settings)
    started = time.perf_counter()
    with db.connection(settings) as conn:
        data = load_purchase_data(
            conn,
            config.horizon_days,
            max_train_cutoffs=config.max_train_cutoffs,
            min_history_days=config.min_history_days,
        )
        # evaluation only: the features never read truth
        truth = truth_scores(data.evaluation, true_purchase(conn, data.plan.evaluation, config.horizon_days))
    data_seconds = time.perf_counter() - started
    fitted = fit_purchase(data, config)
    holdout = data.evaluation
    table = evaluation_table(holdout, fitted, truth)
    summary = summary_metrics(table, fitted.family, holdout[LABEL].to_numpy())

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.PURCHASE_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"purchase-{data.plan.evaluation}") as run:
        mlflow.log_params(
            {
                "horizon_days": config.horizon_days,
                "train_cutoffs": ",".join(d.isoformat() for d in data.plan.train),
                "evaluation_cutoff": data.plan.evaluation.isoformat(),
                "train_rows": len(data.train),
                "evaluation_rows": len(holdout),
                "n_features": len(fitted.spec.columns),
                "family": fitted.family,
                "logreg_C": config.logreg_c,
                "xgb_n_estimators": config.xgb_estimators,
                "mlp_layers": ",".join(map(str, config.mlp_layers)),
                "mlp_max_iter": config.mlp_max_iter,
                "seed": config.seed,
            }
        )
        flat = {f"{name}_{k}": v for name, m in table.items() for k, v in m.items() if np.isfinite(v)}
        flat |= {f"validation_{k}_roc_auc": v for k, v in fitted.validation.items()}
        flat |= {k: v for k, v in summary.items() if np.isfinite(v)}
        flat["train_purchase_rate"] = float(data.train[LABEL].mean())
        flat["data_seconds"] = data_seconds
        mlflow.log_metrics(flat)
        mlflow.log_dict(
            {
                "plan": data.plan.to_dict(),
                "features": fitted.spec.columns,
                "feature_spec": fitted.spec.to_dict(),
            },
            "evaluation/features.json",
        )
        mlflow.log_dict(table, "evaluation/metrics.json")
        info = {
            "family": fitted.family,
            "horizon_days": config.horizon_days,
            "evaluation_cutoff": data.plan.evaluation.isoformat(),
            "train_cutoffs": [d.isoformat() for d in data.plan.train],
        }
        pyfunc = PurchasePyfunc(fitted.served, fitted.spec.columns, fitted.spec.to_dict(), info)
        example = holdout[fitted.spec.columns].head(3)
        logged = registry.log_pyfunc(
            pyfunc,
            name=registry.PURCHASE_MODEL,
            signature=mlflow.models.infer_signature(example, pyfunc.predict(None, example)),
            input_example=example,
            requirements=registry.pip_requirements("scikit-learn", "xgboost-cpu"),
            metadata={
                **info,
                "features": fitted.spec.columns,
                "feature_spec": fitted.spec.to_dict(),
                "threshold": ev.THRESHOLD,  # will_purchase in the API
            },
        )
        version = str(logged.registered_model_version)
        # the version's reference for its daily drift (ecomm.monitoring.models): the active customers
        # (those the daily scoring serves) of its most recent labelled population, the evaluation
        # cutoff's, as churn's
        reference_x = holdout[~never_active(holdout)][fitted.spec.columns]
        reference = training_reference(
            reference_x, reference_categories(fitted.spec), fitted.served.predict_proba(reference_x)[:, 1]
        )
        store_reference(client, registry.PURCHASE_MODEL, version, reference)
        gate = registry.promotion_gate(
            client,
            registry.PURCHASE_MODEL,
            version,
            metric=GATE_METRIC,
            score=lambda uri: holdout_auc(uri, holdout),
            margin=config.margin,
        )
        mlflow.log_metric("gate_challenger_roc_auc", gate.challenger_score)
        if gate.champion_score is not None:
            mlflow.log_metric("gate_champion_roc_auc", gate.champion_score)
        mlflow.set_tags(
            {"registered_version": version, "promoted": str(gate.promoted).lower(), "family": fitted.family}
        )
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    return PurchaseResult(
        run.info.run_id,
        version,
        fitted.family,
        summary,
        table,
        fitted.validation,
        gate,
        data.plan.to_dict(),
        seconds,
        fitted.spec.columns,
    )
