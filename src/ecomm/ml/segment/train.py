"""`ecomm train segments`: K-Means segments of the customers as of the latest month start, tracked in
MLflow, registered as `segment_model` and gated (ecomm.ml.segment.gate).

As-of date: the first day of the month holding the day after the last loaded date (the month the
warehouse is in). Features: ecomm.features.segments, scaled by ecomm.ml.segment.scaling; k chosen by
ecomm.ml.segment.kselect; ids, names and profiles by ecomm.ml.segment.naming. The registered model
is a pyfunc (ecomm.ml.serving.SegmentPyfunc) holding the scaling + K-Means pipeline: it assigns a
segment to any row of the features. Logged: the k range, the chosen k, every k's indices as metric
histories (step = k: `k_silhouette`, `k_calinski_harabasz`, `k_davies_bouldin`, `k_stability`), the
chosen k's values and its restart stability (ARI between K-Means restarts with other seeds on
the same rows), the segments (evaluation/segments.json) and the ARI between the segments and the
RFM-quintile cells. After the gate, the champion (the new version or the one it did not beat)
assigns every month start to marts.customer_segments (ecomm.ml.segment.assign). Given a labelling of the customers (the planted personas, later), also the ARI of
the segments and of the RFM cells against it (ecomm.ml.segment.evaluate.agreement).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ecomm import db
from ecomm.features import columns as C
from ecomm.features.churn import FeatureError, warehouse_span
from ecomm.features.segments import feature_names, segment_features
from ecomm.ml import registry, tracking
from ecomm.ml.segment import evaluate as ev
from ecomm.ml.segment import kselect, naming, scaling
from ecomm.ml.segment.gate import SegmentGate, segment_gate
from ecomm.ml.serving import SEGMENT_ID, SegmentPyfunc
from ecomm.monitoring.models import store_reference
from ecomm.monitoring.reference import training_reference
from ecomm.settings import Settings

K_METRICS = ("silhouette", "calinski_harabasz", "davies_bouldin", "stability")


@dataclass(frozen=True)
class SegmentConfig:
    ks: tuple[int, ...] = tuple(kselect.K_RANGE)
    n_boot: int = 5  # bootstrap refits per k for the stability
    min_stability: float = kselect.MIN_STABILITY
    tolerance: float = 0.0  # the gate's "not worse"
    seed: int = 42
    as_of: date | None = None  # None: the latest month start (see the module doc)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> SegmentConfig:
        sized = {
            "ks": tuple(range(kselect.K_RANGE.start, settings.segment_max_k + 1)),
            "n_boot": settings.segment_refits,
        }
        return cls(**{"seed": settings.seed, **sized, **overrides})


@dataclass
class SegmentResult:
    run_id: str
    version: str
    as_of: date
    k: int
    table: pd.DataFrame  # kselect.rank_table
    segments: list[naming.Segment]
    gate: SegmentGate
    seconds: float
    customers: int
    features: list[str]
    metrics: dict[str, float] = field(default_factory=dict)
    stored_rows: int = 0  # marts.customer_segments rows written by the champion


def default_as_of(last_day: date) -> date:
    today = last_day + timedelta(days=1)
    return today.replace(day=1)


@dataclass
class FittedSegments:
    pipeline: Pipeline
    columns: list[str]
    selection: kselect.Selection
    labels: np.ndarray
    segments: list[naming.Segment]


def fit_segments(frame: pd.DataFrame, config: SegmentConfig) -> FittedSegments:
    """Scale, choose k, relabel by size, name: everything but the tracking (pure, for tests)."""
    columns = feature_names(frame)
    spec = scaling.scaling_spec(frame, columns)
    scaler = scaling.make_scaler(spec).fit(frame[columns])
    x = scaling.scale(scaler, frame[columns])
    selection = kselect.select_k(
        x, config.ks, n_boot=config.n_boot, seed=config.seed, min_stability=config.min_stability
    )
    model = naming.relabel(selection.model, naming.size_order(selection.model))
    names = scaling.scaled_names(scaler, spec)
    labels = model.labels_
    segments = naming.describe(model, names, frame[columns].reset_index(drop=True), labels)
    pipeline = Pipeline([("scale", scaler), ("kmeans", model)])
    return FittedSegments(pipeline, columns, selection, labels, segments)


def model_assignment(uri: str, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """A registered version's scaled features of `frame` and its segment of each row."""
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    x = np.asarray(pyfunc.pipeline[:-1].transform(pyfunc.inputs(frame)), dtype="float64")
    return x, pyfunc.pipeline[-1].predict(x)


def labels_silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    if len(np.unique(labels)) < 2:
        return -1.0  # one segment for everyone: the worst separation
    return kselect.silhouette(x, labels, seed)


def model_silhouette(uri: str, frame: pd.DataFrame, seed: int) -> float:
    """Silhouette of a registered version's segments of `frame`, in that version's scaled space."""
    return labels_silhouette(*model_assignment(uri, frame), seed)


def store_champion_segments(settings: Settings, client, version: str, as_of: date) -> int:
    """The champion's assignment of every month start up to `as_of`, into marts.customer_segments."""
    import mlflow

    from ecomm.ml.churn.scoring import ModelRef
    from ecomm.ml.segment.assign import assign_and_store
    from ecomm.warehouse.migrate import migrate

    migrate(settings)
    name = registry.SEGMENT_MODEL
    ref = ModelRef(name, version, client.get_model_version_download_uri(name, version))
    pyfunc = mlflow.pyfunc.load_model(ref.source).unwrap_python_model()
    with db.connection(settings) as conn:
        return assign_and_store(conn, pyfunc, ref, as_of)


def planted_personas(conn) -> pd.Series | None:
    """The simulated shop's planted persona of each customer (truth.customer_persona), or None when the
    warehouse has no truth (imported data, or a world generated before personas)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('truth.customer_persona') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT customer_id, persona FROM truth.customer_persona")
        rows = cur.fetchall()
    conn.rollback()
    if not rows:
        return None
    return pd.Series(dict(rows), name="persona")


def train_segments(
    settings: Settings, config: SegmentConfig, *, labels: pd.Series | None = None
) -> SegmentResult:
    """Fit, log, register and gate; `labels`: a labelling of customer ids to measure the segments by."""
    import mlflow

    started = time.perf_counter()
    with db.connection(settings) as conn:
        as_of = config.as_of or default_as_of(warehouse_span(conn).last_day)
        frame = segment_features(conn, as_of)
        personas = planted_personas(conn)  # evaluation only: the features never read truth
    if len(frame) <= max(min(config.ks), 1):
        raise FeatureError(f"as of {as_of}: {len(frame)} active customers, too few to segment")
    fitted = fit_segments(frame, config)
    table = fitted.selection.table
    k = fitted.selection.k
    by_customer = frame.set_index(C.CUSTOMER_ID)
    segments = pd.Series(fitted.labels, index=by_customer.index)
    chosen = table.loc[k]
    metrics = {m: float(chosen[m]) for m in K_METRICS}
    x = fitted.pipeline[:-1].transform(frame[fitted.columns])
    metrics["restart_stability"] = kselect.restart_stability(
        np.asarray(x, dtype="float64"), fitted.labels, k, n_restarts=config.n_boot, seed=config.seed
    )
    metrics["ari_vs_rfm_cells"] = ev.ari_against(segments, ev.rfm_segments(by_customer))
    if labels is not None:
        metrics |= {f"labels_{n}": v for n, v in ev.agreement(segments, by_customer, labels).items()}
    if personas is not None:
        metrics |= {f"persona_{n}": v for n, v in ev.agreement(segments, by_customer, personas).items()}

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.SEGMENT_EXPERIMENT)
    segment_dicts = [s.to_dict() for s in fitted.segments]
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"segments-{as_of}") as run:
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "k": k,
                "k_range": ",".join(map(str, config.ks)),
                "n_boot": config.n_boot,
                "min_stability": config.min_stability,
                "seed": config.seed,
                "customers": len(frame),
                "n_features": len(fitted.columns),
            }
        )
        for k_i, row in table.iterrows():
            mlflow.log_metrics({f"k_{m}": float(row[m]) for m in K_METRICS}, step=int(k_i))
        mlflow.log_metrics(metrics)
        mlflow.log_dict(table.reset_index().to_dict(orient="records"), "evaluation/k_selection.json")
        mlflow.log_dict({"features": fitted.columns, "segments": segment_dicts}, "evaluation/segments.json")
        info = {"as_of": as_of.isoformat(), "k": k}
        pyfunc = SegmentPyfunc(fitted.pipeline, fitted.columns, segment_dicts, info)
        example = frame[fitted.columns].head(3)
        logged = registry.log_pyfunc(
            pyfunc,
            name=registry.SEGMENT_MODEL,
            signature=mlflow.models.infer_signature(example, pyfunc.predict(None, example)),
            input_example=example,
            requirements=registry.pip_requirements("scikit-learn"),
            metadata={
                **info,
                "features": fitted.columns,
                "segments": segment_dicts,
                "stability": metrics["stability"],
            },
        )
        version = str(logged.registered_model_version)
        # the drift reference: the clustered customers' features and their segment ids (the id's
        # numeric summary bins each frequent id alone: the segments' shares)
        inputs = pyfunc.inputs(frame)
        store_reference(
            client, registry.SEGMENT_MODEL, version,
            training_reference(inputs, [], pyfunc.predict(None, inputs)[SEGMENT_ID]),
        )  # fmt: skip
        gate = segment_gate(
            client,
            version,
            stability=metrics["stability"],
            silhouette=lambda uri: model_silhouette(uri, frame, config.seed),
            tolerance=config.tolerance,
        )
        mlflow.set_tags({"registered_version": version, "promoted": str(gate.promoted).lower()})
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    stored = store_champion_segments(settings, client, gate.champion_after, as_of)
    return SegmentResult(
        run.info.run_id,
        version,
        as_of,
        k,
        table,
        fitted.segments,
        gate,
        seconds,
        len(frame),
        fitted.columns,
        metrics,
        stored,
    )
