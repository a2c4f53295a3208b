"""Batch scoring: the churn champion's probability for every customer as of today, stored in
`marts.churn_scores` (`ecomm predict churn`, the ML DAG after training, `make up`'s bootstrap).

"Today" is the scoring cutoff: the day after the last loaded business date. Every customer with a
completed order before it (warehouse.is_completed_line: not cancelled, not returned) gets the
features of a training cutoff on that day and is scored by the champion's full head. Scoring every customer costs tens of seconds on a large warehouse (the
point-in-time features read every fact table), so it runs once per load and per champion, not per
page view: the dashboard reads the stored table and scores only when it is stale.
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ecomm.features import columns as C
from ecomm.features.churn import churn_features, warehouse_span

SCORES_TABLE = "marts.churn_scores"
STORED_COLUMNS = (C.DAYS_SINCE_LAST_ORDER, C.TOTAL_ORDERS, C.TOTAL_SPENT)


class ScoringError(ValueError):
    """The model cannot score today's customers; the message says why (a user error for the CLI)."""


@dataclass(frozen=True)
class ModelRef:
    """A registered version: name, version and its files' URI (unique across registries, which
    can each hold a "churn_model v1")."""

    name: str
    version: str
    source: str


@dataclass(frozen=True)
class StoredScoring:
    cutoff: dt.date
    model: ModelRef
    customers: int
    scored_at: dt.datetime


@dataclass(frozen=True)
class ScoringResult:
    cutoff: dt.date
    model: ModelRef
    customers: int
    seconds: float
    stored: bool  # False: the table already held these scores (same cutoff and version)

    def to_dict(self) -> dict:
        return {
            "cutoff": self.cutoff.isoformat(),
            "model": self.model.name,
            "version": self.model.version,
            "customers": self.customers,
            "seconds": round(self.seconds, 2),
            "stored": self.stored,
        }


def with_model_categories(full, features: pd.DataFrame) -> pd.DataFrame:
    """`features` with a zero share for each category the model (a ChurnPyfunc) knows but the
    catalog before the cutoff lacks: nobody bought it."""
    missing = [
        c for c in full.full_columns if c.startswith(C.CATEGORY_SHARE_PREFIX) and c not in features.columns
    ]
    return features.assign(**dict.fromkeys(missing, 0.0)) if missing else features


def score_features(model, features: pd.DataFrame) -> pd.DataFrame:
    """`features` plus churn_probability, scored by a loaded churn pyfunc's full head."""
    from ecomm.ml.churn.model import signature_columns
    from ecomm.ml.serving import CHURN_PROBABILITY, FULL, MODEL_VARIANT

    full = model.unwrap_python_model()
    features = with_model_categories(full, features)
    missing = sorted(set(full.full_columns) - set(features.columns))
    if missing:
        raise ScoringError(f"the warehouse's features lack the model's inputs {missing[:5]}")
    predicted = model.predict(signature_columns(model, features))
    if len(predicted) and set(predicted[MODEL_VARIANT]) != {FULL}:
        raise ScoringError("the model did not score with its full-feature head")
    return features.assign(**{CHURN_PROBABILITY: predicted[CHURN_PROBABILITY].to_numpy()})


def stored_scoring(conn, table: str = SCORES_TABLE) -> StoredScoring | None:
    """What a scores table (marts.churn_scores, marts.purchase_scores) holds (None: nothing scored yet)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT cutoff_date, model_name, model_version, model_source, count(*), max(scored_at)
                FROM {table} GROUP BY 1, 2, 3, 4"""
        )
        rows = cur.fetchall()
    if len(rows) != 1:  # empty (or, never written so, mixed)
        return None
    cutoff, name, version, source, customers, scored_at = rows[0]
    return StoredScoring(cutoff, ModelRef(name, version, source), customers, scored_at)


def is_current(stored: StoredScoring | None, cutoff: dt.date, model: ModelRef) -> bool:
    return stored is not None and (stored.cutoff, stored.model) == (cutoff, model)


def store_scores(conn, scores: pd.DataFrame, cutoff: dt.date, model: ModelRef) -> int:
    """Replace marts.churn_scores with `scores` (customer_id, churn_probability, STORED_COLUMNS) in
    the caller's transaction, which must commit (scored_at: the transaction's time)."""
    from ecomm.ml.serving import CHURN_PROBABILITY

    out = scores[[C.CUSTOMER_ID, CHURN_PROBABILITY, *STORED_COLUMNS]].assign(
        cutoff_date=cutoff, model_name=model.name, model_version=model.version, model_source=model.source
    )
    return replace_rows(conn, SCORES_TABLE, out)


def replace_rows(conn, table: str, rows: pd.DataFrame) -> int:
    """Replace every row of `table` with `rows` (its columns by name), in the caller's transaction."""
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {table}")  # readers wait for the commit, then see the new scores
        cur.copy_expert(f"COPY {table} ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
    return len(rows)


def score_warehouse(
    conn, load_model: Callable[[], Any], ref: ModelRef, *, force: bool = False
) -> ScoringResult:
    """Score every customer of today with the pyfunc of version `ref` (`load_model()` loads it, only
    when needed) and store the scores, unless the table already holds this cutoff and version
    (`force` scores again)."""
    start = time.perf_counter()
    span = warehouse_span(conn)
    cutoff = span.last_day + dt.timedelta(days=1)  # the day after the last loaded business date
    stored = stored_scoring(conn)
    if not force and is_current(stored, cutoff, ref):
        return ScoringResult(cutoff, ref, stored.customers, time.perf_counter() - start, False)
    features = churn_features(conn, cutoff, first_day=span.first_day)
    scores = score_features(load_model(), features)
    count = store_scores(conn, scores, cutoff, ref)
    conn.commit()
    return ScoringResult(cutoff, ref, count, time.perf_counter() - start, True)


def score_with_champion(settings, *, force: bool = False) -> ScoringResult:
    """Score today's customers with the registered churn champion (its version, not the moving
    alias, is loaded and recorded) and store the scores."""
    import mlflow

    from ecomm import db
    from ecomm.ml import registry, tracking
    from ecomm.warehouse.migrate import migrate

    client = tracking.configure(settings)
    version = registry.alias_version(client, registry.CHURN_MODEL, registry.CHAMPION)
    if version is None:
        raise ScoringError(f"{registry.CHURN_MODEL} has no champion yet: train one with `ecomm train churn`")
    migrate(settings)
    ref = ModelRef(
        registry.CHURN_MODEL, version, client.get_model_version_download_uri(registry.CHURN_MODEL, version)
    )
    with db.connection(settings) as conn:
        return score_warehouse(conn, lambda: mlflow.pyfunc.load_model(ref.source), ref, force=force)
