"""Prediction routes: churn (seed body or a warehouse customer), recommendations, segments and
lifetime value (purchase propensity: ecomm.api.purchase).

Handlers are plain `def`: model calls are CPU-bound and SQL is blocking, so they run in the
threadpool and the event loop stays free for other requests.
"""

from __future__ import annotations

import math

import anyio
import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from ecomm.api import schemas as S
from ecomm.api.errors import ApiError
from ecomm.api.model_store import ModelUnavailable
from ecomm.api.observability import PREDICTIONS
from ecomm.api.security import require_api_key
from ecomm.api.warehouse import CatalogStale
from ecomm.features import columns as C
from ecomm.ml.builders import FeatureSpec
from ecomm.ml.churn.scoring import with_model_categories
from ecomm.ml.recommend.lookup import Recommended, rows_of_frame
from ecomm.ml.registry import CHURN_MODEL, RECOMMENDER_MODEL
from ecomm.ml.serving import CHURN_PROBABILITY

DEFAULT_THRESHOLD = 0.5  # for churn models registered before the threshold was recorded in metadata
ERRORS = {
    code: {"model": S.ErrorResponse, "description": text}
    for code, text in {
        400: "Body is not valid JSON",
        401: "Missing or wrong X-API-Key (when keys are configured)",
        404: "Unknown customer",
        413: "Body over the size limit",
        415: "A body that is not JSON (Content-Type)",
        422: "A field is missing, of the wrong type or out of range (named in details)",
        503: "No model loaded or the warehouse is unreachable",
    }.items()
}

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERRORS)


async def json_body(request: Request) -> None:
    """(async: no I/O, so it runs on the event loop, not in a thread.) A body sent as another media type is refused as such (415), not as a shape error (422). No
    Content-Type at all is read as JSON."""
    sent = request.headers.get("content-type")
    media_type = (sent or "").split(";")[0].strip().lower()
    if sent is not None and media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body must be JSON (Content-Type: application/json), not {sent!r}",
        )


def _threshold(served) -> float:
    return float(served.metadata.get("threshold", DEFAULT_THRESHOLD))


def _api_frame(spec: FeatureSpec, columns: dict[str, list]) -> pd.DataFrame:
    """The users as model input (one list per field), typed by the API head's stored spec: whole
    numbers int64, other numbers float64, categories and booleans as sent."""
    data = {}
    for name in spec.columns:
        values = columns[name]
        if name in spec.integer:
            values = np.asarray(values, dtype=np.int64)
        elif name in spec.numeric or name in spec.skewed:
            values = np.asarray(values, dtype=np.float64)
        data[name] = values
    return pd.DataFrame(data)


def _model_inputs(served, users: list[S.ChurnUser]) -> tuple[dict[str, list], list[list[str]]]:
    """The fields the model's API head reads (its stored spec), column by column (no per-user dict),
    countries in the model's spelling, and each user's warnings."""
    columns = {c: [getattr(u, c) for u in users] for c in served.api_spec.columns}
    if served.country_names is None or C.COUNTRY not in columns:
        return columns, [[] for _ in users]
    resolved = [served.country_names.resolve(country) for country in columns[C.COUNTRY]]
    columns[C.COUNTRY] = [name for name, _ in resolved]
    return columns, [[warning] if warning else [] for _, warning in resolved]


def _score_users(served, columns: dict[str, list]) -> np.ndarray:
    if served.fast is not None:  # the compiled API head: same numbers, no pandas (see compiled.py)
        return served.fast.predict_proba({c: columns[c] for c in served.python_model.api_columns})
    frame = _api_frame(served.api_spec, columns)
    return served.python_model.predict(None, frame)[CHURN_PROBABILITY].to_numpy()


@router.post(
    "/predict/churn", response_model=S.ChurnResponse, tags=["churn"], dependencies=[Depends(json_body)]
)
async def predict_churn(body: S.ChurnRequest, request: Request) -> S.ChurnResponse:
    """Churn probability of 1-1000 users described by the seed fields (docs/architecture.md#rest-api)."""
    # async: scoring takes well under a millisecond per user, less than a hop to the threadpool
    served = request.app.state.models.get(CHURN_MODEL)
    columns, warnings = _model_inputs(served, body.users)
    probabilities = _score_users(served, columns)
    threshold = _threshold(served)
    PREDICTIONS.labels(CHURN_MODEL, served.version).inc(len(probabilities))
    return S.ChurnResponse(
        model=S.ModelRef(name=CHURN_MODEL, version=served.version),
        threshold=threshold,
        predictions=[
            S.ChurnPrediction(
                user_id=u.user_id, churn_probability=float(p), will_churn=bool(p >= threshold), warnings=w
            )
            for u, p, w in zip(body.users, probabilities, warnings, strict=True)
        ],
    )


def plain_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return None if value is pd.NA else value


@router.get("/predict/churn/{customer_id}", response_model=S.CustomerChurnResponse, tags=["churn"])
def predict_customer_churn(
    request: Request, customer_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX)
) -> S.CustomerChurnResponse:
    """Churn probability of a warehouse customer, from features computed now (point in time)."""
    served = request.app.state.models.get(CHURN_MODEL)
    reader = request.app.state.warehouse
    as_of = reader.as_of()
    if as_of is None:
        raise ApiError(503, "warehouse_empty", "the warehouse holds no loaded batch yet (run `make up`)")
    frame = reader.churn_features(customer_id, as_of)
    if frame.empty and not reader.signed_up(customer_id, as_of):
        raise ApiError(404, "not_found", f"customer {customer_id} is not in the warehouse before {as_of}")
    if frame.empty:
        raise ApiError(
            422,
            "not_scorable",
            f"customer {customer_id} has no completed order (one not cancelled or returned) before {as_of}; "
            "churn is defined for customers who bought",
        )
    # a category the model knows but this warehouse's catalog lacks is a zero share, as in batch scoring
    inputs = with_model_categories(served.python_model, frame.drop(columns=[C.CUSTOMER_ID, C.CUTOFF]))
    scored = served.python_model.predict(None, inputs)
    p = float(scored[CHURN_PROBABILITY].iloc[0])
    PREDICTIONS.labels(CHURN_MODEL, served.version).inc()
    model = served.python_model
    used = model.full_columns if model.variant_for(inputs.columns) == "full" else model.api_columns
    return S.CustomerChurnResponse(
        model=S.ModelRef(name=CHURN_MODEL, version=served.version),
        threshold=_threshold(served),
        customer_id=customer_id,
        as_of=as_of.isoformat(),
        churn_probability=p,
        will_churn=p >= _threshold(served),
        features={c: plain_value(inputs[c].iloc[0]) for c in used},
    )


def _asked(reader, lookup, customer_id: int) -> tuple[str | None, str | None]:
    """The country and comma-joined categories on file, which steer an unknown customer's cold
    start; a customer the model knows needs neither, so no warehouse read."""
    if lookup is not None and lookup.knows(customer_id):
        return None, None
    customer = reader.customer(customer_id)
    if customer is None:
        return None, None
    return customer.country, ",".join(customer.categories) if customer.categories else None


def _customer_recs(request: Request, customer_id: int, k: int):
    """(served model, the warehouse reader, the model's rows for the customer's top k): read from the
    model's state directly when its lookup verified at load (ecomm.ml.recommend.lookup), else
    through its pyfunc predict() - the same rows."""
    served = request.app.state.models.get(RECOMMENDER_MODEL)
    reader = request.app.state.warehouse
    country, categories = _asked(reader, served.fast, customer_id)
    if served.fast is not None:
        recs = served.fast.recommend(customer_id, k, country, categories)
    else:
        frame = pd.DataFrame(
            {
                C.CUSTOMER_ID: np.asarray([customer_id], dtype=np.int64),
                "k": np.asarray([k], dtype=np.int64),
                C.COUNTRY: [country],
                "categories": [categories],
            }
        )
        recs = rows_of_frame(served.python_model.predict(None, frame))
    return served, reader, recs


def _from_memory(request: Request, customer_id: int) -> bool:
    """A customer the served model's verified lookup knows, with the catalog cached: the answer reads
    nothing from the warehouse."""
    try:
        served = request.app.state.models.get(RECOMMENDER_MODEL)
    except ModelUnavailable:
        return False  # answered (503) on the thread pool's path, as before
    return (
        served.fast is not None
        and served.fast.knows(customer_id)
        and request.app.state.warehouse.catalog_fresh()
    )


async def _answer(request: Request, customer_id: int, handler, *args):
    """`handler(*args)` on the event loop when it reads only memory (a fraction of a millisecond),
    which saves a hand-off to a worker thread and back per request; on the thread pool when it may
    read the warehouse (an unknown customer's country, the catalog's refresh)."""
    if _from_memory(request, customer_id):
        try:
            return handler(*args)
        except CatalogStale:  # a recommended product is new to the cached catalog: re-read it there
            pass
    return await anyio.to_thread.run_sync(handler, *args)


def _recommend(request: Request, customer_id: int, k: int) -> S.RecommendationsResponse:
    served, reader, recs = _customer_recs(request, customer_id, k)
    products = reader.products([r.product_id for r in recs])
    PREDICTIONS.labels(RECOMMENDER_MODEL, served.version).inc()
    items = [
        S.Recommendation(
            rank=r.rank,
            product_id=r.product_id,
            **catalog_fields(products.get(r.product_id)),
            score=r.score,
            cold_start=r.source.startswith("cold_start"),
            source=r.source,
        )
        for r in recs
    ]
    return S.RecommendationsResponse(
        model=S.ModelRef(name=RECOMMENDER_MODEL, version=served.version),
        customer_id=customer_id,
        cold_start=bool(items) and all(i.cold_start for i in items),
        items=items,
    )


@router.get(
    "/recommendations/{customer_id}", response_model=S.RecommendationsResponse, tags=["recommendations"]
)
async def recommendations(
    request: Request,
    customer_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX),
    k: int = Query(default=10, ge=1, le=S.MAX_K),
) -> S.RecommendationsResponse:
    """Top-k products for a customer; an unknown customer gets the labelled popularity fallback."""
    return await _answer(request, customer_id, _recommend, request, customer_id, k)


@router.post(
    "/recommend/products",
    response_model=S.RecommendationsResponse,
    tags=["recommendations"],
    dependencies=[Depends(json_body)],
)
async def recommend_products(body: S.RecommendRequest, request: Request) -> S.RecommendationsResponse:
    """The seed body `{user_id, max_recommendations}`: the same answer as GET /recommendations/{id}."""
    return await _answer(request, body.user_id, _recommend, request, body.user_id, body.max_recommendations)


def catalog_fields(product) -> dict:
    """A recommended product's name, category and price from the catalog (None when it lacks it)."""
    return {
        "name": product.name if product else None,
        "category": product.category if product else None,
        "price": product.price if product else None,
    }


def _confident_enough(confidence: float | None, minimum: float) -> bool:
    """A version without calibration (confidence None) passes only the default minimum of 0."""
    return minimum == 0 if confidence is None else confidence >= minimum


def explanation(rec: Recommended, products: dict) -> str:
    """ "because you bought <name>" for a re-ranked item with a co-occurring history item, "popular in
    <place>" for a popularity one, "" when the model version carries neither."""
    because = rec.because_product_id
    if because > 0:
        product = products.get(because)
        return f"because you {rec.because_action} {product.name if product else f'product {because}'}"
    return f"popular in {rec.popular_in}" if rec.popular_in else ""


@router.post(
    "/recommendations",
    response_model=S.RecommendationsPostResponse,
    response_model_exclude_unset=True,
    tags=["recommendations"],
    dependencies=[Depends(json_body)],
)
async def recommendations_post(
    body: S.RecommendationsRequest, request: Request
) -> S.RecommendationsPostResponse:
    """The original system's body `{user_id, n_items, include_metadata, min_confidence}`: the top
    n_items with a calibrated confidence, a source label and an explanation, those below
    min_confidence left out. An unknown user gets the labelled cold start (cold_start true)."""
    return await _answer(request, body.user_id, _recommend_post, body, request)


def _recommend_post(body: S.RecommendationsRequest, request: Request) -> S.RecommendationsPostResponse:
    served, reader, recs = _customer_recs(request, body.user_id, body.n_items)
    products = reader.products(
        [r.product_id for r in recs] + [r.because_product_id for r in recs if r.because_product_id > 0]
    )
    PREDICTIONS.labels(RECOMMENDER_MODEL, served.version).inc()
    items = []
    for rec in recs:
        if not _confident_enough(rec.confidence, body.min_confidence):
            continue
        item = S.RecommendedItem(
            product_id=rec.product_id,
            rank=rec.rank,
            score=rec.score,
            confidence=rec.confidence,
            source=rec.source,
            explanation=explanation(rec, products),
        )
        if body.include_metadata:
            for field, value in catalog_fields(products.get(item.product_id)).items():
                setattr(item, field, value)  # set: shown although None (response_model_exclude_unset)
        items.append(item)
    return S.RecommendationsPostResponse(
        model=S.ModelRef(name=RECOMMENDER_MODEL, version=served.version),
        user_id=body.user_id,
        cold_start=bool(recs) and all(r.source.startswith("cold_start") for r in recs),
        items=items,
    )


@router.get("/segments/{customer_id}", response_model=S.SegmentResponse, tags=["segments"])
def customer_segment(
    request: Request, customer_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX)
) -> S.SegmentResponse:
    """The customer's segment at the latest month start, as the segment champion stored it in
    marts.customer_segments (`ecomm train segments`), with the segment's name and profile."""
    reader = request.app.state.warehouse
    row = reader.segment(customer_id)
    if row is None and not reader.known(customer_id):
        raise ApiError(404, "not_found", f"customer {customer_id} is not in the warehouse")
    if row is None:
        raise ApiError(
            422,
            "not_segmented",
            f"customer {customer_id} has no stored segment: segments are assigned at month starts to "
            "customers with an order or a web session before them (`ecomm train segments` stores them)",
        )
    as_of, segment_id, name, model_name, version, profile = row
    return S.SegmentResponse(
        model=S.ModelRef(name=model_name, version=version),
        customer_id=customer_id,
        as_of=as_of.isoformat(),
        segment_id=segment_id,
        segment_name=name,
        profile=profile,
    )


@router.get("/clv/{customer_id}", response_model=S.ClvResponse, tags=["lifetime value"])
def customer_value(request: Request, customer_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX)) -> S.ClvResponse:
    """The customer's lifetime value at the latest month start, as the clv_model champion stored it in
    marts.customer_value (`ecomm train clv`): P(alive), expected purchase days and revenue."""
    reader = request.app.state.warehouse
    row = reader.customer_value(customer_id)
    if row is None and not reader.known(customer_id):
        raise ApiError(404, "not_found", f"customer {customer_id} is not in the warehouse")
    if row is None and not reader.purchased(customer_id):
        raise ApiError(
            422,
            "no_purchase",
            f"customer {customer_id} has never purchased: lifetime value is modelled from a customer's "
            "purchases (a day with a non-cancelled order line)",
        )
    if row is None:
        raise ApiError(
            422,
            "not_valued",
            f"customer {customer_id} has no stored lifetime value: values are stored at the training "
            "as-of date for customers with a purchase before it (`ecomm train clv` stores them)",
        )
    as_of = row.pop("as_of_date")
    model = S.ModelRef(name=row.pop("model_name"), version=row.pop("model_version"))
    return S.ClvResponse(model=model, customer_id=customer_id, as_of=as_of.isoformat(), **row)
