"""Covariate balance: standardized mean differences before and after matching or weighting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ecomm.causal._checks import (
    binary_treatment,
    column_list,
    dummy_design,
    require_columns,
    require_distinct_roles,
    require_frame,
    require_no_missing,
)

WeightsLike = pd.Series | np.ndarray


def _aligned_weights(name: str, weights: WeightsLike, df: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    if isinstance(weights, pd.Series):
        if not weights.index.equals(df.index):
            missing = df.index.difference(weights.index)
            if len(missing):
                raise ValueError(f"weights {name!r} have no value for {len(missing)} row(s) of df")
            weights = weights.reindex(df.index)
        values = weights.to_numpy(dtype=float)
    else:
        values = np.asarray(weights, dtype=float)
        if values.shape != (len(df),):
            raise ValueError(
                f"weights {name!r} must have one value per row ({len(df)}), got shape {values.shape}"
            )
    if np.isnan(values).any() or (values < 0).any():
        raise ValueError(f"weights {name!r} must be non-negative numbers without NaN")
    for arm, label in ((1, "treated"), (0, "control")):
        if values[t == arm].sum() <= 0:
            raise ValueError(f"weights {name!r} give the {label} rows zero total weight")
    return values


def _weighted_mean(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (x * w[:, None]).sum(axis=0) / w.sum()


def balance_table(
    df,
    treatment: str,
    covariates: Sequence[str],
    weights: Mapping[str, WeightsLike] | WeightsLike | None = None,
) -> pd.DataFrame:
    """Standardized mean difference (treated minus control) of each covariate, before adjustment and
    after each set of weights.

    weights: per-row weights, e.g. {"matched": psm.details["weights"], "ipw": ipw.details["weights"]}
    (a single Series is labelled by its name, or "after"). Rows with weight 0 drop out.
    The SMD denominator is sqrt((var_treated + var_control) / 2) from the *unadjusted* sample for
    every column, so before/after values are on the same scale. Categorical covariates get one row
    per level ("col=level"). Returns columns covariate, mean_treated, mean_control, smd_before and
    smd_<name> per weight set."""
    require_frame(df)
    covariates = column_list(covariates, "covariates")
    require_columns(df, [treatment, *covariates], "treatment/covariates")
    require_distinct_roles(treatment=treatment, covariates=covariates)
    require_no_missing(df, [treatment, *covariates])
    t = binary_treatment(df, treatment)
    if weights is None:
        weights = {}
    elif not isinstance(weights, Mapping):
        weights = {getattr(weights, "name", None) or "after": weights}

    design = dummy_design(df, covariates, drop_first=False)
    x = design.to_numpy()
    x1, x0 = x[t == 1], x[t == 0]
    mean1, mean0 = x1.mean(axis=0), x0.mean(axis=0)
    scale = np.sqrt((x1.var(axis=0, ddof=1) + x0.var(axis=0, ddof=1)) / 2)

    def smd(diff: np.ndarray) -> np.ndarray:
        # A column constant in both arms: balanced if the means agree, infinitely unbalanced if not.
        safe = np.where(scale > 0, scale, 1.0)
        return np.where(scale > 0, diff / safe, np.where(np.isclose(diff, 0.0), 0.0, np.inf))

    table = pd.DataFrame(
        {
            "covariate": design.columns,
            "mean_treated": mean1,
            "mean_control": mean0,
            "smd_before": smd(mean1 - mean0),
        }
    )
    for name, w in weights.items():
        values = _aligned_weights(name, w, df, t)
        diff = _weighted_mean(x1, values[t == 1]) - _weighted_mean(x0, values[t == 0])
        table[f"smd_{name}"] = smd(diff)
    return table


def love_plot(balance: pd.DataFrame, *, threshold: float = 0.1, title: str = "Covariate balance") -> Figure:
    """|SMD| per covariate for every smd_* column of a balance_table, with the usual 0.1 line."""
    smd_columns = [c for c in balance.columns if c.startswith("smd_")]
    if "covariate" not in balance.columns or not smd_columns:
        raise ValueError("love_plot needs a balance_table result (columns 'covariate' and smd_*)")
    order = balance["smd_before"].abs().sort_values().index if "smd_before" in balance else balance.index
    rows = balance.loc[order]
    fig = Figure(figsize=(6.5, 1.2 + 0.35 * len(rows)), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(len(rows))
    markers = ["o", "s", "D", "^", "v"]
    for i, column in enumerate(smd_columns):
        ax.scatter(
            rows[column].abs(), positions, marker=markers[i % len(markers)], label=column.removeprefix("smd_")
        )
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(positions, rows["covariate"])
    ax.set_xlabel("|standardized mean difference|")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig
