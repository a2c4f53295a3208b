"""Registered models, aliases and the promotion gate.

Every newly registered version gets alias `challenger`. The gate then scores the challenger and the
current `champion` with the same function (the same fresh holdout) and moves `champion` to the
challenger only when it is better by at least the margin (and strictly better); the first version of
a model becomes champion without a contest. The decision is recorded as tags on the version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version

CHURN_MODEL = "churn_model"
RECOMMENDER_MODEL = "recommender_model"
PURCHASE_MODEL = "purchase_model"
SEGMENT_MODEL = "segment_model"
CLV_MODEL = "clv_model"
DEMAND_FORECAST_MODEL = "demand_forecast_model"
CHAMPION = "champion"
CHALLENGER = "challenger"
# The customer models, trained by the ML DAG (ml_training_pipeline) ...
CUSTOMER_MODELS = (CHURN_MODEL, RECOMMENDER_MODEL, SEGMENT_MODEL, PURCHASE_MODEL, CLV_MODEL)
# ... and every registered model (demand forecasts have a DAG of their own, demand_forecast): trained by
# `ecomm pipeline bootstrap`, evaluated by `ecomm evaluate`, listed on the dashboard's Models page.
MODEL_NAMES = (*CUSTOMER_MODELS, DEMAND_FORECAST_MODEL)
# The API is ready once these are loaded ...
REQUIRED_SERVED_MODELS = (CHURN_MODEL, RECOMMENDER_MODEL)
# ... and serves these when they have a champion (their routes answer 503 until then)
OPTIONAL_SERVED_MODELS = (PURCHASE_MODEL,)


def model_uri(name: str, version: str | int) -> str:
    return f"models:/{name}/{version}"


def alias_uri(name: str, alias: str) -> str:
    return f"models:/{name}@{alias}"


def alias_version(client, name: str, alias: str) -> str | None:
    """The version an alias points to, None if the model or the alias does not exist. Any other
    failure (registry unreachable, timeout) is raised: it must not read as "no champion"."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def aliases(client, name: str) -> dict[str, str]:
    out = {}
    for alias in (CHAMPION, CHALLENGER):
        version = alias_version(client, name, alias)
        if version is not None:
            out[alias] = version
    return out


def better_by(challenger: float, champion: float, margin: float, *, higher_is_better: bool = True) -> bool:
    """True when the challenger beats the champion by at least `margin` (and strictly)."""
    gain = challenger - champion if higher_is_better else champion - challenger
    return gain > 0 and gain >= margin


@dataclass
class GateDecision:
    model_name: str
    challenger_version: str
    champion_before: str | None
    champion_after: str
    metric: str
    challenger_score: float
    champion_score: float | None
    margin: float
    promoted: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def promotion_gate(
    client,
    name: str,
    version: str | int,
    *,
    metric: str,
    score: Callable[[str], float],
    margin: float,
    higher_is_better: bool = True,
) -> GateDecision:
    """Alias `version` as challenger, score it and the champion with `score(model_uri)`, decide."""
    version = str(version)
    client.set_registered_model_alias(name, CHALLENGER, version)
    champion = alias_version(client, name, CHAMPION)
    challenger_score = float(score(model_uri(name, version)))
    champion_score = None
    if champion is None:
        promoted, reason = True, "first version of the model"
    elif champion == version:
        promoted, reason = False, "the challenger is already the champion"
        champion_score = challenger_score
    else:
        champion_score = float(score(model_uri(name, champion)))
        promoted = better_by(challenger_score, champion_score, margin, higher_is_better=higher_is_better)
        verb = "beats" if promoted else "does not beat"
        reason = (
            f"challenger {metric} {challenger_score:.4f} {verb} champion v{champion} {champion_score:.4f} "
            f"by the margin {margin}"
        )
    if promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    decision = GateDecision(
        model_name=name,
        challenger_version=version,
        champion_before=champion,
        champion_after=version if promoted else str(champion),
        metric=metric,
        challenger_score=challenger_score,
        champion_score=champion_score,
        margin=margin,
        promoted=promoted,
        reason=reason,
    )
    for key, value in {
        "gate.metric": metric,
        "gate.challenger_score": f"{challenger_score:.6f}",
        "gate.champion_version": champion or "",
        "gate.champion_score": "" if champion_score is None else f"{champion_score:.6f}",
        "gate.margin": str(margin),
        "gate.promoted": str(promoted).lower(),
        "gate.reason": reason,
    }.items():
        client.set_model_version_tag(name, version, key, value)
    return decision


# ---------------------------------------------------------------------------------------- logging
def pip_requirements(*packages: str) -> list[str]:
    return [f"{p}=={package_version(p)}" for p in ("mlflow", "cloudpickle", "numpy", "pandas", *packages)]


def log_pyfunc(python_model, *, name: str, signature, input_example, requirements: list[str], metadata: dict):
    """mlflow.pyfunc.log_model with ecomm.ml.serving pickled by value (the model needs no ecomm)."""
    import cloudpickle
    import mlflow

    from ecomm.ml import serving

    cloudpickle.register_pickle_by_value(serving)
    try:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=python_model,
            signature=signature,
            input_example=input_example,
            registered_model_name=name,
            pip_requirements=requirements,
            metadata=metadata,
        )
    finally:
        cloudpickle.unregister_pickle_by_value(serving)
