"""The API's lookup of one customer's recommendations (ecomm.ml.recommend.lookup): the same rows as
the re-ranked pyfunc's predict() on every path, and no lookup for a model it cannot vouch for."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from ecomm.ml import serving
from ecomm.ml.recommend.lookup import Lookup, Recommended, compile_lookup, rows_of_frame
from ecomm.ml.serving import RecommenderPyfunc, RerankedRecommenderPyfunc

from support.recommender_states import calibrated_state, recommender_state, reranked_state


def predicted(model, customer_id: int, k: int, country=None, categories=None) -> list[Recommended]:
    frame = pd.DataFrame(
        {"customer_id": [customer_id], "k": [k], "country": [country], "categories": [categories]}
    )
    return rows_of_frame(model.predict(None, frame))


@pytest.mark.parametrize("state", [reranked_state, calibrated_state])
def test_the_lookup_gives_predicts_rows_on_every_path(state):
    model = RerankedRecommenderPyfunc(state())
    lookup = Lookup(model)
    # known with a long list, known with a fill, unknown with the country on file, unknown strangers
    customers, ks = (20, 10, 30, 99), (1, 2, 4, 5, 500)
    places = (None, "", "Germany", "Atlantis")
    wanted = (None, "Books", " Toys , Books", "Garden")
    checked = 0
    for customer, k, country, categories in itertools.product(customers, ks, places, wanted):
        expected = predicted(model, customer, k, country, categories)
        assert lookup.recommend(customer, k, country, categories) == expected, (customer, k, country)
        checked += 1
    assert checked == 320


def test_the_lookups_rows_carry_confidence_explanation_and_place():
    lookup = Lookup(RerankedRecommenderPyfunc(calibrated_state()))
    curve = np.linspace(0.5, 0.0, serving.MAX_K)
    assert lookup.recommend(20, 2) == [
        Recommended(1, 2, 2.0, serving.RERANKED, float(curve[0])),
        Recommended(2, 4, 1.5, serving.RERANKED, float(curve[1]), 1, "bought"),
    ]
    filled = lookup.recommend(10, 4)
    assert [(r.product_id, r.source, r.popular_in) for r in filled] == [
        (3, serving.RERANKED, ""),
        (5, serving.RERANKED_NEW_ITEM, ""),
        (2, serving.POPULAR_FILL, "Germany"),
        (4, serving.POPULAR_FILL, "Germany"),
    ]
    assert [r.confidence for r in filled] == [
        float(c) for c in (curve[0], curve[1], curve[0] / 5, curve[1] / 5)
    ]
    [cold] = lookup.recommend(99, 1, "Germany", "Books")
    assert cold == Recommended(
        1, 2, 2.0, serving.COLD_COUNTRY_CATEGORY, float(curve[0] / 5), -1, "", "Books in Germany"
    )


def test_a_version_without_calibration_has_no_confidence():
    rows = Lookup(RerankedRecommenderPyfunc(reranked_state())).recommend(20, 2)
    assert [r.confidence for r in rows] == [None, None]
    assert [r.because_product_id for r in rows] == [-1, -1]


def test_only_a_known_customer_is_known():
    lookup = Lookup(RerankedRecommenderPyfunc(reranked_state()))
    assert [lookup.knows(c) for c in (1, 10, 15, 20, 21, 30)] == [False, True, False, True, False, False]


def test_a_reranked_model_gets_a_verified_lookup():
    model = RerankedRecommenderPyfunc(calibrated_state())
    lookup = compile_lookup(model)
    assert isinstance(lookup, Lookup) and lookup.model is model


class RelabelledPyfunc(RerankedRecommenderPyfunc):
    """A version whose labels the lookup does not reproduce (as a model pickled with other code)."""

    def annotate(self, out, frame):
        return super().annotate(out, frame).assign(popular_in="somewhere else")


def test_no_lookup_for_the_als_model_nor_for_one_whose_rows_differ():
    assert compile_lookup(RecommenderPyfunc(recommender_state())) is None
    assert compile_lookup(RelabelledPyfunc(calibrated_state())) is None
    assert compile_lookup(RerankedRecommenderPyfunc(calibrated_state() | {"user_ids": np.array([])})) is None


class FailingPyfunc(RerankedRecommenderPyfunc):
    """A version whose predict() raises on a probe (as a model pickled with code the lookup misreads)."""

    def predict(self, context, model_input, params=None):
        raise KeyError("customer_country")


def test_no_lookup_when_a_probe_raises_or_the_state_lacks_what_the_lookup_reads(caplog):
    assert compile_lookup(FailingPyfunc(calibrated_state())) is None
    assert "the recommendation lookup failed on a probe customer" in caplog.text
    without_fill = {k: v for k, v in calibrated_state().items() if k != "country_popularity"}
    assert compile_lookup(RerankedRecommenderPyfunc(without_fill)) is None
