"""Churn pipelines (preprocessing inside), the served pyfunc's signature and input example.

Every step is a scikit-learn or XGBoost class or a numpy ufunc, so a pickled pipeline needs no
`ecomm` code to load.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from ecomm.features import columns as C
from ecomm.ml.serving import CHURN_PROBABILITY, MODEL_VARIANT

# The seed API's example user (docs/architecture.md#rest-api), as the model's input example.
API_EXAMPLE = {
    C.AGE: 35,
    C.COUNTRY: "United States",
    C.TOTAL_ORDERS: 10,
    C.TOTAL_SPENT: 500.0,
    C.DAYS_SINCE_LAST_ORDER: 15,
    C.AVG_ORDER_VALUE: 50.0,
    C.CUSTOMER_DURATION_DAYS: 365,
    C.ORDER_FREQUENCY: 0.0274,
    C.DAILY_SPEND: 1.37,
}


def split_columns(features: list[str]) -> tuple[list[str], list[str]]:
    """(categorical, numeric) columns of a feature list."""
    categorical = [c for c in features if c in C.CATEGORICAL_FEATURES]
    numeric = [c for c in features if c not in C.CATEGORICAL_FEATURES]
    return categorical, numeric


def _one_hot() -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False, min_frequency=10)


def make_logreg(features: list[str], *, c: float, seed: int) -> Pipeline:
    """Median-impute (+ missing indicators), log1p heavy tails, scale; one-hot categoricals; LR."""
    categorical, numeric = split_columns(features)
    skewed = [f for f in numeric if f in C.SKEWED_FEATURES]
    plain = [f for f in numeric if f not in C.SKEWED_FEATURES]
    transformers = []
    if skewed:
        transformers.append(
            (
                "skewed",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                        ),
                        ("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
                        ("scale", StandardScaler()),
                    ]
                ),
                skewed,
            )
        )
    if plain:
        transformers.append(
            (
                "plain",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                        ),
                        ("scale", StandardScaler()),
                    ]
                ),
                plain,
            )
        )
    if categorical:
        transformers.append(("categorical", _one_hot(), categorical))
    return Pipeline(
        [
            ("prepare", ColumnTransformer(transformers, remainder="drop")),
            ("model", LogisticRegression(C=c, max_iter=2000, random_state=seed)),
        ]
    )


def churn_directions(frame: pd.DataFrame, numeric: list[str]) -> dict[str, int]:
    """Per numeric feature, the sign (+1, -1; 0 = none) of its rank correlation with the churn label
    in `frame`: the direction the data supports for a monotone model."""
    label = frame[C.LABEL]
    out = {}
    for name in numeric:
        rho = frame[name].corr(label, method="spearman")
        out[name] = 0 if not np.isfinite(rho) else int(np.sign(rho))
    return out


def make_xgb(
    features: list[str], *, params: dict, seed: int, n_jobs: int, directions: dict[str, int] | None = None
) -> Pipeline:
    """One-hot categoricals, numeric as is (XGBoost routes missing values itself); XGBoost.

    `directions`: numeric feature -> +1/-1 to make the churn probability non-decreasing/non-increasing
    in it (XGBoost monotone constraints); unnamed features and categoricals are unconstrained."""
    categorical, numeric = split_columns(features)
    transformers = [("numeric", "passthrough", numeric)]
    if categorical:
        transformers.append(("categorical", _one_hot(), categorical))
    constraints = {}
    if directions:
        # the numeric columns come first in the transformed matrix; XGBoost leaves the rest (the
        # one-hot columns, whose count the encoder decides at fit time) unconstrained
        constraints["monotone_constraints"] = tuple(int(directions.get(c, 0)) for c in numeric)
    model = XGBClassifier(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        n_jobs=n_jobs,
        random_state=seed,
        **constraints,
        **params,
    )
    return Pipeline([("prepare", ColumnTransformer(transformers, remainder="drop")), ("model", model)])


def feature_importance(pipeline: Pipeline) -> pd.Series:
    """Importance per input feature (one-hot columns summed back to their feature), largest first."""
    prepare = pipeline.named_steps["prepare"]
    names = prepare.get_feature_names_out()
    model = pipeline.named_steps["model"]
    if hasattr(model, "feature_importances_"):
        values = np.asarray(model.feature_importances_, dtype=float)
    else:
        values = np.abs(np.asarray(model.coef_, dtype=float).ravel())
    inputs = []
    for name in names:
        _, _, raw = name.partition("__")
        if raw.startswith("missingindicator_"):
            raw = raw.removeprefix("missingindicator_")
        for cat in C.CATEGORICAL_FEATURES:
            if raw.startswith(cat + "_"):
                raw = cat
        inputs.append(raw)
    return pd.Series(values, index=inputs).groupby(level=0).sum().sort_values(ascending=False)


def signature(full_columns: list[str]) -> ModelSignature:
    """API fields required; the full model's other features optional (their presence picks the head)."""

    def spec(name: str, required: bool) -> ColSpec:
        kind = (
            "string" if name in C.CATEGORICAL_FEATURES else "long" if name in C.INTEGER_FEATURES else "double"
        )
        return ColSpec(kind, name, required=required)

    inputs = [spec(c, True) for c in C.API_FIELDS]
    inputs += [spec(c, False) for c in full_columns if c not in C.API_FIELDS]
    outputs = [ColSpec("double", CHURN_PROBABILITY), ColSpec("string", MODEL_VARIANT)]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def input_example() -> pd.DataFrame:
    return pd.DataFrame([API_EXAMPLE])


def signature_columns(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of `frame` a loaded churn model's signature declares (no "extra inputs" warnings)."""
    names = model.metadata.get_input_schema().input_names()
    return frame[[c for c in names if c in frame.columns]]
