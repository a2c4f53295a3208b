"""`ecomm train clv`: BG/NBD + Gamma-Gamma lifetime value, measured on a holdout year against a
historical-average baseline (and the planted value truth when the warehouse has it), tracked in
MLflow, registered as `clv_model` (ecomm.ml.serving.ClvPyfunc), gated, stored.

Two fits of the same model: the *evaluation* fit on the purchase histories at the evaluation cutoff
(the latest month start with `holdout_days` loaded after it and `min_history_days` before it; unless
both are given, the first plan of HOLDOUT_PLANS the warehouse holds: a year's holdout after 180
days, else 180 days after 120, else 90 after 90, so a one-year warehouse is evaluated too), scored
on what the customers bought in the holdout; and the *served* fit on the histories at the
as-of date (the month start after the last loaded day, as for segments), which is registered. The
gate (registry.promotion_gate, as churn's) scores each registered version's parameters on the
evaluation cutoff's histories: Spearman of its predicted holdout value with the realised value
(`holdout_spearman`; a served fit has seen the holdout's purchases, as has any version trained since,
so this is a comparison of versions, not the run's honest figure, which is the evaluation fit's
`spearman_realised`); a challenger replaces the champion only when strictly better by `margin`. The champion (new or kept) then scores
every buyer at the as-of date into marts.customer_value (`horizon_days`, default 365).

The truth (truth.customer_value, the simulator's expected revenue over its horizon from the cutoff)
is read for evaluation only, when its horizon equals the holdout's; features never read it.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from ecomm import db
from ecomm.features import columns as C
from ecomm.features.churn import FeatureError, month_starts, require_orders, warehouse_span
from ecomm.features.clv import AS_OF, BTYD_INPUTS, REALISED_VALUE, clv_features, realised
from ecomm.ml import registry, tracking
from ecomm.ml.clv import btyd
from ecomm.ml.clv import evaluate as ev
from ecomm.ml.serving import EXPECTED_VALUE, HORIZON_DAYS, ClvPyfunc
from ecomm.monitoring.models import store_reference
from ecomm.monitoring.reference import training_reference
from ecomm.settings import Settings

VALUE_TABLE = "marts.customer_value"
GATE_METRIC = "holdout_spearman"
MIN_BUYERS = 30
HOLDOUT_PLANS = ((365, 180), (180, 120), (90, 90))  # (holdout days, history days before the cutoff)


@dataclass(frozen=True)
class ClvConfig:
    horizon_days: int = 365  # the stored expected value's horizon
    holdout_days: int | None = None  # the evaluation window after the cutoff (None: HOLDOUT_PLANS)
    min_history_days: int | None = None  # history before the cutoff (None: the plan's, or 180)
    margin: float = 0.0  # the gate's: a challenger must beat the champion's Spearman by more
    as_of: date | None = None  # None: the month start after the last loaded day

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> ClvConfig:
        return cls(**{"margin": settings.promotion_margin, **overrides})


@dataclass
class ClvResult:
    run_id: str
    version: str
    as_of: date
    cutoff: date
    holdout_days: int
    min_history_days: int
    params: dict[str, float]
    gate: registry.GateDecision
    customers: int  # buyers at the as-of date
    metrics: dict[str, float] = field(default_factory=dict)
    stored_rows: int = 0
    seconds: float = 0.0


def default_as_of(last_day: date) -> date:
    return (last_day + timedelta(days=1)).replace(day=1)


def latest_cutoff(first_day: date, last_day: date, holdout_days: int, history_days: int) -> date | None:
    """The latest month start with `history_days` before it and `holdout_days` loaded from it."""
    earliest = first_day + timedelta(days=history_days)
    candidates = month_starts(earliest, last_day - timedelta(days=holdout_days - 1))
    return candidates[-1] if candidates else None


def evaluation_plan(first_day: date, last_day: date, config: ClvConfig) -> tuple[date, int, int]:
    """(cutoff, holdout days, history days): the configured ones, or the first plan that fits."""
    if config.holdout_days is None and config.min_history_days is None:
        plans = HOLDOUT_PLANS
    else:
        plans = ((config.holdout_days or 365, config.min_history_days or 180),)
    for holdout_days, history_days in plans:
        cutoff = latest_cutoff(first_day, last_day, holdout_days, history_days)
        if cutoff is not None:
            return cutoff, holdout_days, history_days
    wanted = " or ".join(f"a {h}-day holdout after {d} days of history" for h, d in plans)
    raise FeatureError(f"the warehouse holds {first_day} .. {last_day}: too short for {wanted}")


def fit_clv(frame: pd.DataFrame) -> dict[str, float]:
    """BG/NBD and Gamma-Gamma parameters from purchase histories (pure, for tests)."""
    bgnbd = btyd.fit_bgnbd(frame["frequency"], frame["recency_days"], frame["t_days"])
    gamma_gamma = btyd.fit_gamma_gamma(frame["frequency"] + 1, frame["monetary"])
    return bgnbd.params | gamma_gamma.params


def holdout_frame(features: pd.DataFrame, bought: pd.DataFrame) -> pd.DataFrame:
    """The histories at the cutoff with what each customer bought in the holdout (0 if nothing)."""
    out = features.merge(bought, on=C.CUSTOMER_ID, how="left")
    return out.fillna({REALISED_VALUE: 0.0, "realised_orders": 0.0})


def holdout_prediction(pyfunc: ClvPyfunc, holdout: pd.DataFrame, days: int) -> pd.Series:
    return pyfunc.predict(None, holdout[list(BTYD_INPUTS)].assign(**{HORIZON_DAYS: days}))[EXPECTED_VALUE]


def planted_value(conn, snapshot: date, horizon_days: int) -> pd.Series | None:
    """The simulator's expected revenue of each customer over `horizon_days` from `snapshot`
    (truth.customer_value), or None when the warehouse has none (imported data, another horizon)."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('truth.customer_value') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute(
            """SELECT customer_id, expected_revenue FROM truth.customer_value
               WHERE snapshot_date = %(s)s AND horizon_days = %(h)s""",
            {"s": snapshot, "h": horizon_days},
        )
        rows = cur.fetchall()
    conn.rollback()
    return pd.Series(dict(rows), name="true_value", dtype="float64") if rows else None


def holdout_metrics(
    pyfunc: ClvPyfunc, holdout: pd.DataFrame, days: int, truth: pd.Series | None
) -> dict[str, float]:
    predicted = holdout_prediction(pyfunc, holdout, days)
    baseline = ev.baseline_value(holdout["spent"], holdout["observed_days"], days)
    true_value = None
    if truth is not None:  # customers the truth does not know (none, in a generated world) are 0
        true_value = holdout[C.CUSTOMER_ID].map(truth).fillna(0.0)
    return ev.report(predicted, baseline, holdout[REALISED_VALUE], true_value)


def score_and_store(conn, pyfunc: ClvPyfunc, features: pd.DataFrame, model) -> int:
    """Replace marts.customer_value with `pyfunc`'s values of `features` in the caller's transaction."""
    scores = pyfunc.predict(None, features[list(BTYD_INPUTS)])
    rows = features[[C.CUSTOMER_ID, AS_OF, *BTYD_INPUTS]].assign(
        horizon_days=int(pyfunc.info["horizon_days"]),
        **{c: scores[c].to_numpy() for c in scores.columns},
        model_name=model.name,
        model_version=model.version,
        model_source=model.source,
    )
    buffer = io.StringIO()
    rows.to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {VALUE_TABLE}")
        cur.copy_expert(
            f"COPY {VALUE_TABLE} ({', '.join(rows.columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    return len(rows)


def store_champion_values(settings: Settings, client, version: str, features: pd.DataFrame) -> int:
    import mlflow

    from ecomm.ml.churn.scoring import ModelRef
    from ecomm.warehouse.migrate import migrate

    migrate(settings)
    name = registry.CLV_MODEL
    ref = ModelRef(name, version, client.get_model_version_download_uri(name, version))
    pyfunc = mlflow.pyfunc.load_model(ref.source).unwrap_python_model()
    with db.connection(settings) as conn:
        count = score_and_store(conn, pyfunc, features, ref)
        conn.commit()
    return count


def train_clv(settings: Settings, config: ClvConfig) -> ClvResult:
    import mlflow

    started = time.perf_counter()
    with db.connection(settings) as conn:
        span = warehouse_span(conn)
        require_orders(conn)  # a customer's value is of their orders
        as_of = config.as_of or default_as_of(span.last_day)
        cutoff, holdout_days, history_days = evaluation_plan(span.first_day, span.last_day, config)
        holdout = holdout_frame(
            clv_features(conn, cutoff, span.first_day), realised(conn, cutoff, holdout_days)
        )
        current = clv_features(conn, as_of, span.first_day)
        truth = planted_value(conn, cutoff, holdout_days)  # evaluation only
    if min(len(holdout), len(current)) < MIN_BUYERS:
        raise FeatureError(
            f"{len(holdout)} buyers before {cutoff} and {len(current)} before {as_of}: "
            f"lifetime value needs at least {MIN_BUYERS}"
        )
    info = {"as_of": as_of.isoformat(), "horizon_days": config.horizon_days}
    evaluation_params = fit_clv(holdout)
    metrics = holdout_metrics(ClvPyfunc(evaluation_params, info), holdout, holdout_days, truth)
    served = ClvPyfunc(fit_clv(current), info)

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.CLV_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"clv-{as_of}") as run:
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "evaluation_cutoff": cutoff.isoformat(),
                "horizon_days": config.horizon_days,
                "holdout_days": holdout_days,
                "min_history_days": history_days,
                "customers": len(current),
                "holdout_customers": len(holdout),
                "truth": truth is not None,
                **{f"served_{k}": round(v, 6) for k, v in served.params.items()},
                **{f"evaluation_{k}": round(v, 6) for k, v in evaluation_params.items()},
            }
        )
        mlflow.log_metrics(metrics)
        example = current[list(BTYD_INPUTS)].head(3)
        logged = registry.log_pyfunc(
            served,
            name=registry.CLV_MODEL,
            signature=mlflow.models.infer_signature(example, served.predict(None, example)),
            input_example=example,
            requirements=registry.pip_requirements("scipy"),
            metadata={**info, "params": served.params, "evaluation_cutoff": cutoff.isoformat()},
        )
        version = str(logged.registered_model_version)
        # the drift reference: the served fit's own population (the buyers at as_of) and its values,
        # the population the daily monitoring compares with (monitoring.models.clv_population)
        inputs = current[list(BTYD_INPUTS)]
        reference = training_reference(inputs, [], served.predict(None, inputs)[EXPECTED_VALUE])
        store_reference(client, registry.CLV_MODEL, version, reference)

        def score(uri: str) -> float:
            pyfunc = mlflow.pyfunc.load_model(uri).unwrap_python_model()
            predicted = holdout_prediction(pyfunc, holdout, holdout_days)
            return ev.spearman(predicted, holdout[REALISED_VALUE])

        gate = registry.promotion_gate(
            client, registry.CLV_MODEL, version, metric=GATE_METRIC, score=score, margin=config.margin
        )
        mlflow.log_metric(GATE_METRIC, gate.challenger_score)
        mlflow.set_tags({"registered_version": version, "promoted": str(gate.promoted).lower()})
        seconds = time.perf_counter() - started
        mlflow.log_metric("train_seconds", seconds)
    stored = store_champion_values(settings, client, gate.champion_after, current)
    return ClvResult(
        run.info.run_id,
        version,
        as_of,
        cutoff,
        holdout_days,
        history_days,
        served.params,
        gate,
        len(current),
        metrics,
        stored,
        seconds,
    )
