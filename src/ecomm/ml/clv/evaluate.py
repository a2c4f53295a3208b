"""How good a lifetime-value ranking and total are, against what the customers then bought.

`baseline_value`: the historical average, the customer's spend so far per day the warehouse saw them
signed up, times the horizon. `measures(score, realised)`: Spearman correlation, top-decile capture
(the share of all realised value bought by the 10% of customers the score ranks highest) and the
total's ratio to the realised total. `report` puts the model, the baseline and (given the planted
truth's expected value) the truth side by side, with the targets' ratios. This module reads no table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

TOP_SHARE = 0.10


def baseline_value(spent: pd.Series, observed_days: pd.Series, horizon_days: int) -> pd.Series:
    return spent / observed_days.clip(lower=1.0) * horizon_days


def spearman(a: pd.Series, b: pd.Series) -> float:
    return float(spearmanr(np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")).statistic)


def top_decile_capture(score: pd.Series, realised: pd.Series, share: float = TOP_SHARE) -> float:
    """Share of the realised total bought by the top `share` of customers by score (ties: row order)."""
    n = max(1, int(round(len(score) * share)))
    top = np.argsort(-np.asarray(score, dtype="float64"), kind="stable")[:n]
    values = np.asarray(realised, dtype="float64")
    total = values.sum()
    return float(values[top].sum() / total) if total > 0 else float("nan")


def measures(score: pd.Series, realised: pd.Series) -> dict[str, float]:
    return {
        "spearman_realised": spearman(score, realised),
        "top_decile_capture": top_decile_capture(score, realised),
        "total_ratio": float(np.sum(score) / np.sum(realised)) if np.sum(realised) > 0 else float("nan"),
    }


def report(predicted: pd.Series, baseline: pd.Series, realised: pd.Series, truth: pd.Series | None) -> dict:
    """Metrics of the model (unprefixed), the baseline (`baseline_`) and the truth (`truth_`), and the
    targets' ratios; all series aligned row by row (one row per customer)."""
    out = measures(predicted, realised) | {
        f"baseline_{k}": v for k, v in measures(baseline, realised).items()
    }
    base_capture = out["baseline_top_decile_capture"]
    out["capture_over_baseline"] = (
        out["top_decile_capture"] / base_capture if base_capture > 0 else float("nan")
    )
    if truth is not None:
        out["spearman_truth"] = spearman(predicted, truth)
        out["baseline_spearman_truth"] = spearman(baseline, truth)
        out |= {f"truth_{k}": v for k, v in measures(truth, realised).items()}
        out["spearman_truth_over_truth_realised"] = out["spearman_truth"] / out["truth_spearman_realised"]
    return out
