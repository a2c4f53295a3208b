"""RecData's words for what a customer's choice of a product is, per kind of warehouse."""

from datetime import date

import pytest

from ecomm.ml.recommend.dataset import EVENT_TYPES, EVENTS, PURCHASES, RATINGS, SHOP, RecData


def rec_data(source: str, chosen_events: tuple[str, ...] = ()) -> RecData:
    frames = dict.fromkeys(
        ["interactions", "bought", "recent", "reviews", "holdout_reviews", "holdout_bought", "catalog",
         "train_customers", "customers"]
    )  # fmt: skip
    return RecData(date(2024, 1, 1), date(2024, 1, 29), **frames, source=source, chosen_events=chosen_events)


@pytest.mark.parametrize(
    ("source", "events", "kind", "chose", "choices"),
    [
        (SHOP, (), PURCHASES, "bought", "purchases"),
        (RATINGS, (), RATINGS, "rated", "ratings"),
        (EVENTS, ("purchase",), PURCHASES, "bought", "purchases"),
        (EVENTS, EVENT_TYPES, EVENTS, "had an event on", "events"),
    ],
)
def test_the_choice_words_follow_the_kind_of_choice(source, events, kind, chose, choices):
    data = rec_data(source, events)
    assert (data.choice_kind, data.chose, data.choices) == (kind, chose, choices)
