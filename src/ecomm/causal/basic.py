"""The two baselines: a raw difference in means, and regression adjustment."""

from __future__ import annotations

from collections.abc import Sequence

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
    Categorical covariates are dummy-encoded (first level dropped)."""
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
    fit = sm.OLS(y, exog).fit(cov_type="HC3", use_t=True)
    coef, se = float(fit.params[1]), float(fit.bse[1])
    low, high = fit.conf_int(alpha=alpha)[1]
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
            "p_value": float(fit.pvalues[1]),
            "terms": list(parts),
        },
    )
