"""The general recommender's interactions frame: validation, row weights and the temporal split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.recommend.general.interactions import (
    InteractionsError,
    Params,
    row_weights,
    temporal_split,
    validate_interactions,
    validate_items,
)
from ecomm.ml.recommend.general.log import build_log

from support.recommend_logs import START, at, taste_world


def frame(**columns) -> pd.DataFrame:
    base = {"user_id": ["u1", "u2"], "item_id": ["i1", "i2"], "timestamp": ["2025-01-01", "2025-01-02"]}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (frame().drop(columns=["item_id"]), r"lack the column\(s\) \['item_id'\]"),
        (frame().iloc[0:0], "hold no rows"),
        (frame(user_id=["u1", None]), "1 row\\(s\\) have no user_id"),
        (frame(timestamp=["2025-01-01", "not a date"]), "timestamp is not a datetime"),
        (frame(rating=[4.0, "five"]), "1 rating value\\(s\\) are not numbers"),
        (frame(weight=[1.0, -2.0]), "weight must be >= 0"),
        ("not a frame", "must be a pandas DataFrame, got str"),
    ],
)
def test_bad_interactions_name_the_problem(bad, message):
    with pytest.raises(InteractionsError, match=message):
        validate_interactions(bad)


def test_an_event_without_a_weight_is_named():
    params = Params(event_weights={"view": 1.0})
    with pytest.raises(InteractionsError, match=r"event\(s\) \['purchase'\] have no weight"):
        validate_interactions(frame(event=["view", "purchase"]), params)


def test_item_attributes_must_name_each_item_once():
    with pytest.raises(InteractionsError, match="lack the column 'item_id'"):
        validate_items(pd.DataFrame({"category": ["a"]}))
    with pytest.raises(InteractionsError, match="item_id must be unique"):
        validate_items(pd.DataFrame({"item_id": [1, 1]}))


def test_row_weights_multiply_event_rating_weight_and_recency():
    log = pd.DataFrame(
        {
            "user_id": [1, 1, 2],
            "item_id": [1, 2, 2],
            "timestamp": [at(0), at(10), at(20)],
            "event": ["view", "purchase", "view"],
            "rating": [1.0, 5.0, 3.0],
            "weight": [1.0, 1.0, 2.0],
        }
    )
    params = Params(event_weights={"view": 1.0, "purchase": 4.0}, half_life_days=10)
    weights = row_weights(validate_interactions(log, params), params, at(20))
    # rating 1 -> 0.5, 5 -> 1, 3 -> 0.75 (range inferred 1..5); ages 20, 10, 0 days halve twice, once, never
    np.testing.assert_allclose(weights, [1 * 0.5 * 0.25, 4 * 1.0 * 0.5, 1 * 0.75 * 2.0])


def test_string_and_int_ids_map_to_contiguous_codes():
    log = build_log(frame(user_id=["x", 7], item_id=[3, "y"]), Params())
    assert list(log.users) == ["x", 7] and list(log.item_ids) == [3, "y"]
    np.testing.assert_array_equal(log.user_codes([7, "x", "nobody"]), [1, 0, -1])
    assert log.weights.shape == (2, 2)


def test_temporal_split_has_no_look_ahead():
    log = taste_world(days=60)
    train, validation, test = temporal_split(log, at(40), at(50))
    assert len(train) + len(validation) + len(test) == len(log)
    assert train["timestamp"].max() < at(40) <= validation["timestamp"].min()
    assert validation["timestamp"].max() < at(50) <= test["timestamp"].min()


def test_temporal_split_by_fractions_keeps_time_order():
    log = taste_world(days=60)
    train, validation, test = temporal_split(log, validation_fraction=0.2, test_fraction=0.1)
    assert train["timestamp"].max() < validation["timestamp"].min()
    assert validation["timestamp"].max() < test["timestamp"].min()
    assert len(test) == pytest.approx(0.1 * len(log), abs=2)
    assert len(validation) == pytest.approx(0.2 * len(log), abs=2)


def test_temporal_split_refuses_empty_parts_and_reversed_starts():
    log = taste_world(days=60)
    with pytest.raises(InteractionsError, match="must precede test_start"):
        temporal_split(log, at(50), at(40))
    with pytest.raises(InteractionsError, match="the train part is empty"):
        temporal_split(log, START - pd.Timedelta(days=1), at(50))
    with pytest.raises(InteractionsError, match="fractions must be > 0 and sum to less than 1"):
        temporal_split(log, validation_fraction=0.5, test_fraction=0.5)
