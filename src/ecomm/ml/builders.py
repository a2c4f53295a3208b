"""General model builders: a feature spec (each column's role) and the sklearn pipelines it drives.

A column's role comes from its dtype and values, or from an explicit override, never from its name:
  * boolean: bool dtype, or strings that are one yes/no pair ("Yes"/"No", "true"/"false", "Y"/"N",
    any case) -> 0/1 by an OrdinalEncoder (its categories sorted: No < Yes, false < true);
  * categorical: any other object, string or category column -> one-hot (rare values pooled,
    unseen ones ignored; a missing value is its own category);
  * skewed: numeric, never negative, more than two values and skewness above `SKEW_THRESHOLD` ->
    log1p before scaling in linear models (trees take it as is);
  * numeric: any other numeric column.
A model that knows its columns better (the shop's churn model) passes its own role lists: a list
given for a role is that role's complete list, the other roles are inferred for the rest.

Every step is a scikit-learn or XGBoost class or a numpy ufunc, so a pickled pipeline needs no
`ecomm` code to load (the registered models are loaded without this repository). The spec travels
with a registered model as a plain dict (`FeatureSpec.to_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from xgboost import XGBClassifier

SKEW_THRESHOLD = 1.0
BOOLEAN_PAIRS = ({"yes", "no"}, {"true", "false"}, {"y", "n"}, {"t", "f"})
NUMERIC, SKEWED, CATEGORICAL, BOOLEAN = "numeric", "skewed", "categorical", "boolean"
ROLES = (NUMERIC, SKEWED, CATEGORICAL, BOOLEAN)


@dataclass(frozen=True)
class FeatureSpec:
    """A model's input columns (`order`, as in the training frame) and the role of each."""

    order: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    skewed: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    boolean: tuple[str, ...] = ()
    integer: tuple[str, ...] = ()  # numeric or skewed columns of an integer dtype (a signature's "long")

    @property
    def columns(self) -> list[str]:
        return list(self.order)

    @property
    def numbers(self) -> list[str]:
        """The numeric columns, plain and skewed, in frame order."""
        return [c for c in self.order if c in self.numeric or c in self.skewed]

    def role(self, column: str) -> str:
        for name in ROLES:
            if column in getattr(self, name):
                return name
        raise KeyError(f"{column!r} is not a column of this feature spec")

    def select(self, columns: Iterable[str]) -> FeatureSpec:
        """The spec of a subset of the columns (a model's head on fewer fields), in this spec's order."""
        keep = set(columns)
        return FeatureSpec(
            **{
                name: tuple(c for c in getattr(self, name) if c in keep)
                for name in ("order", *ROLES, "integer")
            }
        )

    def to_dict(self) -> dict[str, list[str]]:
        return {name: list(values) for name, values in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(**{name: tuple(data.get(name, ())) for name in ("order", *ROLES, "integer")})


# ---------------------------------------------------------------------------------------- roles
def is_boolean_strings(values: pd.Series) -> bool:
    """Strings that all belong to one yes/no pair (missing values aside)."""
    seen = {str(v).strip().lower() for v in values.dropna().unique()}
    return bool(seen) and any(seen <= pair for pair in BOOLEAN_PAIRS)


def is_skewed(values: pd.Series, threshold: float = SKEW_THRESHOLD) -> bool:
    """Non-negative, more than two distinct values and a long right tail."""
    x = pd.to_numeric(values, errors="coerce").dropna().astype("float64")
    if x.nunique() <= 2 or (x < 0).any():
        return False
    skew = x.skew()
    return bool(np.isfinite(skew) and skew > threshold)


def inferred_role(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return BOOLEAN
    if pd.api.types.is_numeric_dtype(values):
        return SKEWED if is_skewed(values) else NUMERIC
    return BOOLEAN if is_boolean_strings(values) else CATEGORICAL


def infer_spec(
    frame: pd.DataFrame,
    columns: Iterable[str] | None = None,
    *,
    numeric: Iterable[str] | None = None,
    skewed: Iterable[str] | None = None,
    categorical: Iterable[str] | None = None,
    boolean: Iterable[str] | None = None,
) -> FeatureSpec:
    """Each of `columns` (default: all of `frame`) in a role: the role whose explicit list names it,
    else the role its dtype and values give (see the module doc). A role given a list is exactly
    that list: a column inferred skewed or boolean whose role was given falls back to numeric or
    categorical."""
    columns = list(frame.columns if columns is None else columns)
    given = {
        role: set(names)
        for role, names in zip(ROLES, (numeric, skewed, categorical, boolean), strict=True)
        if names is not None
    }
    fallback = {SKEWED: NUMERIC, BOOLEAN: CATEGORICAL}
    roles: dict[str, str] = {}
    for column in columns:
        named = [role for role, names in given.items() if column in names]
        if len(named) > 1:
            raise ValueError(f"column {column!r} is given two roles: {named}")
        role = named[0] if named else inferred_role(frame[column])
        if not named and role in fallback and role in given:
            role = fallback[role]
        roles[column] = role
    integer = [
        c for c in columns if roles[c] in (NUMERIC, SKEWED) and pd.api.types.is_integer_dtype(frame[c])
    ]
    by_role = {role: tuple(c for c in columns if roles[c] == role) for role in ROLES}
    return FeatureSpec(order=tuple(columns), integer=tuple(integer), **by_role)


# ---------------------------------------------------------------------------------------- pipelines
def one_hot(min_frequency: int = 10) -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False, min_frequency=min_frequency)


def zero_one() -> OrdinalEncoder:
    """Boolean strings or bools -> 0/1 (sorted: No < Yes); an unseen or missing value -> NaN."""
    return OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )


def _imputed(*steps) -> Pipeline:
    impute = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return Pipeline([("impute", impute), *steps])


def linear_preprocessing(spec: FeatureSpec) -> ColumnTransformer:
    """Median-impute (+ missing indicators) numerics, log1p the skewed ones, scale; one-hot
    categoricals; booleans 0/1 with the most frequent value for a missing one."""
    plain = [c for c in spec.numbers if c in spec.numeric]
    skewed = [c for c in spec.numbers if c in spec.skewed]
    transformers = []
    if skewed:
        log = FunctionTransformer(np.log1p, feature_names_out="one-to-one")
        transformers.append(("skewed", _imputed(("log", log), ("scale", StandardScaler())), skewed))
    if plain:
        transformers.append(("plain", _imputed(("scale", StandardScaler())), plain))
    if spec.categorical:
        transformers.append(("categorical", one_hot(), list(spec.categorical)))
    if spec.boolean:
        fill = SimpleImputer(strategy="most_frequent", add_indicator=True, keep_empty_features=True)
        transformers.append(
            ("boolean", Pipeline([("encode", zero_one()), ("impute", fill)]), list(spec.boolean))
        )
    return ColumnTransformer(transformers, remainder="drop")


def tree_preprocessing(spec: FeatureSpec) -> ColumnTransformer:
    """Numerics as they are (trees route missing values themselves), then one-hot categoricals,
    then booleans 0/1. The numeric columns come first: monotone constraints are given in their order."""
    transformers = [("numeric", "passthrough", spec.numbers)]
    if spec.categorical:
        transformers.append(("categorical", one_hot(), list(spec.categorical)))
    if spec.boolean:
        transformers.append(("boolean", zero_one(), list(spec.boolean)))
    return ColumnTransformer(transformers, remainder="drop")


def make_logreg(spec: FeatureSpec, *, c: float = 1.0, seed: int = 0) -> Pipeline:
    """Logistic regression on the linear preprocessing of `spec`."""
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    return Pipeline([("prepare", linear_preprocessing(spec)), ("model", model)])


def make_xgb(
    spec: FeatureSpec,
    *,
    params: dict | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    directions: dict[str, int] | None = None,
) -> Pipeline:
    """XGBoost on the tree preprocessing of `spec`. `directions`: numeric column -> +1/-1 to make the
    probability non-decreasing/non-increasing in it (monotone constraints); the rest unconstrained."""
    constraints = {}
    if directions:
        # XGBoost leaves the columns after the numeric ones (their count is decided at fit) unconstrained
        constraints["monotone_constraints"] = tuple(int(directions.get(c, 0)) for c in spec.numbers)
    model = XGBClassifier(
        tree_method="hist",
        objective="binary:logistic",
        eval_metric="logloss",
        n_jobs=n_jobs,
        random_state=seed,
        **constraints,
        **(params or {}),
    )
    return Pipeline([("prepare", tree_preprocessing(spec)), ("model", model)])


def input_of(output: str, columns: Iterable[str], *, prefixed: bool = True) -> str:
    """The input column behind one output column of a fitted preprocessing ('skewed__x',
    'plain__missingindicator_x', 'categorical__country_Other' -> 'x', 'x', 'country'); `prefixed`
    False: a transformer's own output names, without the 'name__' prefix."""
    raw = output.partition("__")[2] if prefixed else output  # transformer names hold no "__"
    raw = raw.removeprefix("missingindicator_")
    matches = [c for c in columns if raw == c or raw.startswith(f"{c}_")]
    if not matches:
        raise KeyError(f"no input column behind {output!r}")
    return max(matches, key=len)


def directions(frame: pd.DataFrame, columns: Iterable[str], label: str) -> dict[str, int]:
    """Per numeric column, the sign (+1, -1; 0 = none) of its rank correlation with `label` in
    `frame`: the direction the data supports for a monotone model."""
    out = {}
    for name in columns:
        rho = frame[name].corr(frame[label], method="spearman")
        out[name] = 0 if not np.isfinite(rho) else int(np.sign(rho))
    return out
