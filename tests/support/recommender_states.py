"""Small recommender states (ecomm.ml.serving's RecommenderPyfunc and RerankedRecommenderPyfunc)
whose answers can be worked out by hand: the pyfunc tests and the API lookup's tests share them."""

from __future__ import annotations

import numpy as np

from ecomm.ml import serving


def recommender_state() -> dict:
    """Users 10 and 20, items 1..4 with 2-d factors: user 10 likes items 1 > 2 > 3 > 4."""
    return {
        "user_ids": np.array([10, 20]),
        "item_ids": np.array([1, 2, 3, 4]),
        "user_factors": np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32),
        "item_factors": np.array([[4.0, 0.0], [3.0, 1.0], [2.0, 2.0], [1.0, 3.0]], dtype=np.float32),
        "item_cold": np.array([False, False, False, True]),
        "item_category": np.array(["Books", "Books", "Toys", "Toys"]),
        "blend_weight": 0.0,
        "svd_bu": np.zeros(2),
        "svd_bi": np.zeros(4),
        "svd_pu": np.zeros((2, 1)),
        "svd_qi": np.zeros((4, 1)),
        "bought_indptr": np.array([0, 1, 1]),  # user 10 bought item 1; user 20 nothing
        "bought_indices": np.array([0]),
        "global_popularity": np.array([5.0, 1.0, 3.0, 2.0]),
        "country_popularity": {"Germany": np.array([0.1, 1.0, 0.2, 0.3])},
        "customer_country": {30: "Germany"},
        "info": {},
    }


def reranked_state() -> dict:
    """Users 10 and 20 over items 1..5: user 10's ranked list is 3, 5 (item 5 had no interactions)
    and user 10 bought item 1; user 20's list is 2, 4, 1, 3, 5."""
    base = recommender_state()
    return {
        "user_ids": np.array([10, 20]),
        "item_ids": np.array([1, 2, 3, 4, 5]),
        "list_indptr": np.array([0, 2, 7]),
        "list_items": np.array([2, 4, 1, 3, 0, 2, 4]),
        "list_scores": np.array([0.9, 0.4, 2.0, 1.5, 1.0, 0.5, 0.1]),
        "item_new": np.array([False, False, False, False, True]),
        "item_category": np.array(["Books", "Books", "Toys", "Toys", "Toys"]),
        "bought_indptr": np.array([0, 1, 1]),
        "bought_indices": np.array([0]),
        "global_popularity": np.array([5.0, 1.0, 3.0, 2.0, 0.0]),
        "country_popularity": {"Germany": np.array([0.1, 1.0, 0.2, 0.3, 0.0])},
        "customer_country": {10: "Germany", 30: "Germany"},
        "info": base["info"],
    }


def calibrated_state() -> dict:
    """reranked_state with rank calibration curves and each list entry's explaining history item:
    user 20's item 4 is explained by item 1 (position 0), item 1 by nothing."""
    curve = np.linspace(0.5, 0.0, serving.MAX_K)
    return reranked_state() | {
        "calibration": {"personal": curve, "popular": curve / 5},
        "list_because": np.array([0, -1, -1, 0, -1, 1, 1], dtype=np.int32),
        # user 20 (row 1) bought item 1 (position 0); user 10 (row 0) bought nothing here
        "bought_indptr": np.array([0, 0, 1]),
        "bought_indices": np.array([0]),
    }
