"""A fast scorer for one churn head, built from its fitted sklearn pipeline when it has the shape we
train (ColumnTransformer of passthrough numerics + OneHotEncoder categoricals, then XGBoost).

Why: the pipeline spends ~3 ms per call in pandas and ColumnTransformer bookkeeping, 20x the tree
evaluation itself, and the API scores one user per request. The compiled scorer builds the same
feature vector with numpy (each category's one-hot row is computed once by the fitted encoder
itself, so encoding is the encoder's by construction) and calls the XGBoost booster directly.
`compile_head` checks the result against the pipeline on probe rows and returns None when the
pipeline has another shape or the two disagree; the caller then uses the pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOLERANCE = 1e-6
UNKNOWN = "\x00unknown category\x00"


class CompiledHead:
    def __init__(self, numeric: list[str], categorical: list[str], onehot: dict, width: int, booster) -> None:
        self.numeric, self.categorical = numeric, categorical
        self.onehot = onehot  # column -> {category: one-hot row}; UNKNOWN for unseen values
        self.width = width
        self.booster = booster

    def features(self, rows: dict[str, list]) -> np.ndarray:
        """Columns (name -> values) in, the pipeline's transformed matrix out."""
        n = len(next(iter(rows.values())))
        x = np.empty((n, self.width), dtype=np.float64)
        x[:, : len(self.numeric)] = np.column_stack(
            [np.asarray(rows[c], dtype=np.float64) for c in self.numeric]
        )
        at = len(self.numeric)
        for column in self.categorical:
            table = self.onehot[column]
            block = np.stack([table.get(v, table[UNKNOWN]) for v in rows[column]])
            x[:, at : at + block.shape[1]] = block
            at += block.shape[1]
        return x

    def predict_proba(self, rows: dict[str, list]) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(self.features(rows)), dtype=np.float64)


def _shape(pipeline):
    """(numeric columns, categorical columns, encoder, xgboost model) or None."""
    steps = getattr(pipeline, "named_steps", {})
    prepare, model = steps.get("prepare"), steps.get("model")
    if prepare is None or model is None or not hasattr(model, "get_booster"):
        return None
    numeric, categorical, encoder = [], [], None
    for name, transformer, columns in prepare.transformers_:
        if name == "remainder":
            if transformer != "drop":
                return None
            continue
        if name == "numeric" and (
            transformer == "passthrough" or type(transformer).__name__ == "FunctionTransformer"
        ):
            if getattr(transformer, "func", None) is not None:
                return None
            numeric = list(columns)
        elif name == "categorical" and type(transformer).__name__ == "OneHotEncoder":
            categorical, encoder = list(columns), transformer
        else:
            return None
    return numeric, categorical, encoder, model


def probe_rows(columns: list[str], categories: dict[str, list], n: int = 64, seed: int = 0) -> pd.DataFrame:
    """Rows to compare a compiled head with its pipeline: every known category and an unknown one,
    numerics spread over several orders of magnitude (whole numbers where the API sends integers)."""
    rng = np.random.default_rng(seed)
    frame = {}
    for column in columns:
        if column in categories:
            values = [*categories[column], "a category never seen"]
            frame[column] = [values[i % len(values)] for i in range(n)]
        else:
            frame[column] = np.round(rng.lognormal(2.0, 2.0, n), 3)
    return pd.DataFrame(frame)


def compile_head(pipeline, columns: list[str], probe: pd.DataFrame | None = None) -> CompiledHead | None:
    shape = _shape(pipeline)
    if shape is None:
        return None
    numeric, categorical, encoder, model = shape
    if set(numeric) | set(categorical) != set(columns):
        return None
    onehot: dict[str, dict] = {}
    for i, column in enumerate(categorical):
        seen = list(encoder.categories_[i]) + [UNKNOWN]
        frame = pd.DataFrame({c: [seen[0]] * len(seen) for c in categorical})
        frame[column] = seen
        encoded = encoder.transform(frame)
        # the columns of this feature within the encoder's output
        names = encoder.get_feature_names_out()
        own = [j for j, n in enumerate(names) if n.startswith(f"{column}_")]
        onehot[column] = {value: encoded[k, own].astype(np.float64) for k, value in enumerate(seen)}
    width = len(numeric) + sum(len(next(iter(t.values()))) for t in onehot.values())
    booster = model.get_booster()
    booster.set_param({"nthread": 1})  # one request, one thread: the server runs requests in parallel
    head = CompiledHead(numeric, categorical, onehot, width, booster)
    if probe is None:
        probe = probe_rows(columns, {c: list(encoder.categories_[i]) for i, c in enumerate(categorical)})
    expected = pipeline.predict_proba(probe[columns])[:, 1]
    got = head.predict_proba({c: probe[c].tolist() for c in columns})
    if got.shape != expected.shape or not np.allclose(got, expected, atol=TOLERANCE, rtol=0):
        return None
    return head
