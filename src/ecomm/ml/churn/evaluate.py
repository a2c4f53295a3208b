"""Churn evaluation stage: metrics on the evaluation cutoff, the oracle from the planted truth, plots."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ecomm.features import columns as C
from ecomm.ml.churn.dataset import true_churn
from ecomm.ml.metrics import classification_metrics

ORACLE = "oracle"
TRUE_PROBABILITY = "churn_probability"


def oracle_scores(conn, holdout: pd.DataFrame, cutoff: date, horizon_days: int) -> pd.Series:
    """The true churn probability of each holdout row (NaN where the truth has none)."""
    truth = true_churn(conn, cutoff, horizon_days).set_index(C.CUSTOMER_ID)[TRUE_PROBABILITY]
    return holdout[C.CUSTOMER_ID].map(truth).astype("float64")


def score_table(y: pd.Series, scores: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Metrics per scorer on the rows every scorer covers (the oracle may lack some customers)."""
    mask = np.ones(len(y), dtype=bool)
    for s in scores.values():
        mask &= ~np.isnan(np.asarray(s, dtype=float))
    out = {}
    for name, s in scores.items():
        metrics = classification_metrics(np.asarray(y)[mask], np.asarray(s, dtype=float)[mask])
        metrics["coverage"] = float(mask.mean())
        out[name] = metrics
    return out


# ---------------------------------------------------------------------------------------- plots
def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6, 5), dpi=100)


def plot_roc(y, scores: dict[str, np.ndarray], table: dict):
    from sklearn.metrics import roc_curve

    fig, ax = _figure()
    for name, s in scores.items():
        mask = ~np.isnan(s)
        fpr, tpr, _ = roc_curve(np.asarray(y)[mask], s[mask])
        ax.plot(fpr, tpr, label=f"{name} (AUC {table[name]['roc_auc']:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, evaluation cutoff")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_pr(y, scores: dict[str, np.ndarray], table: dict):
    from sklearn.metrics import precision_recall_curve

    fig, ax = _figure()
    for name, s in scores.items():
        mask = ~np.isnan(s)
        precision, recall, _ = precision_recall_curve(np.asarray(y)[mask], s[mask])
        ax.plot(recall, precision, label=f"{name} (AP {table[name]['pr_auc']:.3f})")
    ax.axhline(float(np.mean(y)), ls=":", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, evaluation cutoff")
    ax.legend(loc="lower left")
    fig.tight_layout()
    return fig


def plot_calibration(y, scores: dict[str, np.ndarray]):
    from sklearn.calibration import calibration_curve

    fig, ax = _figure()
    for name, s in scores.items():
        mask = ~np.isnan(s)
        frac, mean = calibration_curve(np.asarray(y)[mask], s[mask], n_bins=10, strategy="quantile")
        ax.plot(mean, frac, marker="o", label=name)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Calibration (deciles)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def plot_importance(importance: pd.Series, top: int = 20):
    fig, ax = _figure()
    shown = importance.head(top)[::-1]
    ax.barh(shown.index, shown.values)
    ax.set(xlabel="importance (gain share)", title=f"XGBoost feature importance (top {len(shown)})")
    fig.tight_layout()
    return fig
