"""Churn training stage: tune (Optuna, bounded and seeded), fit, evaluate on the later cutoff, log to
MLflow, register `churn_model` and run the promotion gate.

Models, each an sklearn Pipeline of ecomm.ml.builders with its preprocessing inside, driven by the
feature spec (each column's role: the shop's lists, else its dtype; stored with the model):
  * the full-feature families compete - logistic regression (tuned C) and XGBoost (tuned) - and the
    one with the best validation ROC-AUC is the served "full" head (no family wins by decree: on a
    churn process log-linear in observable behaviour the two tie, and either may lead);
  * XGBoost on the nine features of the seed API's body: the served "api_fields" head, monotone in
    each numeric field in the direction of its rank correlation with churn in the training rows (a
    body may set any field alone, so the answer must move the way the data does, not by accident).
    Frames without those fields (another data set) get an API head on every feature.
The full feature set is every point-in-time feature except the cumulative ones (see
features.columns.CUMULATIVE_FEATURES): windowed counts, rates, shares, recency, demographics. The
API head has all nine body fields, cumulative ones included: they are the seed API's contract.
Tuning objective: mean ROC-AUC over `VALIDATION_FOLDS` customer folds of the latest training cutoff,
each scored by a model fitted on earlier cutoffs *of the other customers* (the earlier cutoffs whose
label windows end before the latest one when there are any, else all earlier ones; one cutoff: the
folds of that cutoff). The customer folds matter: the same customers appear at every cutoff, and
monthly cutoffs with a 90-day horizon have label windows that overlap by about 60 days, so a model
fitted on a customer's earlier rows can recognise the customer (age, country, category shares ... are
nearly unique) and read off a label that largely *is* the validation label. That inflated the
validation score of deep, barely regularised trees (0.85 against 0.79 on the evaluation cutoff of
the `make up` world) and made tuning pick them. The tuned models are refit on every training cutoff
and evaluated on the evaluation cutoff, which no training label reaches.

How the API body is scored: the registered model is a pyfunc with both heads. A request
carrying every full-model feature uses the full head; one carrying only the API fields (the POST
/predict/churn body; user_id is its key, not a feature) uses the API head, a model trained on exactly
those nine fields - nothing is imputed. The gate and the quality targets use the full head; the API head's metrics are
logged beside it (api_fields_*).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from ecomm import db
from ecomm.features import columns as C
from ecomm.ml import registry, tracking
from ecomm.ml.builders import FeatureSpec, make_logreg, make_xgb
from ecomm.ml.churn import evaluate as ev
from ecomm.ml.churn import model as M
from ecomm.ml.churn.dataset import ChurnData, load_churn_data
from ecomm.ml.serving import CHURN_PROBABILITY, ChurnPyfunc
from ecomm.monitoring.models import store_reference
from ecomm.monitoring.reference import reference_categories, training_reference
from ecomm.settings import Settings

XGBOOST, LOGREG, API_HEAD, ORACLE = "xgboost", "logreg", "api_fields", "oracle"
FAMILIES = (LOGREG, XGBOOST)  # the full head's candidates, in the order that wins a tie
GATE_METRIC = "roc_auc"
DECISION_THRESHOLD = 0.5
DEFAULT_XGB = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "max_depth": 4,
    "min_child_weight": 5.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
}


@dataclass(frozen=True)
class ChurnConfig:
    horizon_days: int = 90
    n_trials: int = 20  # XGBoost, full head
    n_trials_api: int = 10  # XGBoost, API head
    n_trials_logreg: int = 6
    max_train_cutoffs: int = 6
    min_history_days: int = 60
    seed: int = 42
    n_jobs: int = 2
    features: tuple[str, ...] | None = None  # restrict the full head's features (ablations, tests)
    api_fields: tuple[str, ...] = C.API_FIELDS  # the API head's features (those the data has)
    margin: float = 0.005

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> ChurnConfig:
        base = {
            "horizon_days": settings.churn_horizon_days,
            "seed": settings.seed,
            "margin": settings.promotion_margin,
            "n_trials": settings.churn_trials,
            "n_trials_api": max(1, settings.churn_trials // 2),
            "n_trials_logreg": max(1, min(6, settings.churn_trials // 3)),
        }
        return cls(**{**base, **overrides})


@dataclass
class ChurnResult:
    run_id: str
    version: str
    metrics: dict[str, dict[str, float]]
    gate: registry.GateDecision
    plan: dict
    seconds: float
    features: list[str]
    api_features: list[str]
    params: dict = field(default_factory=dict)
    family: str = XGBOOST  # the full head's family: the candidate with the best validation ROC-AUC


# ---------------------------------------------------------------------------------------- tuning
VALIDATION_FOLDS = 3
Folds = list[tuple[np.ndarray, np.ndarray]]


def validation_folds(train: pd.DataFrame, horizon_days: int, seed: int, k: int = VALIDATION_FOLDS) -> Folds:
    """(fit rows, validation rows) per fold: validate on a fold of the customers at the latest training
    cutoff, fit on the other customers at the earlier cutoffs - those whose label windows end before
    it when there are any (the gap the final model has to its evaluation cutoff), else all earlier
    ones. No customer is on both sides: their rows at neighbouring cutoffs share most of the label
    window. One cutoff: customer folds of that cutoff."""
    customers = np.sort(train[C.CUSTOMER_ID].unique())
    fold_of = pd.Series(np.random.default_rng(seed).permutation(len(customers)) % k, index=customers)
    fold = train[C.CUSTOMER_ID].map(fold_of).to_numpy()
    cutoffs = sorted(train[C.CUTOFF].unique())
    last = cutoffs[-1]
    val = (train[C.CUTOFF] == last).to_numpy()
    if len(cutoffs) >= 2:
        gap = [c for c in cutoffs if c + timedelta(days=horizon_days) <= last]
        fit = train[C.CUTOFF].isin(gap or cutoffs[:-1]).to_numpy()
    else:
        fit = val
    return [(np.flatnonzero(fit & (fold != j)), np.flatnonzero(val & (fold == j))) for j in range(k)]


def _cv_auc(make, x: pd.DataFrame, y: np.ndarray, folds: Folds) -> float:
    """Mean validation ROC-AUC over the folds of the pipeline `make(fold)` (the fold's index)."""
    scores = []
    for fold, (fit_idx, val_idx) in enumerate(folds):
        pipe = make(fold).fit(x.iloc[fit_idx], y[fit_idx])
        scores.append(_auc(y[val_idx], pipe.predict_proba(x.iloc[val_idx])[:, 1]))
    return float(np.mean(scores))


def _auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _study(seed: int, n_trials: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, min(8, n_trials // 2)))
    return optuna.create_study(direction="maximize", sampler=sampler)


def tune_xgb(
    train: pd.DataFrame,
    spec: FeatureSpec,
    *,
    horizon_days: int,
    n_trials: int,
    seed: int,
    n_jobs: int,
    monotone: bool = False,
) -> tuple[dict, float]:
    """Best XGBoost parameters and their validation AUC. `monotone`: constrain each numeric feature to
    its direction in the fit rows of each fold (M.churn_directions), as the final fit does."""
    folds = validation_folds(train, horizon_days, seed)
    x, y = train[spec.columns], train[C.LABEL].to_numpy()
    directions = [
        M.churn_directions(train.iloc[fit_idx], spec.numbers) if monotone else None for fit_idx, _ in folds
    ]

    def objective(trial) -> float:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 50, 500, step=50),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 6),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 100.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 0.1, 50.0, log=True),
        }
        return _cv_auc(
            lambda fold: make_xgb(spec, params=params, seed=seed, n_jobs=n_jobs, directions=directions[fold]),
            x,
            y,
            folds,
        )

    study = _study(seed, n_trials)
    study.enqueue_trial(DEFAULT_XGB)
    study.optimize(objective, n_trials=max(1, n_trials))
    return dict(study.best_params), float(study.best_value)


def tune_logreg(
    train: pd.DataFrame, spec: FeatureSpec, *, horizon_days: int, n_trials: int, seed: int
) -> tuple[float, float]:
    folds = validation_folds(train, horizon_days, seed)
    x, y = train[spec.columns], train[C.LABEL].to_numpy()

    def objective(trial) -> float:
        c = trial.suggest_float("C", 1e-4, 10.0, log=True)
        return _cv_auc(lambda _fold: make_logreg(spec, c=c, seed=seed), x, y, folds)

    study = _study(seed, n_trials)
    study.enqueue_trial({"C": 1.0})
    study.optimize(objective, n_trials=max(1, n_trials))
    return float(study.best_params["C"]), float(study.best_value)


# ---------------------------------------------------------------------------------------- fitting
@dataclass
class FittedChurn:
    candidates: dict[str, object]  # family -> its fitted full-feature pipeline
    family: str  # the served full head's family
    api: object
    spec: FeatureSpec  # the full head's columns and their roles
    api_spec: FeatureSpec
    api_directions: dict[str, int]
    params: dict
    validation: dict

    @property
    def full(self):
        return self.candidates[self.family]

    @property
    def features(self) -> list[str]:
        return self.spec.columns

    @property
    def api_features(self) -> list[str]:
        return self.api_spec.columns


def best_family(validation: dict[str, float]) -> str:
    """The candidate family with the highest validation ROC-AUC (the earlier in FAMILIES on a tie)."""
    return max(FAMILIES, key=lambda family: (validation[family], -FAMILIES.index(family)))


def fit_models(data: ChurnData, config: ChurnConfig) -> FittedChurn:
    features = [f for f in data.features if config.features is None or f in config.features]
    train, y = data.train, data.train[C.LABEL].to_numpy()
    spec = M.shop_spec(train, features)
    # the API body's fields, whatever `config.features` keeps for the full head; a frame without
    # them (another data set) is served on all of its features
    api_features = [f for f in config.api_fields if f in train.columns] or features
    api_spec = M.shop_spec(train, api_features)
    api_directions = M.churn_directions(train, api_spec.numbers)
    h = config.horizon_days
    xgb_params, xgb_val = tune_xgb(
        train, spec, horizon_days=h, n_trials=config.n_trials, seed=config.seed, n_jobs=config.n_jobs
    )
    api_params, api_val = tune_xgb(
        train,
        api_spec,
        horizon_days=h,
        n_trials=config.n_trials_api,
        seed=config.seed,
        n_jobs=config.n_jobs,
        monotone=True,
    )
    c, lr_val = tune_logreg(train, spec, horizon_days=h, n_trials=config.n_trials_logreg, seed=config.seed)
    x = train[spec.columns]
    candidates = {
        LOGREG: make_logreg(spec, c=c, seed=config.seed).fit(x, y),
        XGBOOST: make_xgb(spec, params=xgb_params, seed=config.seed, n_jobs=config.n_jobs).fit(x, y),
    }
    api = make_xgb(
        api_spec, params=api_params, seed=config.seed, n_jobs=config.n_jobs, directions=api_directions
    ).fit(train[api_spec.columns], y)
    params = {f"xgb_{k}": v for k, v in xgb_params.items()}
    params |= {f"api_xgb_{k}": v for k, v in api_params.items()}
    params["logreg_C"] = c
    validation = {XGBOOST: xgb_val, LOGREG: lr_val}
    family = best_family(validation)
    validation[API_HEAD] = api_val
    return FittedChurn(candidates, family, api, spec, api_spec, api_directions, params, validation)


def holdout_auc(model_uri: str, holdout: pd.DataFrame, features: list[str]) -> float:
    """ROC-AUC of a registered churn model on a labelled holdout (full-feature rows)."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    scores = model.predict(M.signature_columns(model, holdout[features]))[CHURN_PROBABILITY].to_numpy()
    return _auc(holdout[C.LABEL].to_numpy(), scores)


# ---------------------------------------------------------------------------------------- train
def train_churn(settings: Settings, config: ChurnConfig | None = None) -> ChurnResult:
    import matplotlib.pyplot as plt
    import mlflow

    config = config or ChurnConfig.from_settings(settings)
    started = time.perf_counter()
    with db.connection(settings) as conn:
        data = load_churn_data(
            conn,
            config.horizon_days,
            max_train_cutoffs=config.max_train_cutoffs,
            min_history_days=config.min_history_days,
        )
        oracle = ev.oracle_scores(conn, data.evaluation, data.plan.evaluation, config.horizon_days).to_numpy()
    data_seconds = time.perf_counter() - started
    fitted = fit_models(data, config)
    fit_seconds = time.perf_counter() - started - data_seconds

    holdout, y = data.evaluation, data.evaluation[C.LABEL].to_numpy()
    scores = {
        family: pipeline.predict_proba(holdout[fitted.features])[:, 1]
        for family, pipeline in fitted.candidates.items()
    }
    scores[API_HEAD] = fitted.api.predict_proba(holdout[fitted.api_features])[:, 1]
    has_oracle = bool(np.isfinite(oracle).any())
    if has_oracle:
        scores[ORACLE] = oracle
    table = ev.score_table(holdout[C.LABEL], scores)
    importance = M.feature_importance(fitted.full, fitted.spec)

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.CHURN_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"churn-{data.plan.evaluation}") as run:
        mlflow.log_params(
            {
                "horizon_days": config.horizon_days,
                "train_cutoffs": ",".join(d.isoformat() for d in data.plan.train),
                "evaluation_cutoff": data.plan.evaluation.isoformat(),
                "train_rows": len(data.train),
                "evaluation_rows": len(holdout),
                "n_features": len(fitted.features),
                "n_api_features": len(fitted.api_features),
                "n_trials": config.n_trials,
                "n_trials_api": config.n_trials_api,
                "n_trials_logreg": config.n_trials_logreg,
                "seed": config.seed,
                "full_head_family": fitted.family,
                **fitted.params,
            }
        )
        flat = {f"{scorer}_{k}": v for scorer, m in table.items() for k, v in m.items() if np.isfinite(v)}
        flat |= {f"validation_{k}_roc_auc": v for k, v in fitted.validation.items()}
        if has_oracle:
            flat["auc_to_oracle"] = table[fitted.family]["roc_auc"] / table[ORACLE]["roc_auc"]
        # the served full head on the evaluation cutoff, and what the best family there would give
        flat["served_roc_auc"] = table[fitted.family]["roc_auc"]
        flat["best_family_roc_auc"] = max(table[family]["roc_auc"] for family in FAMILIES)
        flat["train_rows_churn_rate"] = float(data.train[C.LABEL].mean())
        flat["data_seconds"] = data_seconds
        flat["fit_seconds"] = fit_seconds
        mlflow.log_metrics(flat)
        mlflow.log_dict(
            {
                "plan": data.plan.to_dict(),
                "features": fitted.features,
                "api_features": fitted.api_features,
                "feature_spec": {"full": fitted.spec.to_dict(), "api_fields": fitted.api_spec.to_dict()},
            },
            "evaluation/features.json",
        )
        mlflow.log_dict(table, "evaluation/metrics.json")
        mlflow.log_dict(importance.round(6).to_dict(), "evaluation/feature_importance.json")
        plots = {
            "roc": ev.plot_roc(y, scores, table),
            "pr": ev.plot_pr(y, scores, table),
            "calibration": ev.plot_calibration(y, scores),
            "feature_importance": ev.plot_importance(importance),
        }
        for name, fig in plots.items():
            mlflow.log_figure(fig, f"plots/{name}.png")
            plt.close(fig)

        pyfunc = ChurnPyfunc(
            fitted.full,
            fitted.features,
            fitted.api,
            fitted.api_features,
            specs={"full": fitted.spec.to_dict(), "api_fields": fitted.api_spec.to_dict()},
            info={
                "full_head_family": fitted.family,
                "horizon_days": config.horizon_days,
                "evaluation_cutoff": data.plan.evaluation.isoformat(),
                "train_cutoffs": [d.isoformat() for d in data.plan.train],
            },
        )
        info = registry.log_pyfunc(
            pyfunc,
            name=registry.CHURN_MODEL,
            signature=M.signature(fitted.spec, fitted.api_spec),
            input_example=M.input_example(fitted.api_spec, data.train),
            requirements=registry.pip_requirements("scikit-learn", "xgboost-cpu"),
            metadata={
                "evaluation_cutoff": data.plan.evaluation.isoformat(),
                "horizon_days": config.horizon_days,
                "heads": {"full": fitted.features, "api_fields": fitted.api_features},
                "full_head_family": fitted.family,
                # each head's columns by role (ecomm.ml.builders.FeatureSpec): what the API serves
                "feature_spec": {"full": fitted.spec.to_dict(), "api_fields": fitted.api_spec.to_dict()},
                # +1: the probability does not fall as the field grows; -1: it does not rise
                "api_fields_directions": fitted.api_directions,
                # will_churn in the API: the probability is calibrated (logloss), so 0.5 = "more likely
                # to churn than not"; a business that prices a lost customer differently moves it here
                "threshold": DECISION_THRESHOLD,
            },
        )
        version = str(info.registered_model_version)
        # the version's reference for its daily drift (ecomm.monitoring.models): its most recent
        # labelled population, the evaluation cutoff's (one snapshot like the day's, not the stacked
        # training cutoffs, whose older and shorter histories read as drift on a stable shop)
        reference_x = holdout[fitted.features]
        reference = training_reference(
            reference_x, reference_categories(fitted.spec), fitted.full.predict_proba(reference_x)[:, 1]
        )
        store_reference(client, registry.CHURN_MODEL, version, reference)
        # every feature column (API fields included): a registered model picks its head from them
        all_features = [c for c in holdout.columns if c not in (C.CUSTOMER_ID, C.CUTOFF, C.LABEL)]
        gate = registry.promotion_gate(
            client,
            registry.CHURN_MODEL,
            version,
            metric=GATE_METRIC,
            score=lambda uri: holdout_auc(uri, holdout, all_features),
            margin=config.margin,
        )
        mlflow.log_metric("gate_challenger_roc_auc", gate.challenger_score)
        if gate.champion_score is not None:
            mlflow.log_metric("gate_champion_roc_auc", gate.champion_score)
        mlflow.set_tags(
            {
                "registered_version": version,
                "promoted": str(gate.promoted).lower(),
                "full_head_family": fitted.family,
            }
        )
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    return ChurnResult(
        run.info.run_id,
        version,
        table,
        gate,
        data.plan.to_dict(),
        seconds,
        fitted.features,
        fitted.api_features,
        fitted.params,
        fitted.family,
    )
