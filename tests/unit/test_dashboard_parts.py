"""The dashboard's pure parts: the previous period of a filter, churn reasons in words, the map from a
fitted pipeline's columns back to its input features, the Segments page's transition grid, the
Demand & stock page's days of cover and backtest rows, the Overview's live-stream line for each
source, and what an imported log holds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder

from ecomm.dashboard.churn import input_names, log_odds_terms
from ecomm.dashboard.filters import Filters
from ecomm.dashboard.reasons import phrase
from ecomm.features import columns as C
from ecomm.ml.builders import infer_spec, make_logreg, make_xgb


def test_the_previous_period_has_the_same_length_just_before():
    flt = Filters(dt.date(2025, 3, 1), dt.date(2025, 3, 31), ("Germany",), ("Books",))
    assert flt.days == 31
    assert flt.previous == Filters(dt.date(2025, 1, 29), dt.date(2025, 2, 28), ("Germany",), ("Books",))
    assert flt.params() == {
        "start": dt.date(2025, 3, 1),
        "end": dt.date(2025, 3, 31),
        "countries": ["Germany"],
        "categories": ["Books"],
    }


def test_reasons_read_as_plain_words():
    categories = {C.category_share_column("Home & Kitchen"): "Home & Kitchen"}
    assert phrase(C.DAYS_SINCE_LAST_ORDER, 84) == "no order for 84 days"
    assert phrase(C.ORDERS_30D, 0) == "no orders in the last 30 days"
    assert phrase(C.ORDERS_30D, 1) == "1 order in the last 30 days"
    assert phrase(C.RETURN_RATE, 0.3) == "returned 30% of items"
    assert phrase(C.ORDER_TREND, -1.5) == "ordering less often than before"
    assert phrase(C.DAYS_SINCE_LAST_SESSION, float("nan")) == "never visited the shop"
    assert phrase(C.COUNTRY, "France") == "lives in France"
    assert phrase("cat_share_home_kitchen", 0.5, categories) == "50% of items from Home & Kitchen"
    assert phrase("some_new_feature", 2) == "some new feature 2.00"


def test_pipeline_columns_map_back_to_their_inputs():
    frame = pd.DataFrame(
        {
            "age": [30, 40, 50, 60],
            "country": ["France", "Germany", "France", "Spain"],
            "country_code": [1, 2, 1, 3],  # named like a one-hot output of country
            "gender": ["f", "m", "f", "m"],
        }
    )
    prepare = ColumnTransformer(
        [
            ("numeric", "passthrough", ["age", "country_code"]),
            ("categorical", OneHotEncoder(sparse_output=False), ["country", "gender"]),
        ]
    ).fit(frame)
    assert np.asarray(prepare.transform(frame)).shape[1] == 7
    assert input_names(prepare) == [
        "age",
        "country_code",
        "country",
        "country",
        "country",
        "gender",
        "gender",
    ]


def test_both_families_reasons_add_up_to_the_log_odds():
    """Logistic (coefficient x standardised value, missing indicators mapped back) and XGBoost (SHAP):
    the terms plus the bias are each row's log-odds, and every term has its input feature."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "days_since_last_order": rng.gamma(1.0, 40.0, 300),
            "country": rng.choice(["France", "Germany", "Spain"], 300),
            "age": rng.integers(18, 80, 300).astype(float),
        }
    )
    frame.loc[[2, 9], "days_since_last_order"] = np.nan
    y = (rng.random(300) < 0.4).astype(int)
    spec = infer_spec(frame)
    for pipeline in (make_logreg(spec), make_xgb(spec, params={"n_estimators": 20})):
        pipeline.fit(frame, y)
        prepare = pipeline.named_steps["prepare"]
        matrix = np.asarray(prepare.transform(frame), dtype="float64")
        terms, bias = log_odds_terms(pipeline, matrix)
        p = pipeline.predict_proba(frame)[:, 1]
        np.testing.assert_allclose(1 / (1 + np.exp(-(terms.sum(axis=1) + bias))), p, atol=1e-5)
        assert set(input_names(prepare)) == {"days_since_last_order", "country", "age"}
        assert len(input_names(prepare)) == terms.shape[1]


def test_the_transition_grid_is_square_in_segment_order_with_zeros_where_none_moved():
    from ecomm.dashboard.pages.segments import transition_grid

    # segment 2 is only left (no one in it at the later date), segment 3 only entered
    moves = pd.DataFrame(
        {
            "from_id": [2, 1, 1],
            "from_name": ["Lapsed", "Loyal", "Loyal"],
            "to_id": [1, 1, 3],
            "to_name": ["Loyal", "Loyal", "New"],
            "customers": [4, 10, 1],
        }
    )
    grid = transition_grid(moves)
    labels = ["1 · Loyal", "2 · Lapsed", "3 · New"]
    assert list(grid.index) == labels and list(grid.columns) == labels
    assert grid.to_numpy().tolist() == [[10, 0, 1], [4, 0, 0], [0, 0, 0]]
    assert grid.dtypes.unique().tolist() == [np.dtype("int64")]


def test_days_of_cover_count_the_days_until_the_forecast_uses_up_the_reorder_point():
    from ecomm.dashboard.pages.demand import days_of_cover, error_rows

    days = pd.date_range("2025-04-01", periods=4)
    rows = pd.concat(
        [
            pd.DataFrame(
                {"product_id": 1, "reorder_point": 10.0, "target_date": days, "point": [2.0, 3, 4, 5]}
            ),
            pd.DataFrame(
                {"product_id": 2, "reorder_point": 4.0, "target_date": days, "point": [1.0, 3, 1, 1]}
            ),
            pd.DataFrame({"product_id": 3, "reorder_point": 99.0, "target_date": days, "point": [1.0] * 4}),
        ]
    )
    cover = days_of_cover(rows.sample(frac=1, random_state=0))  # order of the rows does not matter
    assert cover["product_id"].tolist() == [2, 1, 3]
    assert cover["days_of_cover"].tolist()[:2] == [2, 4] and np.isnan(cover["days_of_cover"].iloc[2])
    assert cover["daily_demand"].tolist() == [1.5, 3.5, 1.0]
    table = pd.DataFrame(
        {
            "model": ["oracle", "auto_ets", "seasonal_naive", "lightgbm"] * 2,
            "horizon": [1] * 4 + [7] * 4,
            "mase": range(8),
        }
    )
    shown = error_rows(table, "auto_ets")
    assert shown["model"].astype(str).tolist() == ["auto_ets", "seasonal_naive", "oracle"] * 2
    assert shown["horizon"].tolist() == [1, 1, 1, 7, 7, 7]


def test_the_live_stream_line_says_who_streams_for_each_source():
    from ecomm.dashboard.pages.overview import stream_caption
    from ecomm.settings import Settings
    from ecomm.stream.health import StreamHealth

    none = StreamHealth(newest_event=None, lag=None, events_per_second=0.0)
    shop, quiet = Settings(source="simulated"), Settings(source="simulated", stream_service=False)
    imported = Settings(source="imported", stream_service=True)
    assert stream_caption(none, shop) == (
        "Live stream: no events streamed (`make up` and Compose run `ecomm stream --follow` as their "
        "stream service; or run `ecomm stream`)."
    )
    assert stream_caption(none, quiet) == (
        "Live stream: no events streamed (ECOMM_STREAM_SERVICE=false: `make up` does not run it; "
        "`ecomm stream` replays the next date)."
    )
    assert stream_caption(none, imported) == (
        "Live stream: no events streamed (the live shop replays the simulated shop: on imported data "
        "(ECOMM_SOURCE=imported) neither `make up` nor Compose streams)."
    )


def test_a_log_says_what_it_holds_and_a_missing_day_is_unknown():
    from ecomm.dashboard.interactions import LogSummary
    from ecomm.dashboard.pages.recommendations import dated

    events = LogSummary(
        0, {"view": 1200, "add_to_cart": 30, "purchase": 2}, 3, 4, dt.date(2024, 1, 1), dt.date(2024, 1, 4)
    )
    assert (events.noun, events.total_events) == ("events", 1232)
    assert events.describe() == (
        "1,232 events (1,200 views, 30 add-to-carts, 2 purchases) by 3 users of 4 items, 01 Jan 2024 – 04 Jan 2024"
    )
    ratings = LogSummary(31468, {}, 300, 1507, dt.date(1997, 9, 20), dt.date(1998, 4, 22))
    assert ratings.describe() == "31,468 ratings by 300 users of 1,507 items, 20 Sep 1997 – 22 Apr 1998"
    assert ratings.noun == "ratings"
    assert dated("signed up", dt.date(2026, 3, 3)) == "signed up 03 Mar 2026"
    assert dated("signed up", pd.NaT) == dated("signed up", None) == "signed up: unknown"
