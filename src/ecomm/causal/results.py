"""One result type for every causal estimate, and a tidy table of many of them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (1 - alpha) confidence interval.

    method: which estimator produced it ("naive_difference", "psm", "did_twfe", "dml_forest", ...).
    estimand: "ATE", "ATT", or "CATE:<segment value>".
    std_error: None when the method gives only an interval (e.g. DoWhy's bootstrap).
    n_treated / n_control: rows (units for DiD) that the estimate actually used, after trimming,
    caliper dropping or segment selection.
    details: method-specific extras (dropped counts, weights, fitted objects...).
    """

    method: str
    estimand: str
    estimate: float
    ci_low: float
    ci_high: float
    std_error: float | None
    n_treated: int
    n_control: int
    alpha: float = 0.05
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Coerce numpy scalars so results print, compare and serialise as plain floats.
        for name in ("estimate", "ci_low", "ci_high"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.std_error is not None:
            object.__setattr__(self, "std_error", float(self.std_error))
        object.__setattr__(self, "n_treated", int(self.n_treated))
        object.__setattr__(self, "n_control", int(self.n_control))

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside the confidence interval (bounds included)."""
        return self.ci_low <= value <= self.ci_high


def normal_interval(estimate: float, std_error: float, alpha: float) -> tuple[float, float]:
    z = stats.norm.ppf(1 - alpha / 2)
    return estimate - z * std_error, estimate + z * std_error


def t_interval(estimate: float, std_error: float, dof: float, alpha: float) -> tuple[float, float]:
    q = stats.t.ppf(1 - alpha / 2, dof)
    return estimate - q * std_error, estimate + q * std_error


_CORE_COLUMNS = [
    "method",
    "estimand",
    "estimate",
    "ci_low",
    "ci_high",
    "std_error",
    "n_treated",
    "n_control",
    "alpha",
]


def _scalar_details(details: Mapping[str, Any]) -> dict[str, Any]:
    scalar = (bool, int, float, str, np.bool_, np.integer, np.floating)
    return {f"detail_{k}": v for k, v in details.items() if isinstance(v, scalar)}


def estimates_frame(
    estimates: Iterable[Estimate],
    true_effects: Mapping[str, float] | None = None,
    *,
    include_details: bool = False,
) -> pd.DataFrame:
    """A tidy table, one row per estimate.

    true_effects maps an estimand ("ATE", "ATT", "CATE:B") to the known truth; when given, the
    table gains `true_effect`, `error` (estimate - truth), `relative_error` and `covers_truth`
    columns - the "estimate beside the truth" view used against the simulated shop.
    include_details adds the scalar entries of `details` as `detail_<name>` columns.
    """
    rows = []
    for est in estimates:
        if not isinstance(est, Estimate):
            raise ValueError(f"estimates_frame expects Estimate objects, got {type(est).__name__}")
        row = {
            "method": est.method,
            "estimand": est.estimand,
            "estimate": est.estimate,
            "ci_low": est.ci_low,
            "ci_high": est.ci_high,
            "std_error": np.nan if est.std_error is None else est.std_error,
            "n_treated": est.n_treated,
            "n_control": est.n_control,
            "alpha": est.alpha,
        }
        if include_details:
            row.update(_scalar_details(est.details))
        rows.append(row)
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=_CORE_COLUMNS)
    if true_effects is not None:
        truth = frame["estimand"].map(lambda e: true_effects.get(e, math.nan)).astype(float)
        frame["true_effect"] = truth
        frame["error"] = frame["estimate"] - truth
        frame["relative_error"] = frame["error"] / truth.abs()
        covers = (frame["ci_low"] <= truth) & (truth <= frame["ci_high"])
        frame["covers_truth"] = covers.where(truth.notna()).astype("boolean")
    return frame
