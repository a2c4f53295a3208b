"""Purchase propensity pieces on synthetic frames: session features joined, nullable integers made
floats, the recency rule and the never-active test, the time-ordered split, the metrics, the truth's
alignment, and the trainer's families fit on foreign column names with string categories."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ecomm.features.churn import FeatureError
from ecomm.features.purchase import (
    LABEL,
    SESSION_FEATURES,
    add_session_features,
    as_floats,
    never_active,
    purchase_feature_columns,
    recency_rule,
)
from ecomm.ml.purchase import evaluate as ev
from ecomm.ml.purchase.dataset import PurchaseData, align, time_split, truth_scores
from ecomm.ml.purchase.train import FAMILIES, PurchaseConfig, best_family, fit_purchase

CUTOFF = "cutoff_date"


def test_session_features_of_customers_without_recent_events_are_zero():
    features = pd.DataFrame({"customer_id": [1, 2, 3], "orders_30d": [0.0, 1.0, 2.0]})
    sessions = pd.DataFrame(
        {
            "customer_id": [2],
            "web_sessions_7d": [3.0],
            "web_views_7d": [7.0],
            "web_cart_adds_7d": [1.0],
            "web_cart_adds_30d": [2.0],
        }
    )
    out = add_session_features(features, sessions)
    assert out["customer_id"].tolist() == [1, 2, 3]
    assert out[list(SESSION_FEATURES)].to_numpy().tolist() == [[0, 0, 0, 0], [3, 7, 1, 2], [0, 0, 0, 0]]
    assert (out[list(SESSION_FEATURES)].dtypes == "float64").all()


def test_nullable_integers_become_floats_with_nan():
    frame = pd.DataFrame({"days": pd.array([3, None], dtype="Int64"), "n": [1, 2]})
    out = as_floats(frame)
    assert out["days"].dtype == "float64" and np.isnan(out["days"].iloc[1]) and out["days"].iloc[0] == 3.0
    assert out["n"].dtype == "int64"


def test_recency_rule_and_never_active():
    frame = pd.DataFrame(
        {
            "orders_30d": [0.0, 2.0, 0.0],
            "total_orders": [0, 3, 0],
            "cancelled_orders": [0.0, 0.0, 1.0],
            "sessions_total": [0.0, 5.0, 0.0],
        }
    )
    assert recency_rule(frame).tolist() == [0, 1, 0]
    assert never_active(frame).tolist() == [True, False, False]


def cutoffs_frame(days: list[str]) -> pd.DataFrame:
    return pd.DataFrame({CUTOFF: [date.fromisoformat(d) for d in days]})


def test_time_split_validates_on_the_latest_cutoff_and_fits_on_windows_that_end_by_it():
    frame = cutoffs_frame(["2024-10-01", "2024-11-01", "2024-11-20", "2024-12-01", "2024-12-01"])
    fit, val = time_split(frame, 30)
    assert fit.tolist() == [0, 1] and val.tolist() == [3, 4]  # 2024-11-20 + 30 days is after 12-01


def test_time_split_needs_two_cutoffs():
    with pytest.raises(FeatureError, match="two training cutoffs"):
        time_split(cutoffs_frame(["2024-12-01"]), 30)


def test_align_gives_every_frame_the_union_of_the_category_shares():
    a = pd.DataFrame({"x": [1.0], "cat_share_books": [1.0]})
    b = pd.DataFrame({"x": [2.0], "cat_share_toys": [0.5]})
    out = align([a, b])
    assert out[0]["cat_share_toys"].tolist() == [0.0] and out[1]["cat_share_books"].tolist() == [0.0]
    assert out[1]["cat_share_toys"].tolist() == [0.5]


def test_metrics_of_a_scorer_and_the_majority_class():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.1, 0.2, 0.4, 0.1, 0.1, 0.3, 0.2, 0.1])
    m = ev.scorer_metrics(y, scores)
    assert m["roc_auc"] == pytest.approx(15 / 16)  # 16 positive-negative pairs, one misordered
    assert m["accuracy"] == pytest.approx(0.8)  # 0.6 is a false positive, 0.4 a false negative
    assert m["top_decile_lift"] == pytest.approx(1 / 0.2)  # the top row is a buyer, base rate 0.2
    assert ev.majority_accuracy(y) == pytest.approx(0.8)


def test_truth_scores_follow_the_holdout_order_and_need_every_customer():
    holdout = pd.DataFrame({"customer_id": [3, 1]})
    truth = pd.DataFrame({"customer_id": [1, 3], "purchase_probability": [0.2, 0.7]})
    assert truth_scores(holdout, truth).tolist() == [0.7, 0.2]
    assert truth_scores(holdout, truth.head(1)) is None
    assert truth_scores(holdout, None) is None


def test_best_family_prefers_the_earlier_family_on_a_tie():
    assert best_family({"logreg": 0.8, "xgboost": 0.8, "mlp": 0.7}) == "logreg"
    assert best_family({"logreg": 0.7, "xgboost": 0.8, "mlp": 0.9}) == "mlp"


def test_every_family_fits_foreign_columns_with_roles_by_dtype():
    """A frame with none of the shop's column names and a "Yes"/"No" and a string column: the spec
    comes from the dtypes, each family validates and refits, the served one scores any row."""
    rng = np.random.default_rng(0)
    n = 600
    tenure = rng.exponential(20.0, n)
    plan = rng.choice(["basic", "plus", "pro"], n)
    paperless = rng.choice(["Yes", "No"], n)
    logit = 1.5 - 0.08 * tenure + (plan == "pro") * 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    cutoffs = np.repeat([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)], n // 3)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            CUTOFF: cutoffs,
            "MonthsIdle": tenure,
            "Plan": plan,
            "Paperless": paperless,
            LABEL: y,
        }
    )
    data = PurchaseData(
        plan=None, train=frame, evaluation=frame, features=["MonthsIdle", "Plan", "Paperless"]
    )
    fitted = fit_purchase(data, PurchaseConfig(xgb_estimators=20, mlp_max_iter=30, n_jobs=1))
    assert fitted.spec.skewed == ("MonthsIdle",)
    assert fitted.spec.categorical == ("Plan",) and fitted.spec.boolean == ("Paperless",)
    assert set(fitted.validation) == set(FAMILIES)
    assert fitted.family == best_family(fitted.validation)
    assert all(v > 0.6 for v in fitted.validation.values())
    p = fitted.served.predict_proba(frame[fitted.spec.columns])[:, 1]
    assert p.shape == (n,) and ((p > 0) & (p < 1)).all()


def test_the_api_example_holds_every_purchase_feature_but_the_category_shares():
    from ecomm.ml.purchase.example import PURCHASE_FEATURES_EXAMPLE

    assert set(PURCHASE_FEATURES_EXAMPLE) == set(purchase_feature_columns(pd.DataFrame()))
    assert None not in PURCHASE_FEATURES_EXAMPLE.values()
