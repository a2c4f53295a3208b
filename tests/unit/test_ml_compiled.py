"""The compiled churn head scores exactly like the pipeline it was built from, or is not built."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomm.ml.builders import infer_spec, make_logreg, make_xgb
from ecomm.ml.churn.compiled import compile_head, probe_rows
from ecomm.ml.churn.model import churn_directions

COLUMNS = ["age", "country", "days_since_last_order", "total_spent"]


def _data(n: int = 600, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    countries = np.array(["US", "DE", "FR", "NL", "IT", "Rare"])
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "country": countries[rng.choice(6, n, p=[0.4, 0.2, 0.15, 0.15, 0.09, 0.01])],
            "days_since_last_order": rng.integers(0, 300, n),
            "total_spent": rng.gamma(2.0, 100.0, n),
        }
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-(frame["days_since_last_order"] - 120) / 40))).astype(int)
    return frame, y


def test_compiled_xgboost_head_equals_the_pipeline_on_unseen_rows():
    frame, y = _data()
    pipeline = make_xgb(
        infer_spec(frame, COLUMNS), params={"n_estimators": 40, "max_depth": 3}, seed=1, n_jobs=1
    ).fit(frame, y)
    head = compile_head(pipeline, COLUMNS)
    assert head is not None
    rows = probe_rows(COLUMNS, {"country": ["US", "DE", "Rare", "Atlantis"]}, n=200, seed=9)
    expected = pipeline.predict_proba(rows[COLUMNS])[:, 1]
    got = head.predict_proba({c: rows[c].tolist() for c in COLUMNS})
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
    # the infrequent "Rare" and the unseen "Atlantis" are encoded as the encoder does
    assert head.onehot["country"]["Rare"].tolist() != head.onehot["country"]["US"].tolist()


def test_a_pipeline_of_another_shape_is_not_compiled():
    frame, y = _data()
    logreg = make_logreg(infer_spec(frame, COLUMNS), c=1.0, seed=1).fit(frame, y)
    assert compile_head(logreg, COLUMNS) is None
    xgb = make_xgb(infer_spec(frame, COLUMNS), params={"n_estimators": 5}, seed=1, n_jobs=1).fit(frame, y)
    assert compile_head(xgb, COLUMNS[:3]) is None  # columns that are not the pipeline's


def test_a_monotone_head_compiles_and_never_moves_against_its_directions():
    """The API head's shape: XGBoost constrained to the direction of each numeric field in the data."""
    frame, y = _data()
    numeric = ["age", "days_since_last_order", "total_spent"]
    directions = churn_directions(frame.assign(churned=y), numeric)
    assert directions["days_since_last_order"] == 1  # _data's churn rises with it
    assert set(directions.values()) <= {-1, 1}
    pipeline = make_xgb(
        infer_spec(frame, COLUMNS),
        params={"n_estimators": 40, "max_depth": 3},
        seed=1,
        n_jobs=1,
        directions=directions,
    ).fit(frame, y)
    head = compile_head(pipeline, COLUMNS)
    assert head is not None
    rows = probe_rows(COLUMNS, {"country": ["US", "DE", "Rare"]}, n=100, seed=4)
    shifts = {}
    for column in numeric:
        low = head.predict_proba({c: rows[c].tolist() for c in COLUMNS} | {column: [0.0] * 100})
        high = head.predict_proba({c: rows[c].tolist() for c in COLUMNS} | {column: [1e4] * 100})
        shifts[column] = directions[column] * (high - low)
        assert (shifts[column] >= 0).all(), column
    assert shifts["days_since_last_order"].mean() > 0.3  # the field that drives _data's churn
