"""Demand forecast routes: a product's or a category's stored daily forecasts with 80%/95% intervals
and, for products, the reorder point, one series per GET or up to 100 per POST /forecast/batch (marts.demand_forecast and marts.product_stock, written by the
demand_forecast_model champion: `ecomm train forecast`)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Path, Query, Request

from ecomm.api import schemas as S
from ecomm.api.errors import ApiError
from ecomm.api.predictions import ERRORS, json_body
from ecomm.api.security import require_api_key

RESPONSES = {
    **{code: answer for code, answer in ERRORS.items() if code not in (400, 413, 415)},  # no bodies here
    404: {"model": S.ErrorResponse, "description": "Unknown product or category"},
    422: {
        "model": S.ErrorResponse,
        "description": "A path or query value out of range (named), or no stored forecast",
    },
}
router = APIRouter(dependencies=[Depends(require_api_key)], responses=RESPONSES)

HORIZON = Query(default=14, ge=1, le=S.MAX_FORECAST_DAYS, description="Days after the forecast date.")


def not_forecast(what: str) -> ApiError:
    return ApiError(
        422,
        "not_forecast",
        f"{what} has no stored forecast: `ecomm train forecast` stores them for every series with two "
        "weeks of sales history",
    )


def _answer(reader, level: str, series_id: str, horizon: int, what: str) -> tuple[dict, date]:
    """(the response's common fields, the forecast date) of the series' stored forecast."""
    stored = reader.forecast(level, series_id, horizon)
    if stored is None:
        raise not_forecast(what)
    head, days = stored
    return {
        "model": S.ModelRef(name=head["model_name"], version=head["model_version"]),
        "series_level": level,
        "series_id": series_id,
        "forecast_date": head["forecast_date"].isoformat(),
        "method": head["method"],
        "horizon": len(days),
        "forecasts": [S.ForecastDay(date=d.pop("target_date").isoformat(), **d) for d in days],
    }, head["forecast_date"]


def _product(reader, product_id: int, horizon: int) -> S.ProductForecastResponse:
    category = reader.product_category(product_id)
    if category is None:
        raise ApiError(404, "not_found", f"product {product_id} is not in the warehouse")
    body, forecast_date = _answer(reader, "product", str(product_id), horizon, f"product {product_id}")
    stock = reader.stock(product_id, forecast_date)
    return S.ProductForecastResponse(
        **body, product_id=product_id, category=category, stock=S.StockPolicy(**stock) if stock else None
    )


def _category(reader, category: str, horizon: int) -> S.ForecastResponse:
    if not reader.category_known(category):
        raise ApiError(404, "not_found", f"category {category!r} is not in the warehouse")
    body, _ = _answer(reader, "category", category, horizon, f"category {category!r}")
    return S.ForecastResponse(**body)


@router.get("/forecast/products/{product_id}", response_model=S.ProductForecastResponse, tags=["forecasts"])
def product_forecast(
    request: Request, product_id: int = Path(ge=S.ID_MIN, le=S.ID_MAX), horizon: int = HORIZON
) -> S.ProductForecastResponse:
    """The product's daily demand forecast for the next `horizon` days and its reorder point."""
    return _product(request.app.state.warehouse, product_id, horizon)


@router.get("/forecast/categories/{category}", response_model=S.ForecastResponse, tags=["forecasts"])
def category_forecast(
    request: Request,
    category: str = Path(min_length=1, max_length=100, pattern=S.NO_NUL),
    horizon: int = HORIZON,
) -> S.ForecastResponse:
    """The category's daily demand forecast (units of all its products) for the next `horizon` days."""
    return _category(request.app.state.warehouse, category, horizon)


@router.post(
    "/forecast/batch",
    response_model=S.ForecastBatchResponse,
    tags=["forecasts"],
    dependencies=[Depends(json_body)],
    responses={code: ERRORS[code] for code in (400, 413, 415)}
    | {
        404: {"model": S.ErrorResponse, "description": "Unknown product or category (the first one named)"},
        422: {
            "model": S.ErrorResponse,
            "description": "A field missing or out of range (named: series[i].product_id, horizon...), "
            "or a series with no stored forecast",
        },
    },
)
def forecast_batch(body: S.ForecastBatchRequest, request: Request) -> S.ForecastBatchResponse:
    """1-100 series' forecasts in one call, each answered as its GET route answers it."""
    reader = request.app.state.warehouse
    return S.ForecastBatchResponse(
        forecasts=[
            _product(reader, s.product_id, body.horizon)
            if s.product_id is not None
            else _category(reader, s.category, body.horizon)
            for s in body.series
        ]
    )
