"""Batch scoring: the purchase champion's probability for every active customer as of today, stored
in `marts.purchase_scores` (`ecomm predict purchase`), as churn's are in marts.churn_scores.

"Today" is the same cutoff as churn's: the day after the last loaded business date. The customers are
those GET /predict/purchase/{customer_id} answers for: signed up before the cutoff, with an order or a
web session before it (never-active customers have no behaviour to score), each scored from the same
point-in-time features by the same pyfunc, so a stored score equals the served one.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from ecomm.features import columns as C
from ecomm.features.churn import warehouse_span
from ecomm.features.purchase import never_active, purchase_features
from ecomm.ml.churn.scoring import (
    ModelRef,
    ScoringError,
    ScoringResult,
    is_current,
    replace_rows,
    stored_scoring,
)

SCORES_TABLE = "marts.purchase_scores"
DEFAULT_HORIZON_DAYS = 30  # purchase models registered before the horizon was recorded in metadata


def score_active(model, features: pd.DataFrame) -> pd.DataFrame:
    """customer_id, purchase_probability of the active customers of `features`, scored by a
    PurchasePyfunc (the unwrapped python model, as the API calls it)."""
    from ecomm.ml.serving import PURCHASE_PROBABILITY

    active = features[~never_active(features)]
    scored = model.predict(None, model.inputs(active))[PURCHASE_PROBABILITY]
    return pd.DataFrame(
        {C.CUSTOMER_ID: active[C.CUSTOMER_ID].to_numpy(), PURCHASE_PROBABILITY: scored.to_numpy()}
    )


def store_scores(conn, scores: pd.DataFrame, cutoff: dt.date, model: ModelRef, horizon_days: int) -> int:
    """Replace marts.purchase_scores with `scores` in the caller's transaction, which must commit."""
    rows = scores.assign(
        cutoff_date=cutoff,
        model_name=model.name,
        model_version=model.version,
        model_source=model.source,
        horizon_days=horizon_days,
    )
    return replace_rows(conn, SCORES_TABLE, rows)


def score_warehouse(
    conn, load_model: Callable[[], Any], ref: ModelRef, *, force: bool = False
) -> ScoringResult:
    """Score today's active customers with the pyfunc of version `ref` (`load_model()` loads it, only
    when needed) and store them, unless the table holds this cutoff and version (`force`: again)."""
    start = time.perf_counter()
    span = warehouse_span(conn)
    cutoff = span.last_day + dt.timedelta(days=1)
    stored = stored_scoring(conn, SCORES_TABLE)
    if not force and is_current(stored, cutoff, ref):
        return ScoringResult(cutoff, ref, stored.customers, time.perf_counter() - start, False)
    loaded = load_model()
    model = loaded.unwrap_python_model()
    horizon = int((loaded.metadata.metadata or {}).get("horizon_days", DEFAULT_HORIZON_DAYS))
    scores = score_active(model, purchase_features(conn, cutoff, first_day=span.first_day))
    count = store_scores(conn, scores, cutoff, ref, horizon)
    conn.commit()
    return ScoringResult(cutoff, ref, count, time.perf_counter() - start, True)


def score_with_champion(settings, *, force: bool = False) -> ScoringResult:
    """Score today's active customers with the registered purchase champion (its version, not the
    moving alias, is loaded and recorded) and store the scores."""
    import mlflow

    from ecomm import db
    from ecomm.ml import registry, tracking
    from ecomm.warehouse.migrate import migrate

    client = tracking.configure(settings)
    name = registry.PURCHASE_MODEL
    version = registry.alias_version(client, name, registry.CHAMPION)
    if version is None:
        raise ScoringError(f"{name} has no champion yet: train one with `ecomm train purchase`")
    migrate(settings)
    ref = ModelRef(name, version, client.get_model_version_download_uri(name, version))
    with db.connection(settings) as conn:
        return score_warehouse(conn, lambda: mlflow.pyfunc.load_model(ref.source), ref, force=force)
