"""The served pyfunc classes on small, hand-built state: head routing, exclusions, cold start."""

from __future__ import annotations

import ast
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ecomm.ml import serving
from ecomm.ml.serving import ChurnPyfunc, RecommenderPyfunc, RerankedRecommenderPyfunc

from support.recommender_states import calibrated_state, recommender_state, reranked_state


def test_serving_imports_nothing_from_ecomm():
    tree = ast.parse((files("ecomm.ml") / "serving.py").read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    # statsforecast: the forecast model's own requirement, imported when it predicts
    third_party = {
        "mlflow.pyfunc",
        "numpy",
        "pandas",
        "scipy.special",
        "statsforecast",
        "statsforecast.core",  # its process pools, from the fork server instead of forked
        "statsforecast.models",
    }
    standard = {"__future__", "copy", "functools", "multiprocessing", "concurrent.futures"}
    assert imported == {*standard, *third_party}


# ----------------------------------------------------------------------------------------- churn
@pytest.fixture(scope="module")
def churn_model() -> ChurnPyfunc:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = (x["a"] + x["b"] > 0).astype(int)
    full = LogisticRegression().fit(x[["a", "b"]], y)
    api = LogisticRegression().fit(x[["a"]], y)
    return ChurnPyfunc(full, ["a", "b"], api, ["a"], info={})


def test_rows_with_every_full_feature_use_the_full_head(churn_model):
    frame = pd.DataFrame({"a": [1.0, -1.0], "b": [2.0, -2.0], "customer_id": [5, 6]})
    out = churn_model.predict(None, frame)
    assert out[serving.MODEL_VARIANT].tolist() == [serving.FULL, serving.FULL]
    expected = churn_model.full_pipeline.predict_proba(frame[["a", "b"]])[:, 1]
    np.testing.assert_allclose(out[serving.CHURN_PROBABILITY], expected)


def test_api_fields_alone_use_the_api_head(churn_model):
    out = churn_model.predict(None, pd.DataFrame({"a": [1.0]}, index=[7]))
    assert out.index.tolist() == [7]
    assert out[serving.MODEL_VARIANT].tolist() == [serving.API_FIELDS]
    assert out[serving.CHURN_PROBABILITY].iloc[0] == pytest.approx(
        churn_model.api_pipeline.predict_proba(pd.DataFrame({"a": [1.0]}))[0, 1]
    )


def test_missing_api_fields_are_an_error(churn_model):
    with pytest.raises(ValueError, match=r"missing input columns \['a'\]"):
        churn_model.predict(None, pd.DataFrame({"b": [1.0]}))


# ----------------------------------------------------------------------------------- recommender
def recs(model, **columns) -> pd.DataFrame:
    return model.predict(None, pd.DataFrame(columns))


def test_known_customers_get_model_scores_without_their_purchases():
    out = recs(RecommenderPyfunc(recommender_state()), customer_id=[10, 20], k=[2, 4])
    mine = out[out.customer_id == 10]
    assert mine["product_id"].tolist() == [2, 3]  # item 1 was bought
    assert mine["rank"].tolist() == [1, 2]
    assert set(mine["source"]) == {serving.MODEL}
    theirs = out[out.customer_id == 20]
    assert theirs["product_id"].tolist() == [4, 3, 2, 1]
    assert theirs["source"].tolist() == [serving.MODEL_COLD_ITEM, serving.MODEL, serving.MODEL, serving.MODEL]


def test_the_blend_adds_svd_stars():
    state = recommender_state() | {"blend_weight": 1.0, "svd_bi": np.array([0.0, -5.0, 5.0, 0.0])}
    out = recs(RecommenderPyfunc(state), customer_id=[10], k=[1])
    assert out["product_id"].tolist() == [3]


def test_unknown_customers_get_the_labelled_cold_start():
    model = RecommenderPyfunc(recommender_state())
    out = recs(
        model,
        customer_id=[99, 98, 97, 96, 30],
        k=[2, 2, 2, 2, 1],
        country=["Germany", "Germany", None, "", None],
        categories=["Toys", None, None, "Books", None],
    )
    by = {c: g for c, g in out.groupby("customer_id")}
    assert by[99]["product_id"].tolist() == [4, 3]  # Toys first, then by German popularity
    assert set(by[99]["source"]) == {serving.COLD_COUNTRY_CATEGORY}
    assert by[98]["product_id"].tolist() == [2, 4]
    assert set(by[98]["source"]) == {serving.COLD_COUNTRY}
    assert by[97]["product_id"].tolist() == [1, 3]
    assert set(by[97]["source"]) == {serving.COLD_GLOBAL}
    assert by[96]["product_id"].tolist() == [1, 2]  # Books first, then by the shop's popularity
    assert set(by[96]["source"]) == {serving.COLD_CATEGORY}
    assert by[30]["product_id"].tolist() == [2]  # the model knows this customer's country
    assert out["customer_id"].tolist() == [99, 99, 98, 98, 97, 97, 96, 96, 30]  # input order


def test_k_is_bounded_and_defaults_to_ten():
    model = RecommenderPyfunc(recommender_state())
    assert len(recs(model, customer_id=[20], k=[0])) == 1
    assert len(recs(model, customer_id=[20])) == 4  # only four items
    assert recs(model, customer_id=[]).empty


def test_known_customers_get_their_reranked_list_labelled():
    out = recs(RerankedRecommenderPyfunc(reranked_state()), customer_id=[20, 10], k=[3, 2])
    assert out["customer_id"].tolist() == [20, 20, 20, 10, 10]  # input order
    assert out["product_id"].tolist() == [2, 4, 1, 3, 5]
    assert out["rank"].tolist() == [1, 2, 3, 1, 2]
    assert out["score"].tolist() == [2.0, 1.5, 1.0, 0.9, 0.4]
    assert out["source"].tolist() == [serving.RERANKED] * 4 + [serving.RERANKED_NEW_ITEM]


def test_a_short_list_is_filled_with_best_sellers_the_customer_did_not_buy():
    out = recs(RerankedRecommenderPyfunc(reranked_state()), customer_id=[10], k=[4])
    # listed 3, 5; then Germany's best sellers 2 > 4 (item 1 was bought, item 3 is listed)
    assert out["product_id"].tolist() == [3, 5, 2, 4]
    assert out["source"].tolist() == [
        serving.RERANKED,
        serving.RERANKED_NEW_ITEM,
        serving.POPULAR_FILL,
        serving.POPULAR_FILL,
    ]
    assert out["score"].tolist() == [0.9, 0.4, -0.6, -1.6]  # below the list, still descending


def test_unknown_customers_get_the_same_labelled_cold_start_as_before():
    out = recs(
        RerankedRecommenderPyfunc(reranked_state()),
        customer_id=[99, 97, 30],
        k=[2, 2, 1],
        country=["Germany", None, None],
        categories=["Books", None, None],
    )
    assert out["product_id"].tolist() == [2, 1, 1, 3, 2]
    assert out["source"].tolist() == [serving.COLD_COUNTRY_CATEGORY] * 2 + [serving.COLD_GLOBAL] * 2 + [
        serving.COLD_COUNTRY
    ]


def test_reranked_k_is_bounded_and_an_empty_request_has_the_columns():
    model = RerankedRecommenderPyfunc(reranked_state())
    assert len(recs(model, customer_id=[20], k=[0])) == 1
    assert len(recs(model, customer_id=[20], k=[500])) == 5  # every product: five
    assert len(recs(model, customer_id=[10])) == 4  # ten asked; four products it did not buy
    assert list(recs(model, customer_id=[]).columns) == [
        "customer_id",
        "rank",
        "product_id",
        "score",
        "source",
        "confidence",
        "because_product_id",
        "because_action",
        "popular_in",
    ]


def test_confidence_is_the_calibrated_rate_at_the_rank_of_the_rows_kind():
    out = recs(RerankedRecommenderPyfunc(calibrated_state()), customer_id=[20, 99], k=[2, 2])
    curve = np.linspace(0.5, 0.0, serving.MAX_K)
    assert out["confidence"].tolist() == [curve[0], curve[1], curve[0] / 5, curve[1] / 5]
    # user 10's list holds 2 items; its fills are its 1st and 2nd popular items, at ranks 3 and 4
    filled = recs(RerankedRecommenderPyfunc(calibrated_state()), customer_id=[10], k=[4])
    assert filled["confidence"].tolist() == [curve[0], curve[1], curve[0] / 5, curve[1] / 5]


def test_reranked_rows_are_explained_by_a_history_item_and_popular_rows_by_a_place():
    out = recs(
        RerankedRecommenderPyfunc(calibrated_state()),
        customer_id=[20, 10, 99, 97],
        k=[3, 4, 1, 1],
        country=[None, None, "Germany", None],
        categories=[None, None, "Books", None],
    )
    assert out["product_id"].tolist() == [2, 4, 1, 3, 5, 2, 4, 2, 1]
    assert out["because_product_id"].tolist() == [-1, 1, -1, 1, -1, -1, -1, -1, -1]
    assert out["because_action"].tolist() == ["", "bought", "", "viewed", "", "", "", "", ""]
    assert out["popular_in"].tolist() == [
        "",
        "",
        "",
        "",
        "",
        "Germany",
        "Germany",
        "Books in Germany",
        "the shop",
    ]


def test_a_version_without_calibration_has_no_confidence():
    out = recs(RerankedRecommenderPyfunc(reranked_state()), customer_id=[20], k=[2])
    assert out["confidence"].isna().all()
    assert out["because_product_id"].tolist() == [-1, -1]


# -------------------------------------------------------------------------------------- forecast
def test_the_forecast_pyfunc_fits_each_levels_model_on_the_history_it_is_given():
    from statsforecast.models import SeasonalNaive

    from ecomm.ml.serving import ForecastPyfunc

    week = [5.0, 6, 7, 8, 9, 10, 11]
    model = ForecastPyfunc(
        {"total": SeasonalNaive(season_length=7, alias="seasonal_naive")},
        {"total": "seasonal_naive"},
        {"season_length": 7, "horizon": 30},
    )
    history = pd.DataFrame(
        {
            "series_level": "total",
            "series_id": "total",
            "date": pd.date_range("2025-01-01", periods=28),
            "y": week * 4,
        }
    )
    out = model.predict(None, history, params={"horizon": 9})
    assert out.columns.tolist() == [
        "series_level",
        "series_id",
        "date",
        "point",
        "lo_80",
        "hi_80",
        "lo_95",
        "hi_95",
        "method",
    ]
    assert out.point.tolist() == week + week[:2]  # the last week repeated
    assert out.date.tolist() == list(pd.date_range("2025-01-29", periods=9))
    assert (out.hi_95 == out.point).all()  # a series that repeats exactly: no error, no spread
    with pytest.raises(
        ValueError, match=r"^series_level: this model forecasts \['total'\], not \['product'\]"
    ):
        model.predict(None, history.assign(series_level="product"))
    with pytest.raises(ValueError, match="^horizon: must be 1..30 days, got 0"):
        model.predict(None, history, params={"horizon": 0})


def test_a_calibrated_forecast_pyfunc_bounds_each_day_by_the_error_quantiles_times_the_series_spread():
    """q(p) = 2p - 1 at every step: the 80% interval is point -/+ 0.8 x spread, the 95% -/+ 0.95 x;
    spread: the mean |y_t - y_(t-7)| of the last 28 days (2 here: week 2 is week 1 + 2 each day)."""
    from statsforecast.models import SeasonalNaive

    from ecomm.ml.forecast.conformal import PROBABILITIES
    from ecomm.ml.serving import ForecastPyfunc, series_spreads

    calibration = {
        "probabilities": PROBABILITIES.tolist(),
        "daily": [(2 * PROBABILITIES - 1).tolist()] * 30,
        "shortfall": [PROBABILITIES.tolist()] * 30,
        "spread_days": 28,
    }
    model = ForecastPyfunc(
        {"total": SeasonalNaive(season_length=7, alias="seasonal_naive")},
        {"total": "seasonal_naive"},
        {"season_length": 7, "horizon": 30},
        {"total": calibration},
    )
    week = [5.0, 6, 7, 8, 9, 10, 11]
    history = pd.DataFrame(
        {
            "series_level": "total",
            "series_id": "total",
            "date": pd.date_range("2025-01-01", periods=14),
            "y": week + [v + 2 for v in week],
        }
    )
    assert series_spreads(history, 7, 28).to_dict() == {"total": 2.0}
    out = model.predict(None, history, params={"horizon": 3})
    assert out.point.tolist() == [7.0, 8.0, 9.0]
    assert out.lo_80.tolist() == pytest.approx([5.4, 6.4, 7.4]) and out.hi_80.tolist() == pytest.approx(
        [8.6, 9.6, 10.6]
    )
    assert out.lo_95.tolist() == pytest.approx([5.1, 6.1, 7.1]) and out.hi_95.tolist() == pytest.approx(
        [8.9, 9.9, 10.9]
    )
    flat = history.assign(y=3.0)  # no seasonal change: spread 0, no width
    assert (model.predict(None, flat, params={"horizon": 3})[["lo_95", "hi_95"]] == 3.0).all().all()
