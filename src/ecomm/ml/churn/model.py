"""The churn model's feature spec, importances, the served pyfunc's signature and input example.

The pipelines are the general builders of ecomm.ml.builders (make_logreg, make_xgb), driven by
the spec: the shop's column lists are the spec's explicit roles, never a rule
inside a builder.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema
from sklearn.pipeline import Pipeline

from ecomm.features import columns as C
from ecomm.ml.builders import FeatureSpec, directions, infer_spec, input_of
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


def is_shop_feature(column: str) -> bool:
    return (
        column in C.NUMERIC_FEATURES
        or column in C.CATEGORICAL_FEATURES
        or column.startswith(C.CATEGORY_SHARE_PREFIX)
    )


def shop_spec(frame: pd.DataFrame, features: list[str]) -> FeatureSpec:
    """The churn features' roles: the shop's own columns by the shop's categorical and heavy-tailed
    lists (its knowledge of them, chosen when the features were designed), any other column by its
    dtype and values. The signature's integers are the API body's whole numbers when the frame is
    the shop's (a count can be a float column at one cutoff and whole at another), unless the frame
    misses some (an imported log's unknown age: a double, NaN = unknown)."""
    foreign = infer_spec(frame, [f for f in features if not is_shop_feature(f)])
    ours = [f for f in features if is_shop_feature(f)]
    spec = infer_spec(
        frame,
        features,
        skewed=[f for f in ours if f in C.SKEWED_FEATURES] + list(foreign.skewed),
        categorical=[f for f in ours if f in C.CATEGORICAL_FEATURES] + list(foreign.categorical),
    )
    if not ours:
        return spec
    whole = [c for c in spec.numbers if c in C.INTEGER_FEATURES and not frame[c].isna().any()]
    return replace(spec, integer=tuple(c for c in spec.numbers if c in whole or c in foreign.integer))


def churn_directions(frame: pd.DataFrame, numeric: list[str]) -> dict[str, int]:
    """Per numeric feature, the sign (+1, -1; 0 = none) of its rank correlation with the churn label."""
    return directions(frame, numeric, C.LABEL)


def feature_importance(pipeline: Pipeline, spec: FeatureSpec) -> pd.Series:
    """Importance per input feature (one-hot columns and missing indicators summed back to their
    feature), largest first: the trees' importances or the absolute coefficients of a linear model."""
    names = pipeline.named_steps["prepare"].get_feature_names_out()
    model = pipeline.named_steps["model"]
    if hasattr(model, "feature_importances_"):
        values = np.asarray(model.feature_importances_, dtype=float)
    else:
        values = np.abs(np.asarray(model.coef_, dtype=float).ravel())
    inputs = [input_of(name, spec.columns) for name in names]
    return pd.Series(values, index=inputs).groupby(level=0).sum().sort_values(ascending=False)


def signature(full: FeatureSpec, api: FeatureSpec) -> ModelSignature:
    """The API head's fields required; the full head's other features optional (their presence picks
    the head). Types from the specs: categorical and boolean strings, integers long, the rest double."""

    def spec(name: str, required: bool) -> ColSpec:
        roles = api if name in api.columns else full
        kind = (
            "string"
            if name in roles.categorical or name in roles.boolean
            else "long"
            if name in roles.integer
            else "double"
        )
        return ColSpec(kind, name, required=required)

    inputs = [spec(c, True) for c in api.columns]
    inputs += [spec(c, False) for c in full.columns if c not in api.columns]
    outputs = [ColSpec("double", CHURN_PROBABILITY), ColSpec("string", MODEL_VARIANT)]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def input_example(api: FeatureSpec, train: pd.DataFrame) -> pd.DataFrame:
    """The seed API's example user for the shop's API head, else the first training row's fields."""
    if api.columns == list(C.API_FIELDS):
        example = pd.DataFrame([API_EXAMPLE])
        doubles = [c for c in api.numbers if c not in api.integer]  # an unknown age is a double
        return example.astype(dict.fromkeys(doubles, "float64"))
    return train[api.columns].head(1).reset_index(drop=True)


def signature_columns(model, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of `frame` a loaded churn model's signature declares (no "extra inputs" warnings)."""
    names = model.metadata.get_input_schema().input_names()
    return frame[[c for c in names if c in frame.columns]]
