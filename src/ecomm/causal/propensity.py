"""Propensity scores, nearest-neighbour matching on them, and inverse propensity weighting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ecomm.causal._checks import (
    binary_treatment,
    check_alpha,
    check_trim,
    column_list,
    covariate_transformer,
    require_both_arms,
    require_columns,
    require_distinct_roles,
    require_frame,
    require_no_missing,
    require_numeric,
)
from ecomm.causal.results import Estimate, normal_interval

ESTIMANDS = ("ATE", "ATT")


def propensity_model(df: pd.DataFrame, covariates: Sequence[str], *, C: float = 1.0) -> Pipeline:
    """Unfitted logistic-regression pipeline: numeric covariates standardised, categorical ones
    one-hot encoded. C is sklearn's inverse L2 strength; with standardised inputs the default is a
    light touch that only matters under (quasi-)separation."""
    return Pipeline(
        [
            ("encode", covariate_transformer(df, covariates)),
            ("logit", LogisticRegression(C=C, max_iter=2000)),
        ]
    )


def _fit_scores(df: pd.DataFrame, covariates: list[str], t: np.ndarray, C: float) -> np.ndarray:
    model = propensity_model(df, covariates, C=C).fit(df[covariates], t)
    return model.predict_proba(df[covariates])[:, 1]


def _encoded(df: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    return covariate_transformer(df, covariates).fit_transform(df[covariates])


def _scores_from_design(x: np.ndarray, t: np.ndarray, C: float) -> np.ndarray:
    # Same model as propensity_model, on an already encoded design: the bootstrap re-fits the
    # logistic regression per resample without re-encoding (the encoding has no fitted effect worth
    # re-estimating, and it was most of the cost).
    return LogisticRegression(C=C, max_iter=2000).fit(x, t).predict_proba(x)[:, 1]


def _validated(df, treatment, covariates, outcome=None):
    require_frame(df)
    covariates = column_list(covariates, "covariates")
    used = [treatment, *([outcome] if outcome is not None else []), *covariates]
    require_columns(df, used, "treatment/outcome/covariates")
    roles = {"treatment": treatment, "covariates": covariates}
    if outcome is not None:
        roles["outcome"] = outcome
    require_distinct_roles(**roles)
    require_no_missing(df, used)
    t = binary_treatment(df, treatment)
    y = require_numeric(df, outcome, "outcome") if outcome is not None else None
    return covariates, t, y


def _check_estimand(estimand: str) -> str:
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    return estimand


def _trim_mask(ps: np.ndarray, trim: tuple[float, float] | None) -> np.ndarray:
    if trim is None:
        return np.ones(len(ps), dtype=bool)
    return (ps >= trim[0]) & (ps <= trim[1])


def propensity_scores(df, treatment: str, covariates: Sequence[str], *, C: float = 1.0) -> pd.Series:
    """P(treated | covariates) from a logistic regression, one score per row of df."""
    covariates, t, _ = _validated(df, treatment, covariates)
    return pd.Series(_fit_scores(df, covariates, t, C), index=df.index, name="propensity_score")


# --------------------------------------------------------------------------------------------- matching


def _nearest(donor_values: np.ndarray, query_values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    index = NearestNeighbors(n_neighbors=k).fit(donor_values.reshape(-1, 1))
    distances, positions = index.kneighbors(query_values.reshape(-1, 1))
    return distances, positions


def _conditional_variance(
    logit: np.ndarray, y: np.ndarray, members: np.ndarray, n_close: int = 2
) -> np.ndarray:
    """sigma^2(X_i) for each member of one arm, from its `n_close` nearest same-arm neighbours on the
    logit score (Abadie & Imbens 2006): J/(J+1) * (y_i - mean of the neighbours' y)^2."""
    j = min(n_close, len(members) - 1)
    if j < 1:
        return np.zeros(len(members))
    _, positions = _nearest(logit[members], logit[members], j + 1)
    is_self = positions == np.arange(len(members))[:, None]
    # With tied scores a unit may not be its own first neighbour; then drop the farthest instead.
    is_self[~is_self.any(axis=1), -1] = True
    others = positions[~is_self].reshape(len(members), j)
    return j / (j + 1) * (y[members] - y[members[others]].mean(axis=1)) ** 2


def propensity_score_matching(
    df,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    *,
    estimand: str = "ATT",
    caliper: float | None = 0.2,
    trim: tuple[float, float] | None = (0.01, 0.99),
    n_neighbors: int = 1,
    alpha: float = 0.05,
    C: float = 1.0,
) -> Estimate:
    """Nearest-neighbour matching on the logit of the propensity score, with replacement.

    - trim: drop rows whose propensity is outside [low, high] first (common support); the estimand
      is then the ATT/ATE on the trimmed population. None disables it.
    - caliper: maximum distance to a match, in standard deviations of the logit propensity
      (0.2 after Austin 2011). Targets with no match inside it are dropped; None disables it.
    - estimand "ATT" matches each treated row to `n_neighbors` controls; "ATE" also matches each
      control to treated rows and averages both imputed effects.

    Standard error: Abadie & Imbens (2006) for matching with replacement, with conditional
    variances from same-arm neighbours. (The bootstrap is not valid for nearest-neighbour matching,
    Abadie & Imbens 2008.) It treats the propensity score as known.

    details["weights"] holds each row's weight in the matched comparison (treated targets 1,
    controls the number of times used, divided by the number of matches of each target); pass it
    to balance_table."""
    covariates, t, y = _validated(df, treatment, covariates, outcome)
    _check_estimand(estimand)
    check_alpha(alpha)
    trim = check_trim(trim)
    if caliper is not None and not caliper > 0:
        raise ValueError(f"caliper must be > 0 (in SD of the logit propensity) or None, got {caliper!r}")
    if not isinstance(n_neighbors, (int, np.integer)) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors!r}")

    ps = _fit_scores(df, covariates, t, C)
    kept = _trim_mask(ps, trim)
    require_both_arms(t[kept], treatment, where=f" after trimming propensities to {trim}")
    logit = np.log(ps) - np.log1p(-ps)
    width = np.inf if caliper is None else caliper * float(np.std(logit[kept], ddof=1))
    pools = {arm: np.flatnonzero(kept & (t == arm)) for arm in (0, 1)}

    n = len(t)
    counterfactual = np.full(n, np.nan)
    own = np.zeros(n)  # 1 for every target that found a match
    reuse = np.zeros(n)  # K~: total weight as somebody's match
    reuse_sq = np.zeros(n)  # sum of squared match weights (already inside the unit-level spread)
    dropped_by_caliper = 0
    for arm in (1, 0) if estimand == "ATE" else (1,):
        targets, donors = pools[arm], pools[1 - arm]
        if n_neighbors > len(donors):
            raise ValueError(f"n_neighbors={n_neighbors} but only {len(donors)} rows to match against")
        distances, positions = _nearest(logit[donors], logit[targets], n_neighbors)
        inside = distances <= width
        n_inside = inside.sum(axis=1)
        found = n_inside > 0
        dropped_by_caliper += int((~found).sum())
        share = inside[found] / n_inside[found, None]
        matched_donors = donors[positions[found]]
        counterfactual[targets[found]] = (y[matched_donors] * share).sum(axis=1)
        own[targets[found]] = 1.0
        np.add.at(reuse, matched_donors.ravel(), share.ravel())
        np.add.at(reuse_sq, matched_donors.ravel(), share.ravel() ** 2)

    matched = own > 0
    if not matched.any():
        raise ValueError(
            f"no target has a match within the caliper ({caliper} SD); widen it or set caliper=None"
        )
    sign = np.where(t == 1, 1.0, -1.0)
    unit_effect = sign[matched] * (y[matched] - counterfactual[matched])
    effect = float(unit_effect.mean())
    n_targets = int(matched.sum())

    sigma2 = np.zeros(n)
    for arm in (0, 1):
        sigma2[pools[arm]] = _conditional_variance(logit, y, pools[arm])
    weight = own + reuse
    variance = (
        ((unit_effect - effect) ** 2).sum() + (sigma2 * (weight**2 - (own + reuse_sq))).sum()
    ) / n_targets**2
    se = float(np.sqrt(variance))
    low, high = normal_interval(effect, se, alpha)

    used = weight > 0
    return Estimate(
        method="propensity_score_matching",
        estimand=estimand,
        estimate=effect,
        ci_low=low,
        ci_high=high,
        std_error=se,
        n_treated=int((used & (t == 1)).sum()),
        n_control=int((used & (t == 0)).sum()),
        alpha=alpha,
        details={
            "n_trimmed_treated": int((~kept & (t == 1)).sum()),
            "n_trimmed_control": int((~kept & (t == 0)).sum()),
            "n_dropped_by_caliper": dropped_by_caliper,
            "n_matched_targets": n_targets,
            "n_neighbors": int(n_neighbors),
            "caliper_sd": caliper,
            "caliper_logit_width": float(width),
            "max_match_reuse": float(reuse.max()),
            "weights": pd.Series(weight, index=df.index, name="matching_weight"),
            "propensity": pd.Series(ps, index=df.index, name="propensity_score"),
        },
    )


# -------------------------------------------------------------------------------------------- weighting


def _hajek_effect(t: np.ndarray, y: np.ndarray, ps: np.ndarray, estimand: str) -> tuple[float, np.ndarray]:
    """Self-normalised (Hajek) IPW contrast and the weights it used."""
    if estimand == "ATE":
        weight = np.where(t == 1, 1.0 / ps, 1.0 / (1.0 - ps))
    else:  # ATT: treated as they are, controls re-weighted to look like the treated
        weight = np.where(t == 1, 1.0, ps / (1.0 - ps))
    w1, w0 = weight * t, weight * (1 - t)
    return float((w1 * y).sum() / w1.sum() - (w0 * y).sum() / w0.sum()), weight


def _ipw_once(x, t, y, estimand, trim, C) -> tuple[float, np.ndarray, np.ndarray]:
    ps = _scores_from_design(x, t, C)
    kept = _trim_mask(ps, trim)
    if kept.all():
        effect, weight = _hajek_effect(t, y, ps, estimand)
    else:
        require_both_arms(t[kept], "treatment", where=f" after trimming propensities to {trim}")
        effect, weight_kept = _hajek_effect(t[kept], y[kept], ps[kept], estimand)
        weight = np.zeros(len(t))
        weight[kept] = weight_kept
    return effect, weight, ps


def inverse_propensity_weighting(
    df,
    treatment: str,
    outcome: str,
    covariates: Sequence[str],
    *,
    estimand: str = "ATE",
    trim: tuple[float, float] | None = (0.01, 0.99),
    n_bootstrap: int = 200,
    alpha: float = 0.05,
    random_state: int = 0,
    C: float = 1.0,
) -> Estimate:
    """Inverse propensity weighting with normalised (Hajek) weights.

    Rows with propensity outside `trim` are dropped (not clipped: clipping silently changes the
    weights of exactly the rows that are least comparable). The interval is a percentile bootstrap
    that re-fits the propensity model in each of `n_bootstrap` resamples (seeded), so it includes
    the uncertainty of the estimated scores; std_error is the bootstrap standard deviation."""
    covariates, t, y = _validated(df, treatment, covariates, outcome)
    _check_estimand(estimand)
    check_alpha(alpha)
    trim = check_trim(trim)
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 20:
        raise ValueError(f"n_bootstrap must be an integer >= 20, got {n_bootstrap!r}")

    x = _encoded(df, covariates)
    effect, weight, ps = _ipw_once(x, t, y, estimand, trim, C)

    rng = np.random.default_rng(random_state)
    replicates = []
    # Hundreds of tiny logistic fits: multi-threaded BLAS only adds overhead (and thrashes a busy
    # machine, 10x slower on 2 shared cores), so run them single-threaded.
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(n_bootstrap):
            rows = rng.integers(0, len(t), len(t))
            try:
                replicates.append(_ipw_once(x[rows], t[rows], y[rows], estimand, trim, C)[0])
            except ValueError:  # a resample that lost one arm (after trimming): skip it, count below
                continue
    if len(replicates) < n_bootstrap // 2:
        raise ValueError("most bootstrap resamples lost the treated or control arm; the data are too small")
    replicates = np.asarray(replicates)
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])

    kept = weight > 0
    ess = {arm: float(weight[t == arm].sum() ** 2 / (weight[t == arm] ** 2).sum()) for arm in (0, 1)}
    return Estimate(
        method="inverse_propensity_weighting",
        estimand=estimand,
        estimate=effect,
        ci_low=low,
        ci_high=high,
        std_error=float(replicates.std(ddof=1)),
        n_treated=int((kept & (t == 1)).sum()),
        n_control=int((kept & (t == 0)).sum()),
        alpha=alpha,
        details={
            "n_trimmed_treated": int((~kept & (t == 1)).sum()),
            "n_trimmed_control": int((~kept & (t == 0)).sum()),
            "effective_sample_size_treated": ess[1],
            "effective_sample_size_control": ess[0],
            "n_bootstrap_used": len(replicates),
            "weights": pd.Series(weight, index=df.index, name="ipw_weight"),
            "propensity": pd.Series(ps, index=df.index, name="propensity_score"),
        },
    )
