"""Purchase-propensity routes: P(at least one completed order in the next 30 days) by the
`purchase_model` champion (`ecomm train purchase`), of a warehouse customer (GET, features computed
now) or of users described by their features (POST, the body shaped like POST /predict/churn's).

The POST body's fields are the loaded model's features, so pydantic checks only the shape (users,
user_id); the fields themselves are checked here against the model's stored spec and refused with a
422 naming each one, like pydantic's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Request

from ecomm.api import schemas as S
from ecomm.api.errors import ApiError, invalid_body
from ecomm.api.observability import PREDICTIONS
from ecomm.api.predictions import DEFAULT_THRESHOLD, ERRORS, json_body, plain_value
from ecomm.api.security import require_api_key
from ecomm.features import columns as C
from ecomm.features.purchase import never_active
from ecomm.ml.registry import PURCHASE_MODEL
from ecomm.ml.serving import PURCHASE_PROBABILITY

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS, tags=["purchase"])


def _threshold(served) -> float:
    return float(served.metadata.get("threshold", DEFAULT_THRESHOLD))


def _horizon(served) -> int:
    return int(served.metadata.get("horizon_days", 30))


def field_problem(value, numeric: bool) -> str | None:
    """Why `value` cannot be a numeric (or a category) feature's value; None when it can. null is
    a missing value, as in the warehouse's features (e.g. days since the last order of a non-buyer)."""
    if value is None:
        return None
    if numeric:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number or null"
        try:  # an integer beyond a float's range overflows rather than compares
            return None if math.isfinite(float(value)) else "must be a finite number"
        except OverflowError:
            return "must be a finite number"
    return None if isinstance(value, str) else "must be a string or null"


def body_problems(users: list[S.PurchaseUser], columns: list[str], numbers: set[str]) -> list[dict]:
    """Each missing, unknown or mistyped feature field of each user, as {field, message}."""
    required = [c for c in columns if not c.startswith(C.CATEGORY_SHARE_PREFIX)]
    known = set(columns)
    problems = []
    for i, user in enumerate(users):
        given = user.model_extra or {}
        where = f"users[{i}]"
        problems += [
            {"field": f"{where}.{c}", "message": "field required"} for c in required if c not in given
        ]
        for name, value in given.items():
            message = "unknown field" if name not in known else field_problem(value, name in numbers)
            if message:
                problems.append({"field": f"{where}.{name}", "message": message})
    return problems


def users_frame(users: list[S.PurchaseUser], columns: list[str], numbers: set[str]) -> pd.DataFrame:
    """The users as model input: numbers float64 (null: NaN), categories as sent (null: None), and a
    category share a user left out 0."""
    data = {}
    for c in columns:
        values = [
            (u.model_extra or {}).get(c, 0.0 if c.startswith(C.CATEGORY_SHARE_PREFIX) else None)
            for u in users
        ]
        data[c] = (
            np.array([np.nan if v is None else v for v in values], dtype="float64")
            if c in numbers
            else values
        )
    return pd.DataFrame(data)


@router.post("/predict/purchase", response_model=S.PurchaseResponse, dependencies=[Depends(json_body)])
def predict_purchase(body: S.PurchaseRequest, request: Request) -> S.PurchaseResponse:
    """P(at least one completed order in the horizon) of 1-1000 users described by the purchase
    champion's features (those GET /predict/purchase/{customer_id} returns; a category share left out
    is 0). A missing, unknown or mistyped feature is a 422 naming it."""
    served = request.app.state.models.get(PURCHASE_MODEL)
    model = served.python_model
    spec = model.spec
    numbers = {*spec.get("numeric", ()), *spec.get("skewed", ())}
    problems = body_problems(body.users, model.columns, numbers)
    if problems:
        raise invalid_body(problems)
    scored = model.predict(None, users_frame(body.users, model.columns, numbers))[PURCHASE_PROBABILITY]
    threshold = _threshold(served)
    PREDICTIONS.labels(PURCHASE_MODEL, served.version).inc(len(scored))
    return S.PurchaseResponse(
        model=S.ModelRef(name=PURCHASE_MODEL, version=served.version),
        threshold=threshold,
        horizon_days=_horizon(served),
        predictions=[
            S.PurchasePrediction(
                user_id=u.user_id, purchase_probability=float(p), will_purchase=bool(p >= threshold)
            )
            for u, p in zip(body.users, scored, strict=True)
        ],
    )


@router.get("/predict/purchase/{customer_id}", response_model=S.CustomerPurchaseResponse)
def predict_customer_purchase(
    request: Request, customer_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX)
) -> S.CustomerPurchaseResponse:
    """P(at least one completed order in the next 30 days) of a warehouse customer, from features
    computed now (point in time), by the purchase champion (`ecomm train purchase`)."""
    served = request.app.state.models.get(PURCHASE_MODEL)
    reader = request.app.state.warehouse
    as_of = reader.as_of()
    if as_of is None:
        raise ApiError(503, "warehouse_empty", "the warehouse holds no loaded batch yet (run `make up`)")
    frame = reader.purchase_features(customer_id, as_of)
    if frame.empty:
        raise ApiError(404, "not_found", f"customer {customer_id} is not in the warehouse before {as_of}")
    if bool(never_active(frame).iloc[0]):
        raise ApiError(
            422,
            "never_active",
            f"customer {customer_id} has no order and no web session before {as_of}: there is no "
            "behaviour to score (the model is trained on every customer, but answers only for active ones)",
        )
    model = served.python_model
    inputs = model.inputs(frame)
    p = float(model.predict(None, inputs)[PURCHASE_PROBABILITY].iloc[0])
    PREDICTIONS.labels(PURCHASE_MODEL, served.version).inc()
    threshold = _threshold(served)
    return S.CustomerPurchaseResponse(
        model=S.ModelRef(name=PURCHASE_MODEL, version=served.version),
        threshold=threshold,
        customer_id=customer_id,
        as_of=as_of.isoformat(),
        horizon_days=_horizon(served),
        purchase_probability=p,
        will_purchase=p >= threshold,
        features={c: plain_value(inputs[c].iloc[0]) for c in model.columns},
    )
