"""Purchase propensity in `ecomm evaluate`: champion and challenger scored on the fresh holdout (the
latest cutoff whose 30-day label window the warehouse holds, as at training), beside the recency
rule ("ordered in the last 30 days -> will order"), the majority class and, on the simulated shop,
the planted truth's own probabilities (truth.customer_purchase, read for evaluation only).

Targets (issue 15): ROC-AUC >= 0.95 x the truth's; accuracy and top-decile lift are reported
against the majority class and the recency rule (accuracy not below the recency rule's).
"""

from __future__ import annotations

import numpy as np

from ecomm import db
from ecomm.features.churn import plan_cutoffs, warehouse_span
from ecomm.features.purchase import LABEL, labelled_purchase_frame, recency_rule
from ecomm.ml import registry
from ecomm.ml.comparison import Comparison, Target, champion_row, entries
from ecomm.ml.purchase import evaluate as ev
from ecomm.ml.purchase.dataset import true_purchase, truth_scores
from ecomm.ml.purchase.train import RECENCY_RULE, TRUTH, PurchaseConfig
from ecomm.ml.serving import PURCHASE_PROBABILITY
from ecomm.settings import Settings

PURCHASE_METRICS = ("roc_auc", "accuracy", "top_decile_lift")
MAJORITY = "majority class"


def compare_purchase(settings: Settings, client) -> Comparison:
    import mlflow

    versions = entries(client, registry.PURCHASE_MODEL)
    if not versions:
        return Comparison(
            registry.PURCHASE_MODEL,
            "",
            PURCHASE_METRICS,
            message="not registered: run `ecomm train purchase`",
        )
    config = PurchaseConfig.from_settings(settings)
    with db.connection(settings) as conn:
        span = warehouse_span(conn)
        plan = plan_cutoffs(
            span,
            config.horizon_days,
            max_train_cutoffs=config.max_train_cutoffs,
            min_history_days=config.min_history_days,
            label="purchase",
        )
        holdout = labelled_purchase_frame(conn, plan.evaluation, config.horizon_days, span=span)
        truth = truth_scores(holdout, true_purchase(conn, plan.evaluation, config.horizon_days))
    y = holdout[LABEL].to_numpy()
    rows = {}
    for label, version in versions.items():
        model = mlflow.pyfunc.load_model(registry.model_uri(registry.PURCHASE_MODEL, version))
        scores = model.unwrap_python_model().predict(None, holdout)[PURCHASE_PROBABILITY].to_numpy()
        rows[label] = ev.scorer_metrics(y, scores)
    rows[RECENCY_RULE] = ev.scorer_metrics(y, recency_rule(holdout).to_numpy(dtype="float64"))
    rows[MAJORITY] = {"accuracy": ev.majority_accuracy(y)}
    if truth is not None:
        rows[TRUTH] = ev.scorer_metrics(y, truth)
    return Comparison(
        registry.PURCHASE_MODEL,
        f"cutoff {plan.evaluation}, {config.horizon_days}-day label, {len(holdout)} customers, "
        f"purchase rate {np.mean(y):.3f}",
        PURCHASE_METRICS,
        rows,
        registry.aliases(client, registry.PURCHASE_MODEL),
    )


def purchase_targets(comp: Comparison) -> list[Target]:
    row, truth, rule = champion_row(comp), comp.rows.get(TRUTH), comp.rows.get(RECENCY_RULE)
    name = "purchase ROC-AUC / planted truth's ROC-AUC"
    if row and truth:
        ratio = row["roc_auc"] / truth["roc_auc"]
        out = [
            Target(name, ratio, ">= 0.95", ratio >= 0.95, f"{row['roc_auc']:.4f} / {truth['roc_auc']:.4f}")
        ]
    else:
        out = [Target(name, None, ">= 0.95", None, "no champion or no planted truth")]
    name = "purchase accuracy - recency rule's"
    if row and rule:
        gap = row["accuracy"] - rule["accuracy"]
        majority = comp.rows[MAJORITY]["accuracy"]
        detail = (
            f"{row['accuracy']:.4f} - {rule['accuracy']:.4f} (majority class {majority:.4f}); top-decile "
            f"lift {row['top_decile_lift']:.2f} vs the rule's {rule['top_decile_lift']:.2f}"
        )
        out.append(Target(name, gap, ">= 0", gap >= 0, detail))
    else:
        out.append(Target(name, None, ">= 0", None, "no champion"))
    return out
