"""The general model builders on a frame that is not the shop's: foreign column names, string
categories, "Yes"/"No" flags, a heavy-tailed amount and missing values (a public churn snapshot's
shape). Roles come from dtypes and values, or from an explicit list; never from a column's name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ecomm.ml import builders as B
from ecomm.ml.churn.dataset import ChurnData
from ecomm.ml.churn.train import ChurnConfig, best_family, fit_models

FOREIGN_SPEC = B.FeatureSpec(
    order=(
        "tenure_months",
        "Contract",
        "PaperlessBilling",
        "TotalCharges",
        "MonthlyCharges",
        "SeniorCitizen",
    ),
    numeric=("tenure_months", "MonthlyCharges"),
    skewed=("TotalCharges",),
    categorical=("Contract",),
    boolean=("PaperlessBilling", "SeniorCitizen"),
    integer=("tenure_months",),
)


def snapshot(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Telco-like rows; churn driven mostly by the contract and tenure."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    tenure = rng.integers(0, 73, n)
    monthly = rng.normal(65.0, 30.0, n).clip(18.0, 120.0)
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "Contract": contract,
            "PaperlessBilling": rng.choice(["Yes", "No"], n, p=[0.6, 0.4]),
            "TotalCharges": rng.lognormal(6.5, 1.3, n),
            "MonthlyCharges": monthly,
            "SeniorCitizen": rng.random(n) < 0.16,
        }
    )
    frame.loc[[3, 11], "TotalCharges"] = np.nan
    frame.loc[[5], "PaperlessBilling"] = None
    logit = 2.2 * (contract == "Month-to-month") - 1.5 * (contract == "Two year") - tenure / 15 + 0.3
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_roles_come_from_dtypes_and_values():
    frame, _ = snapshot(300, 1)
    assert B.infer_spec(frame) == FOREIGN_SPEC
    assert FOREIGN_SPEC.numbers == ["tenure_months", "TotalCharges", "MonthlyCharges"]
    assert B.FeatureSpec.from_dict(FOREIGN_SPEC.to_dict()) == FOREIGN_SPEC
    assert FOREIGN_SPEC.select(["TotalCharges", "Contract"]) == B.FeatureSpec(
        order=("Contract", "TotalCharges"), skewed=("TotalCharges",), categorical=("Contract",)
    )


def test_explicit_roles_win_and_a_given_role_is_complete():
    frame, _ = snapshot(300, 1)
    spec = B.infer_spec(frame, skewed=["MonthlyCharges"], categorical=["tenure_months", "Contract"])
    assert spec.skewed == ("MonthlyCharges",)
    assert spec.numeric == ("TotalCharges",)  # inferred skewed, but the skewed list was given
    assert spec.categorical == ("tenure_months", "Contract")
    assert spec.boolean == ("PaperlessBilling", "SeniorCitizen")
    with pytest.raises(ValueError, match="two roles"):
        B.infer_spec(frame, numeric=["Contract"], categorical=["Contract"])


@pytest.mark.parametrize("builder", ["logreg", "xgb"])
def test_each_builder_fits_foreign_columns_and_predicts_probabilities(builder):
    frame, y = snapshot(1500, 2)
    test, y_test = snapshot(1500, 3)
    spec = B.infer_spec(frame)
    make = (
        B.make_logreg(spec, c=1.0, seed=0)
        if builder == "logreg"
        else B.make_xgb(spec, params={"n_estimators": 60, "max_depth": 3}, seed=0, n_jobs=1)
    )
    pipeline = make.fit(frame, y)
    unseen = test.assign(Contract=test["Contract"].where(test.index % 50 != 0, "Three years"))
    p = pipeline.predict_proba(unseen)[:, 1]
    assert p.shape == (1500,) and np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()
    # behaviour: the contract and tenure carry the signal; held-out rows are ranked by them
    assert roc_auc_score(y_test, p) > 0.8
    inputs = {B.input_of(name, spec.columns) for name in pipeline[:-1].get_feature_names_out()}
    assert inputs == set(spec.columns)


def test_the_churn_trainer_fits_a_foreign_frame():
    """fit_models on a snapshot without the shop's columns: every column used by its dtype's role,
    and the API head on all of them (the frame has none of the API body's fields)."""
    frames = []
    for i, cutoff in enumerate(pd.to_datetime(["2025-01-01", "2025-02-01", "2025-05-01"]).date):
        frame, y = snapshot(600, 10 + i)
        frames.append(frame.assign(customer_id=np.arange(600), cutoff_date=cutoff, churned=y))
    data = ChurnData(plan=None, train=pd.concat(frames, ignore_index=True), evaluation=frames[-1])
    data.features = list(FOREIGN_SPEC.order)
    config = ChurnConfig(n_trials=1, n_trials_api=1, n_trials_logreg=1, n_jobs=1, horizon_days=60)
    fitted = fit_models(data, config)
    assert fitted.spec == FOREIGN_SPEC and fitted.api_spec == FOREIGN_SPEC
    assert set(fitted.candidates) == {"logreg", "xgboost"}
    assert fitted.family == best_family(fitted.validation)
    assert set(fitted.api_directions) == {"tenure_months", "TotalCharges", "MonthlyCharges"}
    p = fitted.full.predict_proba(frames[-1][fitted.features])[:, 1]
    assert roc_auc_score(frames[-1]["churned"], p) > 0.8


def test_the_best_validation_family_is_served_and_ties_go_to_the_simpler():
    assert best_family({"logreg": 0.70, "xgboost": 0.71}) == "xgboost"
    assert best_family({"logreg": 0.72, "xgboost": 0.71}) == "logreg"
    assert best_family({"logreg": 0.71, "xgboost": 0.71}) == "logreg"


def test_the_api_reads_the_fields_and_types_its_champion_stores():
    """The API head's fields come from the spec stored with the model: the shop's nine for a model
    registered before specs were stored; a head on foreign columns is named, not scored as zeros."""
    from types import SimpleNamespace

    from ecomm.api.model_store import api_head_spec, body_fields_missing
    from ecomm.features import columns as C

    old = SimpleNamespace(api_columns=list(C.API_FIELDS))  # no `specs` attribute
    spec = api_head_spec(old)
    assert spec.columns == list(C.API_FIELDS)
    assert spec.categorical == (C.COUNTRY,)
    assert spec.integer == (C.AGE, C.TOTAL_ORDERS, C.DAYS_SINCE_LAST_ORDER, C.CUSTOMER_DURATION_DAYS)
    assert body_fields_missing(spec) == []
    foreign = SimpleNamespace(api_columns=FOREIGN_SPEC.columns, specs={"api_fields": FOREIGN_SPEC.to_dict()})
    assert api_head_spec(foreign) == FOREIGN_SPEC
    assert body_fields_missing(FOREIGN_SPEC) == list(FOREIGN_SPEC.order)
