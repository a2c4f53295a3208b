"""The two baselines: a raw difference in means, and regression adjustment."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import stats

from ecomm.causal._checks import (
    binary_treatment,
    check_alpha,
    column_list,
    dummy_design,
    require_columns,
    require_distinct_roles,
    require_frame,
    require_no_missing,
    require_numeric,
)
from ecomm.causal.results import Estimate, t_interval

# 1 - h below this is rounding, not data: the row is fitted exactly (its residual is ~1e-15).
LEVERAGE_ONE_TOLERANCE = 1e-8


def _hc2_without_exact_fits(fit, leverage: np.ndarray, exact_rows: np.ndarray) -> float:
    """HC2 standard error of the treatment coefficient, leaving out the rows fitted exactly.

    HC2 weighs a squared residual by 1 / (1 - h); at h = 1 the residual is 0 and the ratio 0 / 0,
    rounding to anything (HC3 squares the denominator and blows up further). Those rows carry no
    information about the error variance, so their weight is 0."""
    scale = np.zeros_like(leverage)
    kept = np.ones(len(leverage), dtype=bool)
    kept[exact_rows] = False
    scale[kept] = fit.resid[kept] ** 2 / (1 - leverage[kept])
    bread = fit.model.pinv_wexog  # (X'X)^-1 X'
    return float(np.sqrt(bread[1] ** 2 @ scale))


def naive_difference(df, treatment: str, outcome: str, *, alpha: float = 0.05) -> Estimate:
    """Mean outcome of treated minus mean of controls, with a Welch (unequal-variance) t interval.

    Causal only in a randomised experiment; with confounded assignment it is the biased baseline
    the other estimators are compared against."""
    require_frame(df)
    check_alpha(alpha)
    require_columns(df, [treatment, outcome], "treatment/outcome")
    require_distinct_roles(treatment=treatment, outcome=outcome)
    require_no_missing(df, [treatment, outcome])
    t = binary_treatment(df, treatment)
    y = require_numeric(df, outcome, "outcome")
    y1, y0 = y[t == 1], y[t == 0]
    n1, n0 = len(y1), len(y0)
    if n1 < 2 or n0 < 2:
        raise ValueError(f"need at least 2 treated and 2 control rows for a variance, got {n1} and {n0}")
    v1, v0 = y1.var(ddof=1) / n1, y0.var(ddof=1) / n0
    se = float(np.sqrt(v1 + v0))
    diff = float(y1.mean() - y0.mean())
    # Welch-Satterthwaite degrees of freedom; a zero-variance sample leaves the normal limit.
    dof = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1)) if se > 0 else np.inf
    low, high = t_interval(diff, se, dof, alpha)
    return Estimate(
        method="naive_difference",
        estimand="ATE",
        estimate=diff,
        ci_low=low,
        ci_high=high,
        std_error=se,
        n_treated=n1,
        n_control=n0,
        alpha=alpha,
        details={
            "mean_treated": float(y1.mean()),
            "mean_control": float(y0.mean()),
            "dof": float(dof),
            "p_value": float(2 * stats.t.sf(abs(diff / se), dof)) if se > 0 else 0.0,
        },
    )


def regression_adjustment(
    df,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    *,
    interactions: bool = True,
    alpha: float = 0.05,
) -> Estimate:
    """ATE from OLS of the outcome on the treatment and covariates, HC3 robust standard errors.

    interactions=True (default) fits Lin's (2013) fully interacted model
    y ~ T + Xc + T:Xc with covariates centred at their sample means: the coefficient on T is then
    the ATE even when the effect varies with X (a plain y ~ T + X coefficient is a variance-weighted
    average that is *not* the ATE under heterogeneity). interactions=False fits the plain model.
    Categorical covariates are dummy-encoded (first level dropped).

    A row with leverage 1 (fitted exactly, e.g. the only treated row of a covariate level) leaves HC3
    undefined: then the standard error is HC2 without those rows, with a RuntimeWarning and
    details["warning"] naming them (details["covariance"] says which was used)."""
    require_frame(df)
    check_alpha(alpha)
    covariates = column_list(covariates, "covariates")
    require_columns(df, [treatment, outcome, *covariates], "treatment/outcome/covariates")
    require_distinct_roles(treatment=treatment, outcome=outcome, covariates=covariates)
    require_no_missing(df, [treatment, outcome, *covariates])
    t = binary_treatment(df, treatment).astype(float)
    y = require_numeric(df, outcome, "outcome")

    design = dummy_design(df, covariates, drop_first=True)
    design = design.loc[:, design.std(ddof=0) > 0]  # constant columns carry no information
    centred = design - design.mean()
    parts = {"const": np.ones(len(df)), "treatment": t}
    parts.update({name: centred[name].to_numpy() for name in centred.columns})
    if interactions:
        parts.update({f"treatment:{name}": t * centred[name].to_numpy() for name in centred.columns})
    exog = np.column_stack(list(parts.values()))
    if np.linalg.matrix_rank(exog) < exog.shape[1]:
        raise ValueError(
            "the regression design is rank-deficient (collinear covariates, or a covariate level seen in only "
            "one arm); drop or merge the offending covariates"
        )
    fit = sm.OLS(y, exog).fit()
    coef = float(fit.params[1])
    leverage = fit.get_influence().hat_matrix_diag
    leverage_one = np.flatnonzero(leverage > 1 - LEVERAGE_ONE_TOLERANCE)
    notes: dict[str, Any] = {}
    if len(leverage_one):
        se = _hc2_without_exact_fits(fit, leverage, leverage_one)
        shown = [df.index[i] for i in leverage_one[:10]]
        notes = {
            "leverage_one_rows": shown,
            "warning": (
                f"regression_adjustment: {len(leverage_one)} row(s) have leverage 1 (index {shown}"
                f"{' ...' if len(leverage_one) > 10 else ''}): a covariate level, or combination of "
                "levels, that only they have within their arm fits them exactly, so HC3 standard errors "
                "are undefined; using HC2, to which those rows add nothing. Merge or drop rare covariate "
                "levels for a standard error that accounts for them."
            ),
        }
        warnings.warn(notes["warning"], RuntimeWarning, stacklevel=2)
    else:
        se = float(fit.get_robustcov_results(cov_type="HC3").bse[1])
    low, high = t_interval(coef, se, fit.df_resid, alpha)
    n1 = int(t.sum())
    return Estimate(
        method="regression_adjustment",
        estimand="ATE",
        estimate=coef,
        ci_low=low,
        ci_high=high,
        std_error=se,
        n_treated=n1,
        n_control=len(t) - n1,
        alpha=alpha,
        details={
            "interactions": interactions,
            "n_parameters": exog.shape[1],
            "r_squared": float(fit.rsquared),
            "p_value": float(2 * stats.t.sf(abs(coef / se), fit.df_resid)) if se > 0 else 0.0,
            "terms": list(parts),
            "covariance": "HC2" if len(leverage_one) else "HC3",
            **notes,
        },
    )
