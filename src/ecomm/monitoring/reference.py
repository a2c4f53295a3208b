"""A model version's training reference and the day's drift against it (pure: frames in, rows out).

The reference (stored as JSON with the version, see monitoring.models) holds, per input feature,
what PSI and the tests need and no customer's row:
* numeric: the inner edges of up to 10 quantile bins (ties merged, drift.bin_edges), the share of
  the reference rows in each, and 1,000 evenly spaced quantiles (an order-statistics sketch the KS
  test compares the day's values with);
* categorical (and boolean): the share of each value (at most 30; the rest pooled as `__other__`,
  nulls as `__missing__`);
and the same numeric summary of the model's predictions on those rows (`__prediction__`). The train
modules pass the version's evaluation-cutoff population (README "Model drift" says why).
Numeric nulls are left out of the numeric summaries (the models impute them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ecomm.monitoring.drift import (
    bin_edges,
    bin_shares,
    category_counts,
    chi2_pvalue,
    flag_features,
    ks_pvalue,
    psi_of_shares,
)

PREDICTION = "__prediction__"
OTHER = "__other__"
MISSING = "__missing__"
BINS = 10
SKETCH_POINTS = 1000
MAX_CATEGORIES = 30
NUMERIC, CATEGORICAL = "numeric", "categorical"
REFERENCE_FORMAT = 1


def numeric_summary(values) -> dict:
    x = finite(values)
    if x.size == 0:
        return {"kind": NUMERIC, "rows": 0, "edges": [], "shares": [1.0], "sketch": []}
    edges = bin_edges(x, BINS)
    sketch = np.quantile(x, (np.arange(SKETCH_POINTS) + 0.5) / SKETCH_POINTS, method="inverted_cdf")
    return {
        "kind": NUMERIC,
        "rows": int(x.size),
        "edges": edges.tolist(),
        "shares": bin_shares(x, edges).tolist(),
        "sketch": sketch.tolist(),
    }


def categorical_summary(values) -> dict:
    labels = category_labels(values)
    counts = labels.value_counts()
    kept = counts.index[:MAX_CATEGORIES].tolist()
    shares = {c: float(counts[c] / len(labels)) for c in kept}
    shares[OTHER] = shares.get(OTHER, 0.0) + float(counts.iloc[MAX_CATEGORIES:].sum() / max(len(labels), 1))
    return {"kind": CATEGORICAL, "rows": int(len(labels)), "shares": shares}


def reference_categories(spec) -> list[str]:
    """The columns of a FeatureSpec (ecomm.ml.builders) summarised as categories: categorical and boolean."""
    return [*spec.categorical, *spec.boolean]


def training_reference(features: pd.DataFrame, categorical: list[str], predictions) -> dict:
    """The reference of a model over `features` (its input columns; `categorical` names the
    category and boolean ones) whose predictions on those rows are `predictions`."""
    summaries = {
        column: categorical_summary(features[column])
        if column in categorical
        else numeric_summary(features[column])
        for column in features.columns
    }
    return {
        "format": REFERENCE_FORMAT,
        "rows": int(len(features)),
        "features": summaries,
        "prediction": numeric_summary(predictions),
    }


@dataclass(frozen=True)
class FeatureDrift:
    """One row of marts.model_monitoring, without the model, version and date."""

    feature: str
    kind: str  # numeric, categorical or prediction
    psi: float
    ks_statistic: float | None
    chi2_p_value: float | None
    drifted: bool
    reference_rows: int
    current_rows: int

    def to_dict(self) -> dict:
        return asdict(self)


def numeric_drift(
    feature: str, reference: dict, values, threshold: float, kind: str = NUMERIC
) -> FeatureDrift:
    x = finite(values)
    if x.size == 0 or reference["rows"] == 0:
        return FeatureDrift(feature, kind, 0.0, None, None, False, reference["rows"], int(x.size))
    value = psi_of_shares(reference["shares"], bin_shares(x, np.asarray(reference["edges"], dtype=float)))
    statistic = float(stats.ks_2samp(np.asarray(reference["sketch"]), x).statistic)
    return FeatureDrift(
        feature, kind, value, statistic, None, value > threshold, reference["rows"], int(x.size)
    )


def categorical_drift(feature: str, reference: dict, values, threshold: float) -> FeatureDrift:
    labels = category_labels(values)
    categories = list(reference["shares"])
    if len(labels) == 0:
        return FeatureDrift(feature, CATEGORICAL, 0.0, None, None, False, reference["rows"], 0)
    counts = category_counts(labels.tolist(), categories, OTHER)
    ref_shares = [reference["shares"][c] for c in categories]
    value = psi_of_shares(ref_shares, counts / counts.sum())
    pvalue = chi2_pvalue(counts, ref_shares)
    return FeatureDrift(
        feature, CATEGORICAL, value, None, pvalue, value > threshold, reference["rows"], int(len(labels))
    )


def drift_against(
    reference: dict, features: pd.DataFrame, predictions, threshold: float, alpha: float | None = None
) -> list[FeatureDrift]:
    """Every referenced feature of `features` and the predictions, compared with the reference
    (a feature the day's frame lacks is skipped: nothing to compare). Drifted: PSI > `threshold`,
    and with `alpha` also a p-value below alpha / the features tested (drift.flag_features)."""
    rows = _compared(reference, features, predictions, threshold)
    if alpha is None:
        return rows
    pvalues = [row_pvalue(r) for r in rows]
    flags = flag_features(pvalues, [r.psi for r in rows], alpha, threshold)
    return [replace(r, drifted=f) for r, f in zip(rows, flags, strict=True)]


def row_pvalue(row: FeatureDrift) -> float | None:
    """The row's chi-squared p-value, or its KS p-value at the reference's row count (numeric)."""
    if row.ks_statistic is None:
        return row.chi2_p_value
    return ks_pvalue(row.ks_statistic, row.reference_rows, row.current_rows)


def _compared(reference: dict, features: pd.DataFrame, predictions, threshold: float) -> list[FeatureDrift]:
    rows = []
    for column, summary in reference["features"].items():
        if column not in features.columns:
            continue
        if summary["kind"] == CATEGORICAL:
            rows.append(categorical_drift(column, summary, features[column], threshold))
        else:
            rows.append(numeric_drift(column, summary, features[column], threshold))
    rows.append(numeric_drift(PREDICTION, reference["prediction"], predictions, threshold, kind="prediction"))
    return rows


def category_labels(values) -> pd.Series:
    """Values as text labels, nulls as MISSING (booleans as True/False)."""
    series = pd.Series(values)
    return series.astype(object).where(series.notna(), MISSING).astype(str).reset_index(drop=True)


def finite(values) -> np.ndarray:
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    return x[np.isfinite(x)]
