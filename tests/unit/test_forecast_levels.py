"""The levels a warehouse's sales can be forecast at: an imported log without a category column has
products (or the one product 'unknown') and a total, but no category series."""

from __future__ import annotations

import pandas as pd
import pytest

from ecomm.features.churn import FeatureError
from ecomm.ml.forecast.backtest import BacktestSettings
from ecomm.ml.forecast.shop import LEVELS, level_series, supported_levels

DAYS = pd.date_range("1997-01-01", periods=70)
NO_CATEGORIES = (
    "the warehouse has no product categories (an imported log without a category column): "
    "the category forecast needs them"
)


def sales_of(categories: dict[int, str | None]) -> pd.DataFrame:
    """product_sales' frame: each product sells its id in units every day."""
    return pd.concat(
        pd.DataFrame({"product_id": p, "category": c, "date": DAYS, "y": float(p)})
        for p, c in categories.items()
    ).reset_index(drop=True)


def test_a_warehouse_with_categories_is_forecast_at_every_level():
    assert supported_levels(sales_of({1: "jazz", 2: "rock"}), LEVELS) == ("product", "category", "total")


def test_without_categories_the_products_and_the_total_are_forecast_alone():
    sales = sales_of({1: None, 2: None})
    assert supported_levels(sales, LEVELS) == ("product", "total")
    _, total = level_series(sales, "total", BacktestSettings(), None)
    assert total["series_id"].unique().tolist() == ["total"]
    assert total["y"].tolist() == [3.0] * len(DAYS)


def test_the_category_level_alone_without_categories_is_refused_with_the_reason():
    sales = sales_of({1: None})
    with pytest.raises(FeatureError) as refused:
        supported_levels(sales, ("category",))
    assert str(refused.value) == NO_CATEGORIES
    with pytest.raises(FeatureError) as refused:  # a direct backtest of the level: the same reason
        level_series(sales, "category", BacktestSettings(), None)
    assert str(refused.value) == NO_CATEGORIES
