"""Request and response bodies of the prediction API (they are also its OpenAPI documentation).

The churn request is the seed body of the REST contract (docs/architecture.md#rest-api), accepted
verbatim: `{"users": [{user_id, age, …}]}`.
Unknown fields are refused (a typo in a field name is named in the 422, not silently ignored), and
types are strict: a boolean or a string is not a number, 35.0 is not an integer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ecomm.entities import CUSTOMER_AGES
from ecomm.ml.churn.model import API_EXAMPLE
from ecomm.ml.purchase.example import PURCHASE_FEATURES_EXAMPLE

MAX_USERS = 1000
MAX_K = 100
MAX_RECOMMENDATIONS = 20  # POST /recommend/products, as in the seed contract
ID_MIN, ID_MAX = 1, 2**63 - 1  # ids are positive PostgreSQL bigints, in a body as in a path
DAYS_MAX = 36_500  # a century: beyond it a day count is a mistake
MONEY_MAX = 1e9

CHURN_EXAMPLE = {"user_id": 1, **API_EXAMPLE}  # the seed body of one user (docs/architecture.md#rest-api)
PURCHASE_EXAMPLE = {"user_id": 1, **PURCHASE_FEATURES_EXAMPLE}  # one user of POST /predict/purchase


STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class ChurnUser(BaseModel):
    model_config = STRICT | ConfigDict(json_schema_extra={"examples": [CHURN_EXAMPLE]})

    user_id: int = Field(
        ge=ID_MIN, le=ID_MAX, description="Your id for this user; echoed back, never used by the model."
    )
    age: int = Field(ge=CUSTOMER_AGES[0], le=CUSTOMER_AGES[1])
    country: str = Field(
        min_length=1,
        max_length=100,
        description="A name or ISO 3166 code, any case ('United States', 'us', 'USA'); one the model does "
        "not know is scored as an unknown country, with a warning in the prediction.",
    )
    total_orders: int = Field(
        ge=1, le=1_000_000, description="Completed orders so far (churn is defined for buyers)."
    )
    total_spent: float = Field(ge=0, le=MONEY_MAX)
    days_since_last_order: int = Field(ge=0, le=DAYS_MAX)
    avg_order_value: float = Field(ge=0, le=MONEY_MAX)
    customer_duration_days: int = Field(ge=0, le=DAYS_MAX, description="Days since sign-up.")
    order_frequency: float = Field(ge=0, le=1000, description="total_orders / customer_duration_days.")
    daily_spend: float = Field(ge=0, le=MONEY_MAX, description="total_spent / customer_duration_days.")


class ChurnRequest(BaseModel):
    model_config = STRICT | ConfigDict(json_schema_extra={"examples": [{"users": [CHURN_EXAMPLE]}]})

    users: list[ChurnUser] = Field(min_length=1, max_length=MAX_USERS, description="user_ids are unique.")

    @field_validator("users")
    @classmethod
    def unique_user_ids(cls, users: list[ChurnUser]) -> list[ChurnUser]:
        return unique_user_ids(users)


def unique_user_ids(users: list) -> list:
    """Each user once: two predictions under one id could not be told apart."""
    positions: dict[int, list[int]] = {}
    for i, user in enumerate(users):
        positions.setdefault(user.user_id, []).append(i)
    repeated = {uid: at for uid, at in positions.items() if len(at) > 1}
    if repeated:
        named = "; ".join(
            f"{uid} ({', '.join(f'users[{i}]' for i in at)})" for uid, at in list(repeated.items())[:5]
        )
        raise PydanticCustomError(
            "duplicate_user_id", "user_id appears more than once: {named}", {"named": named}
        )
    return users


class ModelRef(BaseModel):
    name: str
    version: str


class ChurnPrediction(BaseModel):
    user_id: int
    churn_probability: float = Field(ge=0, le=1)
    will_churn: bool
    warnings: list[str] = Field(
        default_factory=list, description="Inputs scored but not recognised (e.g. an unknown country)."
    )


class ChurnResponse(BaseModel):
    model: ModelRef
    threshold: float = Field(description="will_churn = churn_probability >= threshold (model metadata).")
    predictions: list[ChurnPrediction]


class CustomerChurnResponse(BaseModel):
    model: ModelRef
    threshold: float
    customer_id: int
    as_of: str = Field(description="Features use the warehouse's rows before this date (its 'now').")
    churn_probability: float = Field(ge=0, le=1)
    will_churn: bool
    features: dict[str, float | int | str | None] = Field(description="The inputs the model scored.")


class CustomerPurchaseResponse(BaseModel):
    model: ModelRef
    threshold: float
    customer_id: int
    as_of: str = Field(description="Features use the warehouse's rows before this date (its 'now').")
    horizon_days: int = Field(description="The window after as_of the probability is about.")
    purchase_probability: float = Field(ge=0, le=1)
    will_purchase: bool
    features: dict[str, float | int | str | None] = Field(description="The inputs the model scored.")


class PurchaseUser(BaseModel):
    """A user_id and the purchase champion's features (the `features` GET /predict/purchase/{id}
    returns): which fields exist is the loaded model's, so the route checks them (422 naming each
    missing, unknown or mistyped one); a category share left out is 0."""

    model_config = ConfigDict(extra="allow", strict=True, json_schema_extra={"examples": [PURCHASE_EXAMPLE]})

    user_id: int = Field(
        ge=ID_MIN, le=ID_MAX, description="Your id for this user; echoed back, never used by the model."
    )


class PurchaseRequest(BaseModel):
    model_config = STRICT | ConfigDict(json_schema_extra={"examples": [{"users": [PURCHASE_EXAMPLE]}]})

    users: list[PurchaseUser] = Field(min_length=1, max_length=MAX_USERS, description="user_ids are unique.")

    @field_validator("users")
    @classmethod
    def unique_user_ids(cls, users: list[PurchaseUser]) -> list[PurchaseUser]:
        return unique_user_ids(users)


class PurchasePrediction(BaseModel):
    user_id: int
    purchase_probability: float = Field(ge=0, le=1)
    will_purchase: bool


class PurchaseResponse(BaseModel):
    model: ModelRef
    threshold: float = Field(description="will_purchase = purchase_probability >= threshold.")
    horizon_days: int = Field(description="The window the probability is about, from the features' date.")
    predictions: list[PurchasePrediction]


class RecommendRequest(BaseModel):
    model_config = STRICT | ConfigDict(
        json_schema_extra={"examples": [{"user_id": 1, "max_recommendations": 5}]}
    )

    user_id: int = Field(ge=ID_MIN, le=ID_MAX)
    max_recommendations: int = Field(default=10, ge=1, le=MAX_RECOMMENDATIONS)


class Recommendation(BaseModel):
    rank: int
    product_id: int
    name: str | None
    category: str | None
    price: float | None
    score: float
    cold_start: bool = Field(description="True when this item comes from the popularity fallback.")
    source: str


class RecommendationsResponse(BaseModel):
    model: ModelRef
    customer_id: int
    cold_start: bool = Field(description="The customer is unknown to the model: a labelled fallback.")
    items: list[Recommendation]


class RecommendationsRequest(BaseModel):
    """POST /recommendations: the original system's body."""

    model_config = STRICT | ConfigDict(
        json_schema_extra={
            "examples": [{"user_id": 1, "n_items": 5, "include_metadata": True, "min_confidence": 0.0}]
        }
    )

    user_id: int = Field(ge=ID_MIN, le=ID_MAX)
    n_items: int = Field(default=10, ge=1, le=MAX_K, description="How many products to list (1..100).")
    include_metadata: bool = Field(default=False, description="Add each product's name, category and price.")
    min_confidence: float = Field(
        default=0.0, ge=0, le=1, description="Leave out items whose confidence is below this (0..1)."
    )


class RecommendedItem(BaseModel):
    product_id: int
    rank: int = Field(description="The item's place in the customer's list (before min_confidence filters).")
    score: float = Field(description="The ranker's score: orders one customer's list, not a probability.")
    confidence: float | None = Field(
        ge=0,
        le=1,
        description="P(the customer buys this product | they buy something new in the next 28 days) "
        "at this rank and kind of list, calibrated on the training's validation window; null for a "
        "model version trained before it.",
    )
    source: str = Field(
        description="reranked, reranked_new_item, popular_fill or "
        "cold_start_{country_category,country,category,global}."
    )
    explanation: str = Field(description='"because you bought/viewed X" or "popular in Y".')
    name: str | None = Field(default=None, description="With include_metadata.")
    category: str | None = Field(default=None, description="With include_metadata.")
    price: float | None = Field(default=None, description="With include_metadata.")


class RecommendationsPostResponse(BaseModel):
    model: ModelRef
    user_id: int
    cold_start: bool = Field(description="The customer is unknown to the model: a labelled fallback.")
    items: list[RecommendedItem]


class LoadedModelInfo(BaseModel):
    name: str
    loaded: bool
    version: str | None = None
    run_id: str | None = None
    loaded_at: str | None = None
    registry_aliases: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    metadata: dict = Field(default_factory=dict)
    last_error: str | None = None


class ProfileFeature(BaseModel):
    feature: str
    z: float = Field(
        description="The segment centroid's distance from the average customer, in standard deviations."
    )
    mean: float = Field(description="The segment's mean of the feature at training.")
    overall_mean: float = Field(description="Every customer's mean of the feature at training.")


class SegmentResponse(BaseModel):
    model: ModelRef
    customer_id: int
    as_of: str = Field(description="The month start the segment was assigned at (features before it).")
    segment_id: int
    segment_name: str = Field(description="Derived from the centroid: its most distinctive features.")
    profile: list[ProfileFeature]


class ClvResponse(BaseModel):
    model: ModelRef
    customer_id: int
    as_of: str = Field(description="The month start the value was scored at (purchases before it).")
    horizon_days: int = Field(description="The horizon of expected_orders and expected_value, from as_of.")
    p_alive: float = Field(description="P(the customer is still active at as_of), BG/NBD.")
    expected_orders: float = Field(description="Expected purchase days in the horizon.")
    expected_order_value: float = Field(description="Expected revenue of a purchase day ($), Gamma-Gamma.")
    expected_value: float = Field(description="Expected revenue in the horizon ($, before returns).")
    frequency: float = Field(description="Purchase days before as_of, after the first.")
    recency_days: float = Field(description="Days from the first to the last purchase day.")
    t_days: float = Field(description="Days from the first purchase day to as_of.")
    monetary: float = Field(description="Mean revenue of the purchase days ($).")


MAX_FORECAST_DAYS = 30  # what `ecomm train forecast` stores


class ForecastDay(BaseModel):
    date: str
    point: float = Field(description="Expected units sold that day.")
    lo_80: float
    hi_80: float
    lo_95: float
    hi_95: float


class StockPolicy(BaseModel):
    lead_time_days: int = Field(description="Days from ordering stock to its arrival (a setting).")
    service_level: float = Field(description="Target share of days with every unit of demand met.")
    lead_time_demand: float = Field(description="Forecast units over the lead time.")
    safety_stock: float = Field(description="Units held above lead_time_demand for the service level.")
    reorder_point: float = Field(description="Order when stock on hand + on order falls to this.")


class ForecastResponse(BaseModel):
    model: ModelRef
    series_level: Literal["product", "category", "total"]
    series_id: str
    forecast_date: str = Field(description="The last day of the history the forecast was made from.")
    method: str = Field(description="The model chosen for the level by backtest (e.g. auto_ets).")
    horizon: int
    forecasts: list[ForecastDay]


class ProductForecastResponse(ForecastResponse):
    product_id: int
    category: str
    stock: StockPolicy | None = Field(description="None only if the horizon is shorter than the lead time.")


MAX_FORECAST_SERIES = 100  # POST /forecast/batch
NO_NUL = r"^[^\x00]+$"  # PostgreSQL text cannot hold a NUL: refused as a 422, not a server error
FORECAST_BATCH_EXAMPLE = {"series": [{"product_id": 12}, {"category": "Books"}], "horizon": 14}


class SeriesRef(BaseModel):
    model_config = STRICT | ConfigDict(
        json_schema_extra={"examples": [{"product_id": 12}, {"category": "Books"}]}
    )

    product_id: int | None = Field(default=None, ge=ID_MIN, le=ID_MAX, description="A product's series.")
    category: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=NO_NUL, description="A category's series."
    )

    @model_validator(mode="after")
    def exactly_one(self) -> SeriesRef:
        if (self.product_id is None) == (self.category is None):
            raise PydanticCustomError("one_series", "give exactly one of product_id and category")
        return self


class ForecastBatchRequest(BaseModel):
    model_config = STRICT | ConfigDict(json_schema_extra={"examples": [FORECAST_BATCH_EXAMPLE]})

    series: list[SeriesRef] = Field(
        min_length=1, max_length=MAX_FORECAST_SERIES, description="Answered in this order."
    )
    horizon: int = Field(default=14, ge=1, le=MAX_FORECAST_DAYS, description="Days after the forecast date.")


class ForecastBatchResponse(BaseModel):
    forecasts: list[ProductForecastResponse | ForecastResponse] = Field(
        description="One per series of the request, in its order, each as GET /forecast/products/{id} "
        "or GET /forecast/categories/{category} answers it."
    )


class ModelsResponse(BaseModel):
    registry: str = Field(description="'reachable', or why the last poll failed.")
    last_poll: str | None
    models: list[LoadedModelInfo]


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorResponse(BaseModel):
    error: str = Field(description="A short code: validation_error, not_found, unauthorized, …")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str
