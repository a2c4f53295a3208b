"""Input checks and covariate encoding shared by every estimator.

Every public estimator validates its inputs here first, so a bad call fails with a ValueError that
names the column and the problem instead of a numpy/statsmodels traceback deep inside a library.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def require_frame(df: object, name: str = "df") -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    if df.empty:
        raise ValueError(f"{name} has no rows")
    return df


def column_list(columns: Sequence[str] | str | None, role: str, *, allow_empty: bool = False) -> list[str]:
    """Normalise a list of column names; a bare string is one column, not a sequence of letters."""
    if columns is None:
        columns = []
    if isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    if not columns and not allow_empty:
        raise ValueError(f"{role} must name at least one column")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise ValueError(f"{role} lists column(s) more than once: {duplicated}")
    return columns


def require_columns(df: pd.DataFrame, columns: Sequence[str], role: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"missing column(s) {missing} ({role}); available: {list(df.columns)}")


def require_distinct_roles(**roles: Sequence[str] | str) -> None:
    """Treatment, outcome and covariates must be different columns (a covariate that *is* the
    outcome would make any adjustment meaningless)."""
    seen: dict[str, str] = {}
    for role, cols in roles.items():
        for col in [cols] if isinstance(cols, str) else cols:
            if col in seen and seen[col] != role:
                raise ValueError(f"column {col!r} is used both as {seen[col]} and as {role}")
            seen[col] = role


def require_no_missing(df: pd.DataFrame, columns: Sequence[str]) -> None:
    counts = df[list(columns)].isna().sum()
    bad = counts[counts > 0]
    if not bad.empty:
        raise ValueError(f"missing values (NaN) in column(s) {bad.to_dict()}; drop or impute them first")


def require_numeric(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    series = df[column]
    if is_bool_dtype(series):
        return series.to_numpy(dtype=float)
    if not is_numeric_dtype(series):
        raise ValueError(f"{role} column {column!r} must be numeric, got dtype {series.dtype}")
    values = series.to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"{role} column {column!r} contains infinite values")
    return values


def binary_values(df: pd.DataFrame, column: str, role: str) -> np.ndarray:
    """A 0/1 int array from a bool or 0/1 numeric column; anything else is a ValueError."""
    series = df[column]
    if is_bool_dtype(series):
        return series.to_numpy(dtype=int)
    uniques = pd.unique(series)
    if not is_numeric_dtype(series) or not set(uniques.tolist()) <= {0, 1}:
        shown = sorted(map(str, uniques[:6]))
        raise ValueError(
            f"{role} column {column!r} must be binary (0/1 or bool); found values {shown}"
            + (" ..." if len(uniques) > 6 else "")
        )
    return series.to_numpy().astype(int)


def binary_treatment(df: pd.DataFrame, treatment: str) -> np.ndarray:
    """The treatment as a 0/1 int array, with at least one treated and one control row."""
    values = binary_values(df, treatment, "treatment")
    require_both_arms(values, treatment)
    return values


def require_both_arms(t: np.ndarray, treatment: str, where: str = "") -> None:
    n_treated = int(t.sum())
    if n_treated == 0:
        raise ValueError(f"no treated rows{where}: every row has {treatment!r} = 0")
    if n_treated == len(t):
        raise ValueError(f"no control rows{where}: every row has {treatment!r} = 1 (all treated)")


def check_trim(trim: tuple[float, float] | None) -> tuple[float, float] | None:
    if trim is None:
        return None
    if len(trim) != 2:
        raise ValueError(f"trim must be a (low, high) pair of propensities, got {trim!r}")
    low, high = float(trim[0]), float(trim[1])
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"trim must satisfy 0 <= low < high <= 1, got {trim!r}")
    return low, high


def check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return float(alpha)


def is_categorical(series: pd.Series) -> bool:
    return not (is_numeric_dtype(series) or is_bool_dtype(series))


def covariate_transformer(
    df: pd.DataFrame, covariates: Sequence[str], *, scale: bool = True, drop_first: bool = False
) -> ColumnTransformer:
    """Unfitted transformer: numeric/bool covariates scaled (or passed through), the rest one-hot
    encoded (drop_first=True when the consumer also fits an intercept, e.g. LinearDML's final
    stage). Unknown levels at predict time are ignored rather than crashing a segment query."""
    categorical = [c for c in covariates if is_categorical(df[c])]
    numeric = [c for c in covariates if c not in categorical]
    parts = []
    if numeric:
        parts.append(("numeric", StandardScaler() if scale else "passthrough", numeric))
    if categorical:
        encoder = OneHotEncoder(
            drop="first" if drop_first else None, handle_unknown="ignore", sparse_output=False
        )
        parts.append(("categorical", encoder, categorical))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False)


def dummy_design(df: pd.DataFrame, covariates: Sequence[str], *, drop_first: bool) -> pd.DataFrame:
    """Numeric design matrix with categorical covariates expanded to indicator columns.

    drop_first=True for regressions with an intercept (avoids the dummy trap); False for balance
    tables, where every level deserves its own SMD row."""
    frame = df[list(covariates)].copy()
    for col in covariates:
        if is_bool_dtype(frame[col]):
            frame[col] = frame[col].astype(float)
    categorical = [c for c in covariates if is_categorical(frame[c])]
    design = pd.get_dummies(frame, columns=categorical, drop_first=drop_first, prefix_sep="=", dtype=float)
    return design.astype(float)
