"""Cutoff planning, the tuning folds, category columns, the promotion rule, and the feature SQL's
isolation from truth."""

from __future__ import annotations

from datetime import date, timedelta
from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from ecomm.features import columns as C
from ecomm.features.churn import (
    FeatureError,
    WarehouseSpan,
    category_shares,
    feature_columns,
    month_starts,
    plan_cutoffs,
)
from ecomm.ml.churn.train import validation_folds
from ecomm.ml.registry import better_by

YEAR = WarehouseSpan(date(2024, 4, 1), date(2025, 3, 31))


def test_month_starts():
    assert month_starts(date(2024, 11, 2), date(2025, 2, 1)) == [
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
    ]
    assert month_starts(date(2024, 12, 1), date(2024, 12, 31)) == [date(2024, 12, 1)]


def test_a_year_of_history_gives_five_training_cutoffs_before_a_later_evaluation():
    plan = plan_cutoffs(YEAR, 90, min_history_days=60)
    # the last cutoff whose 90-day window the warehouse holds: 2025-01-01 (window ends 2025-03-31)
    assert plan.evaluation == date(2025, 1, 1)
    # training windows end before it: C + 90 <= 2025-01-01; and >= 60 days of history
    assert plan.train == (
        date(2024, 6, 1),
        date(2024, 7, 1),
        date(2024, 8, 1),
        date(2024, 9, 1),
        date(2024, 10, 1),
    )


def test_max_train_cutoffs_keeps_the_latest():
    plan = plan_cutoffs(YEAR, 90, min_history_days=60, max_train_cutoffs=2)
    assert plan.train == (date(2024, 9, 1), date(2024, 10, 1))


def test_too_short_a_history_is_a_clear_error():
    with pytest.raises(FeatureError, match="no training cutoff"):
        plan_cutoffs(WarehouseSpan(date(2024, 10, 1), date(2025, 3, 31)), 90, min_history_days=60)
    with pytest.raises(FeatureError, match="too short"):
        plan_cutoffs(WarehouseSpan(date(2025, 3, 1), date(2025, 3, 31)), 90)


def test_an_evaluation_cutoff_without_a_full_label_window_is_refused():
    with pytest.raises(FeatureError, match="label window ends after the last loaded date"):
        plan_cutoffs(YEAR, 90, evaluation=date(2025, 2, 1))


def _stacked(cutoffs: list[date], customers: int = 60) -> pd.DataFrame:
    """Every customer at every cutoff, as `stack_cutoffs` gives them (keys and label only)."""
    return pd.DataFrame(
        [{C.CUSTOMER_ID: i, C.CUTOFF: c, C.LABEL: i % 2} for c in cutoffs for i in range(1, customers + 1)]
    )


def _check_folds(train: pd.DataFrame, folds, fit_cutoffs: set[date]) -> None:
    last = train[C.CUTOFF].max()
    validated = []
    for fit_idx, val_idx in folds:
        fit, val = train.iloc[fit_idx], train.iloc[val_idx]
        assert len(fit) and len(val)
        assert set(val[C.CUTOFF]) == {last}
        assert set(fit[C.CUTOFF]) == fit_cutoffs
        # no customer on both sides: its rows at neighbouring cutoffs share most of the label window
        assert not set(fit[C.CUSTOMER_ID]) & set(val[C.CUSTOMER_ID])
        validated += val[C.CUSTOMER_ID].tolist()
    # every customer of the latest cutoff is validated exactly once
    assert sorted(validated) == sorted(train.loc[train[C.CUTOFF] == last, C.CUSTOMER_ID])


def test_tuning_folds_keep_a_customer_out_of_its_own_validation():
    # four monthly cutoffs, 90-day labels: every earlier label window overlaps the latest cutoff's
    cutoffs = [date(2026, 2, 1), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    train = _stacked(cutoffs)
    folds = validation_folds(train, 90, seed=42)
    assert len(folds) == 3
    _check_folds(train, folds, set(cutoffs[:-1]))
    assert [v.tolist() for _, v in folds] == [v.tolist() for _, v in validation_folds(train, 90, seed=42)]


def test_tuning_folds_fit_on_cutoffs_whose_labels_end_before_the_validation_cutoff():
    cutoffs = [date(2025, 9, 1) + timedelta(days=30 * i) for i in range(5)]
    train = _stacked(cutoffs)
    gap = {c for c in cutoffs if c + timedelta(days=90) <= cutoffs[-1]}
    assert gap == set(cutoffs[:2])
    _check_folds(train, validation_folds(train, 90, seed=1), gap)


def test_tuning_folds_of_a_single_cutoff_split_its_customers():
    train = _stacked([date(2025, 1, 1)])
    folds = validation_folds(train, 60, seed=3)
    _check_folds(train, folds, {date(2025, 1, 1)})
    assert np.array_equal(np.sort(np.concatenate([v for _, v in folds])), np.arange(len(train)))


def test_category_columns():
    assert C.category_slug("Home & Kitchen") == "home_kitchen"
    assert C.category_share_column("Books") == "cat_share_books"
    mix = pd.DataFrame(
        {C.CUSTOMER_ID: [1, 1, 2], C.CATEGORY: ["Books", "Home & Kitchen", "Books"], "lines": [1.0, 3.0, 2.0]}
    )
    shares = category_shares(mix, ["Books", "Home & Kitchen", "Toys"])
    assert shares.loc[1].to_dict() == {
        "cat_share_books": 0.25,
        "cat_share_home_kitchen": 0.75,
        "cat_share_toys": 0.0,
    }
    assert shares.loc[2].to_dict() == {
        "cat_share_books": 1.0,
        "cat_share_home_kitchen": 0.0,
        "cat_share_toys": 0.0,
    }


def test_the_full_model_uses_no_cumulative_feature_and_all_categories():
    frame = pd.DataFrame(
        columns=[
            C.CUSTOMER_ID,
            *C.CATEGORICAL_FEATURES,
            *C.NUMERIC_FEATURES,
            "cat_share_toys",
            "cat_share_books",
        ]
    )
    features = feature_columns(frame)
    assert not set(features) & set(C.CUMULATIVE_FEATURES)
    assert C.CUSTOMER_ID not in features
    assert features[-2:] == ["cat_share_books", "cat_share_toys"]
    assert set(C.API_FIELDS) - set(C.CUMULATIVE_FEATURES) <= set(features)


@pytest.mark.parametrize(
    ("challenger", "champion", "margin", "promote"),
    [
        (0.80, 0.79, 0.005, True),
        (0.80, 0.7951, 0.005, False),  # better, but by less than the margin
        (0.80, 0.80, 0.0, False),  # a tie is not better
        (0.80, 0.81, 0.0, False),
        (0.8001, 0.80, 0.0, True),
    ],
)
def test_promotion_rule(challenger, champion, margin, promote):
    assert better_by(challenger, champion, margin) is promote


def test_lower_is_better_metrics():
    assert better_by(0.9, 1.0, 0.05, higher_is_better=False) is True
    assert better_by(0.97, 1.0, 0.05, higher_is_better=False) is False


def test_feature_sql_never_reads_the_truth_schema():
    sql_dir = files("ecomm.features") / "sql"
    texts = {p.name: p.read_text(encoding="utf-8") for p in sql_dir.iterdir() if p.name.endswith(".sql")}
    assert set(texts) == {
        "churn_features.sql",
        "churn_buyers.sql",
        "churn_category_mix.sql",
        "churn_labels.sql",
        "segment_features.sql",
        "clv_features.sql",
        "clv_realised.sql",
        "purchase_labels.sql",
        "purchase_sessions.sql",
    }
    for name, text in texts.items():
        assert "truth." not in text, name
    for module in ("churn.py", "interactions.py", "columns.py", "segments.py", "clv.py", "purchase.py"):
        assert "truth." not in (files("ecomm.features") / module).read_text(encoding="utf-8"), module


def test_lifetime_value_reads_the_truth_only_to_evaluate():
    """The BTYD fits, the measures and the served model never name the truth schema; training reads
    it in one function, whose value goes to the evaluation metrics only."""
    import inspect

    from ecomm.ml.clv import train

    for module in ("btyd.py", "evaluate.py", "__init__.py"):
        assert "truth." not in (files("ecomm.ml.clv") / module).read_text(encoding="utf-8"), module
    assert "truth." not in (files("ecomm.ml") / "serving.py").read_text(encoding="utf-8")
    body = inspect.getsource(train).replace(train.__doc__, "")
    assert body.count("truth.") == inspect.getsource(train.planted_value).count("truth.") == 3
    fit_source = inspect.getsource(train.fit_clv) + inspect.getsource(train.holdout_frame)
    assert "truth" not in fit_source
