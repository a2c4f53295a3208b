"""Scaling for K-Means: each feature standardised, the skewed ones (ecomm.ml.builders: non-negative
with a long right tail, by their values, never their names) through log1p first, so a few heavy
spenders do not become clusters of their own. The spec and the preprocessing are the builders' own:
the same roles a linear churn model would use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from ecomm.ml.builders import FeatureSpec, infer_spec, input_of, linear_preprocessing


def scaling_spec(frame: pd.DataFrame, columns: list[str]) -> FeatureSpec:
    """Every column numeric or skewed (the features are floats; none is categorical)."""
    return infer_spec(frame, columns)


def make_scaler(spec: FeatureSpec) -> ColumnTransformer:
    return linear_preprocessing(spec)


def scaled_names(scaler: ColumnTransformer, spec: FeatureSpec) -> list[str]:
    """The input feature behind each output column of a fitted scaler (its output order)."""
    return [input_of(name, spec.columns) for name in scaler.get_feature_names_out()]


def scale(scaler: ColumnTransformer, frame: pd.DataFrame) -> np.ndarray:
    return np.asarray(scaler.transform(frame), dtype="float64")
