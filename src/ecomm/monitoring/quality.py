"""Realised quality of each served model's earlier predictions, once their labels have matured.

marts.churn_scores and marts.purchase_scores keep only the latest scoring, so on business date D the
champion's predictions as of the cutoff C = D + 1 - horizon (the last cutoff whose label window
[C, C + horizon) has closed on D) are the ones the drift run of C - 1 logged
(monitoring.prediction_log), or, when none were logged for that version, recomputed point-in-time:
the population its batch scoring scored on C (monitoring.models' populations), scored by that
version. They are compared with the labels the warehouse now holds (features.churn.churn_labels,
features.purchase.purchase_labels) as ROC-AUC, beside the planted truth's probabilities on the same customers where the truth has that
cutoff (truth.customer_churn / truth.customer_purchase hold month starts only; imported data none).
`held_out` says whether C is after the version's evaluation cutoff: before it, the version learnt
from (or was chosen on) those labels, so its quality there is in-sample.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ecomm.features import columns as C

ROC_AUC = "roc_auc"
TABLE = "marts.model_quality"
COLUMNS = (
    "model_name",
    "model_version",
    "business_date",
    "metric",
    "cutoff_date",
    "horizon_days",
    "value",
    "truth_value",
    "rows",
    "positives",
    "held_out",
)


@dataclass(frozen=True)
class RealisedQuality:
    model: str
    version: str | None
    business_date: dt.date
    status: str  # measured, no_champion, not_loaded, too_early (no population at C), one_class, failed
    cutoff: dt.date | None = None
    horizon_days: int | None = None
    value: float | None = None
    truth_value: float | None = None
    rows: int = 0
    positives: int = 0
    held_out: bool | None = None
    reason: str | None = None  # why it failed, one line (monitoring.models.failure_reason)
    predictions: str | None = None  # "logged" by the drift run of C - 1, or "rebuilt" point-in-time

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "business_date": self.business_date.isoformat(),
            "status": self.status,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            ROC_AUC: self.value,
            f"truth_{ROC_AUC}": self.truth_value,
            "rows": self.rows,
            "positives": self.positives,
            "held_out": self.held_out,
            "reason": self.reason,
            "predictions": self.predictions,
        }


def matured_cutoff(day: dt.date, horizon_days: int) -> dt.date:
    """The latest cutoff whose label window [cutoff, cutoff + horizon) ends on `day`."""
    return day + dt.timedelta(days=1 - horizon_days)


def realised_auc(labels, scores, truth=None) -> tuple[float | None, float | None, int, int]:
    """(model AUC, truth AUC, rows, positives) on the rows the truth covers (all rows without a
    truth, or when it covers none); AUCs None when the rows hold one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    t = None if truth is None else np.asarray(truth, dtype=float)
    if t is not None and np.isfinite(t).any():
        keep = np.isfinite(t)
        y, s, t = y[keep], s[keep], t[keep]
    else:
        t = None
    positives = int(y.sum())
    if positives in (0, len(y)):
        return None, None, len(y), positives
    model = float(roc_auc_score(y, s))
    return model, None if t is None else float(roc_auc_score(y, t)), len(y), positives


# ------------------------------------------------------------------- labels and truth per model
def churn_outcomes(conn, cutoff: dt.date, horizon: int, customers: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The churn label and true churn probability (NaN without one) of each of `customers`."""
    from ecomm.features.churn import churn_labels
    from ecomm.ml.churn.dataset import true_churn
    from ecomm.ml.churn.evaluate import TRUE_PROBABILITY

    labels = churn_labels(conn, cutoff, horizon).set_index(C.CUSTOMER_ID)[C.LABEL]
    truth = true_churn(conn, cutoff, horizon).set_index(C.CUSTOMER_ID)[TRUE_PROBABILITY]
    return customers.map(labels), customers.map(truth).astype("float64")


def purchase_outcomes(
    conn, cutoff: dt.date, horizon: int, customers: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """The purchase label and true purchase probability (NaN without one) of each of `customers`."""
    from ecomm.features.purchase import LABEL, purchase_labels
    from ecomm.ml.purchase.dataset import true_purchase

    labels = purchase_labels(conn, cutoff, horizon).set_index(C.CUSTOMER_ID)[LABEL]
    truth = true_purchase(conn, cutoff, horizon)
    if truth is None:
        return customers.map(labels), pd.Series(np.nan, index=customers.index)
    return customers.map(labels), customers.map(truth.set_index(C.CUSTOMER_ID)["purchase_probability"])


def default_horizon(settings, name: str) -> int:
    """The label horizon a version logged without one was trained with (the training defaults)."""
    from ecomm.ml import registry
    from ecomm.ml.purchase.train import PurchaseConfig

    return settings.churn_horizon_days if name == registry.CHURN_MODEL else PurchaseConfig.horizon_days


def monitored_outcomes() -> dict:
    """Model name -> its outcomes: the models whose drift run logs their predictions."""
    from ecomm.monitoring.prediction_log import logged_models

    churn, purchase = logged_models()
    return {churn: churn_outcomes, purchase: purchase_outcomes}


# ------------------------------------------------------------------------------------- storage
def write_quality(conn, q: RealisedQuality) -> None:
    """Replace the (model, version, date) rows of marts.model_quality, in one transaction."""
    with conn.cursor() as cur:
        cur.execute(
            f"DELETE FROM {TABLE} WHERE model_name = %s AND model_version = %s AND business_date = %s",
            (q.model, int(q.version), q.business_date),
        )
        cur.execute(
            f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            (q.model, int(q.version), q.business_date, ROC_AUC, q.cutoff, q.horizon_days, q.value,
             q.truth_value, q.rows, q.positives, q.held_out),
        )  # fmt: skip
    conn.commit()


def measure_model(settings, client, conn, name: str, day: dt.date) -> RealisedQuality:
    """The champion's realised quality on `day`; never raises: an error leaves the model `failed`
    with the reason, so the models after it are still measured (as in monitoring.models)."""
    from ecomm.monitoring.models import failure_reason

    try:
        return measure_champion(settings, client, conn, name, day)
    except Exception as error:
        with contextlib.suppress(Exception):  # after a lost connection the rollback fails too
            conn.rollback()
        return RealisedQuality(name, None, day, "failed", reason=failure_reason(error))


def logged_or_rebuilt(
    client, conn, name: str, version: str, cutoff: dt.date, first_day: dt.date
) -> tuple[pd.Series, np.ndarray, str]:
    """The customers of the version's population on `cutoff`, its predictions and where they came
    from: "logged" by the drift run of the day before (monitoring.prediction_log), else "rebuilt"
    point-in-time and scored."""
    import mlflow

    from ecomm.monitoring.models import monitored_populations
    from ecomm.monitoring.prediction_log import PREDICTION, logged_predictions

    logged = logged_predictions(conn, name, version, cutoff)
    if logged is not None:
        return logged[C.CUSTOMER_ID], logged[PREDICTION].to_numpy(), "logged"
    loaded = mlflow.pyfunc.load_model(client.get_model_version_download_uri(name, version))
    features, predictions = monitored_populations()[name](conn, loaded, cutoff, first_day, version)
    return features[C.CUSTOMER_ID], np.asarray(predictions, dtype=float), "rebuilt"


def measure_champion(settings, client, conn, name: str, day: dt.date) -> RealisedQuality:
    from ecomm.features.churn import warehouse_span
    from ecomm.ml import registry
    from ecomm.ml.comparison import run_params
    from ecomm.monitoring.prediction_log import forget_through

    version = registry.alias_version(client, name, registry.CHAMPION)
    if version is None:
        return RealisedQuality(name, None, day, "no_champion")
    params = run_params(client, name, version)
    horizon = int(params.get("horizon_days") or default_horizon(settings, name))
    cutoff = matured_cutoff(day, horizon)
    span = warehouse_span(conn)
    base = RealisedQuality(name, version, day, "too_early", cutoff, horizon)
    if day > span.last_day:  # the labels' last day is not loaded yet
        return replace(base, status="not_loaded")
    # the daily runs never read earlier cutoffs again (a re-run of an earlier date rebuilds its own)
    forget_through(conn, name, cutoff - dt.timedelta(days=1))
    conn.commit()
    if cutoff <= span.first_day:
        return base
    customers, predictions, source = logged_or_rebuilt(client, conn, name, version, cutoff, span.first_day)
    if customers.empty:
        return base
    labels, truth = monitored_outcomes()[name](conn, cutoff, horizon, customers)
    value, truth_value, rows, positives = realised_auc(labels.to_numpy(), predictions, truth.to_numpy())
    forget_through(conn, name, cutoff)  # committed with the quality's row, rolled back with it
    evaluation = params.get("evaluation_cutoff")
    held_out = None if evaluation is None else cutoff > dt.date.fromisoformat(evaluation)
    if value is None:
        conn.commit()
        return RealisedQuality(
            name,
            version,
            day,
            "one_class",
            cutoff,
            horizon,
            rows=rows,
            positives=positives,
            predictions=source,
        )
    measured = RealisedQuality(
        name, version, day, "measured", cutoff, horizon, value, truth_value, rows, positives, held_out,
        predictions=source,
    )  # fmt: skip
    write_quality(conn, measured)
    return measured


def measure_served_models(settings, day: dt.date) -> list[RealisedQuality]:
    """Realised quality of every monitored model's champion whose labels matured on `day`."""
    from ecomm import db
    from ecomm.ml import tracking

    client = tracking.configure(settings)
    with db.connection(settings) as conn:
        return [measure_model(settings, client, conn, name, day) for name in monitored_outcomes()]
