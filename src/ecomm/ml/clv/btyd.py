"""Maximum-likelihood fits of BG/NBD (purchase process) and Gamma-Gamma (value of a purchase),
with scipy.optimize on log parameters (all are positive).

Why not PyMC-Marketing's CLV module: its releases for Python 3.11 (0.19.x) need pymc 5.28, which
pins cachetools < 7, and the lock has cachetools 7.3.2 (Airflow and MLflow's choice); adding it
would change an existing pin. `lifetimes` (last release 2020) and `btyd` (a 2022 beta) are not
maintained. The two likelihoods are short closed forms (Fader, Hardie & Lee 2005; Fader & Hardie
2013), so they are written out here and the predictions live in ecomm.ml.serving.

Inputs per customer, time in days: x = repeat purchase days (purchase days after the first),
t_x = days from the first to the last purchase day, T = days from the first purchase day to the
cutoff; n = purchase days (x + 1) and m = their mean value for Gamma-Gamma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln

BGNBD = ("r", "alpha", "a", "b")
GAMMA_GAMMA = ("p", "q", "v")


@dataclass(frozen=True)
class Fit:
    params: dict[str, float]
    log_likelihood: float  # at the optimum, summed over the customers
    converged: bool


def bgnbd_log_likelihood(log_params: np.ndarray, x, t_x, big_t) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    return a1 + a2 + np.logaddexp(a3, a4)


def gamma_gamma_log_likelihood(log_params: np.ndarray, n, m) -> np.ndarray:
    """Per-customer log-likelihood of the mean value m of n purchases (Fader & Hardie 2013), up to a
    term without parameters."""
    p, q, v = np.exp(log_params)
    px = p * n
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(n)
        - (px + q) * np.log(n * m + v)
    )


def _fit(neg_ll, starts: list[np.ndarray], names: tuple[str, ...]) -> Fit:
    """The best of L-BFGS-B runs from several starts (the likelihoods are not convex)."""
    best = None
    for start in starts:
        result = minimize(neg_ll, start, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * len(start))
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ValueError("no start of the optimiser reached a finite likelihood")
    params = dict(zip(names, np.exp(best.x).tolist(), strict=True))
    return Fit(params, float(-best.fun), bool(best.success))


def fit_bgnbd(x, t_x, big_t) -> Fit:
    x, t_x, big_t = (np.asarray(v, dtype="float64") for v in (x, t_x, big_t))
    if len(x) < 10 or not (x > 0).any():
        raise ValueError(f"BG/NBD needs repeat purchases: {len(x)} customers, {int((x > 0).sum())} repeat")
    scale = max(float(np.mean(big_t)), 1.0)  # alpha's order of magnitude is the time scale

    def neg_ll(theta):
        value = -bgnbd_log_likelihood(theta, x, t_x, big_t).sum()
        return value if np.isfinite(value) else 1e300

    starts = [np.log([r, scale * k, a, b]) for r, k, a, b in ((1.0, 1.0, 1.0, 1.0), (0.5, 0.3, 0.5, 3.0))]
    return _fit(neg_ll, starts, BGNBD)


def fit_gamma_gamma(n, m) -> Fit:
    n, m = np.asarray(n, dtype="float64"), np.asarray(m, dtype="float64")
    keep = m > 0  # a purchase day worth nothing (fully discounted) has no log
    n, m = n[keep], m[keep]
    if len(n) < 10:
        raise ValueError(f"Gamma-Gamma needs purchase values: {len(n)} customers with a positive one")
    mean = float(np.mean(m))

    def neg_ll(theta):
        value = -gamma_gamma_log_likelihood(theta, n, m).sum()
        return value if np.isfinite(value) else 1e300

    # p v / (q - 1) is the population mean: start at p = 2, q = 3 and v matching it
    starts = [np.log([2.0, 3.0, mean]), np.log([6.0, 4.0, mean / 2])]
    fit = _fit(neg_ll, starts, GAMMA_GAMMA)
    if fit.params["q"] <= 1:
        raise ValueError(f"Gamma-Gamma fit has q = {fit.params['q']:.3f} <= 1: the mean value is undefined")
    return fit
