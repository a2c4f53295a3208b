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


class Captured(Exception):
    pass


@pytest.mark.parametrize(("level", "searched"), [("product", "ZNZ"), ("category", "ZZZ"), ("total", "ZZZ")])
def test_each_level_backtests_and_registers_autoets_with_its_own_search_space(monkeypatch, level, searched):
    """ModelSettings.ets_models: the few category and total series search every ETS model, the many
    products the ones without a trend; the backtest and the registered pyfunc use the same space."""
    from ecomm.ml.forecast import shop
    from ecomm.ml.forecast.train import ForecastConfig, build_pyfunc

    def capture(frame, names, settings):
        raise Captured(settings.models.ets_model)

    monkeypatch.setattr(shop, "rolling_backtest", capture)
    with pytest.raises(Captured) as used:
        shop.shop_backtest(
            None, level, ("auto_ets",), BacktestSettings(), None, (sales_of({1: "jazz"}), None)
        )
    assert str(used.value) == searched
    assert build_pyfunc({level: "auto_ets"}, ForecastConfig()).models[level].model == searched


def test_a_level_can_be_given_another_search_space_and_a_bad_one_is_refused_naming_it():
    from ecomm.ml.forecast.models import ModelSettings

    settings = ModelSettings(ets_model="ANN", ets_models=(("category", "AAA"),))
    assert settings.for_level("category").ets_model == "AAA"
    assert settings.for_level("product").ets_model == settings.for_level("total").ets_model == "ANN"
    with pytest.raises(ValueError, match="category: AutoETS search space 'ZXZ' is not 3 letters"):
        ModelSettings(ets_models=(("category", "ZXZ"),))
    with pytest.raises(ValueError, match="ets_model: AutoETS search space 'ZZ' is not"):
        ModelSettings(ets_model="ZZ")
