"""Demand truth: per product and business date, the expected units and revenue of completed order
lines implied by the simulator's own probabilities at the start of the day (not the sampled outcome).

For a customer i alive and signed up on day t, with the day's churn hazard h_i and order probability
q_i (the process's own `hazard` and `order_probability`, winback and regional uplift included):

    a_i = (1 - h_i) * q_i * (1 - cancel_rate)        P(a completed order by i today)

An order draws N lines (the persona's probabilities), the Plackett-Luce (Gumbel-top-k) ranking of the
customer's consideration set, and per slot s <= N an exploration coin (rate e_i) that replaces the
s-th pick by a uniformly random product of the P in the catalogue; a product that would appear twice
appears once. The draws are independent, so with R_j the rank of product j in the customer's set:

    P(j absent | N, R_j = r) = (1 - e/P)^(N-1) * e * (1 - 1/P)   if r <= N  (slot r explored, not to j)
                             = (1 - e/P)^N                        otherwise (and for products outside)

    E[units of j] = E[quantity] * sum_i a_i * P(j in i's order)
    E[revenue of j] = list price_j * E[quantity] * sum_i a_i * k_i * P(j in i's order)

k_i is the expected kept share after discounts (coupon by price sensitivity, sitewide sale, winback
offer; `value.keep_share`); the unit price's jitter is symmetric, so its mean is the list price.

P(R_j <= k) for k = 1..5 is the exponential-race form of Plackett-Luce (item i finishes at an
exponential time of rate w_i; the ranking is the finishing order):

    P(R_j = r) = integral_0^inf w_j e^(-w_j t) P(exactly r - 1 other items finished by t) dt,

the count of finished items a Poisson-binomial over the others. The weights are concentrated (for a
tenth of the customers the items after the top four hold < 5% of the weight), so the integrand has
time scales from 1 to 10^6 and more: it is integrated by the trapezoid rule in u = log t, which for
these (analytic, doubly exponentially decaying) integrands is accurate to about 1e-8 at the step used
(tests/unit/test_datagen_demand.py checks it against enumeration of the rankings). The ranks change
only when a launch enters a customer's set, so they are cached per customer (`value.SetCache`).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ecomm.datagen.campaigns import REALISED, TARGETED_PCT, sale_on
from ecomm.datagen.process import (
    COUPON_BASE,
    COUPON_SLOPE,
    MAX_LINES,
    active_rows,
    hazard,
    line_count_probs,
    order_probability,
    targeted_flags,
)
from ecomm.datagen.value import MEAN_QUANTITY, keep_share

RANKS = MAX_LINES  # an order has at most MAX_LINES picks: ranks beyond never matter
LOG_T_MIN, LOG_T_MAX, LOG_STEP = -8.0, 40.0, 0.4  # the trapezoid's nodes in u = log t
_CHUNK = 64  # customers per pass (the (ranks x customers*nodes) temporaries stay small)


@cache
def _nodes() -> tuple[np.ndarray, np.ndarray]:
    """Times t and trapezoid weights dt = t du (the integrand vanishes at both ends)."""
    t = np.exp(np.arange(LOG_T_MIN, LOG_T_MAX + LOG_STEP / 2, LOG_STEP))
    return t, t * LOG_STEP


def rank_cdfs(w: np.ndarray) -> np.ndarray:
    """(rows x m x RANKS) P(rank <= k), k = 1..RANKS, of each item under Plackett-Luce weights w.

    w: (rows x m), each row summing to 1. P(rank 1) = w_j exactly; rank r >= 2 has a mass of order
    t0^r below t0 = e^LOG_T_MIN, where the nodes start.
    """
    out = np.empty(w.shape + (RANKS,))
    for lo in range(0, len(w), _CHUNK):
        out[lo : lo + _CHUNK] = _rank_probabilities(w[lo : lo + _CHUNK]).cumsum(axis=2)
    return out


def _rank_probabilities(w: np.ndarray) -> np.ndarray:
    t, dt = _nodes()
    rows, m = w.shape
    n = len(t)
    # (items, rows * nodes): each item's chance of not having finished by each node's time
    rate_time = -(w.T[:, :, None] * t[None, None, :]).reshape(m, rows * n)
    s = np.exp(rate_time)
    p = -np.expm1(rate_time)  # not 1 - s: small rates times small times would cancel to 0
    # Poisson-binomial counts 0..RANKS-1 of finished items before item i (prefix) and after (suffix);
    # counts past RANKS - 1 are dropped: they never come back down
    prefix = np.zeros((m + 1, RANKS, rows * n))
    prefix[0, 0] = 1.0
    for i in range(m):
        prefix[i + 1] = prefix[i] * s[i]
        prefix[i + 1, 1:] += prefix[i, :-1] * p[i]
    suffix = np.zeros((m + 1, RANKS, rows * n))
    suffix[m, 0] = 1.0
    for i in range(m - 1, -1, -1):
        suffix[i] = suffix[i + 1] * s[i]
        suffix[i, 1:] += suffix[i + 1, :-1] * p[i]
    density = (w.T[:, :, None] * s.reshape(m, rows, n) * dt).reshape(m, rows * n)
    probs = np.empty((rows, m, RANKS))
    for k in range(RANKS):  # exactly k others finished before item j
        others = sum(prefix[:m, a] * suffix[1:, k - a] for a in range(k + 1))
        probs[:, :, k] = (density * others).reshape(m, rows, n).sum(axis=2).T
    probs[:, :, 0] = w  # exact (see rank_cdfs)
    return probs


def set_rank_cdfs(world, g: np.ndarray) -> np.ndarray:
    """`rank_cdfs` of the consideration sets of customers g (a `SetCache` summary)."""
    logw = world.prefs.logw[g]
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    return rank_cdfs(w / w.sum(axis=1, keepdims=True))


def presence(cdfs: np.ndarray, line_probs: np.ndarray, explore: np.ndarray, n_products: int):
    """(P(j in the order) - floor for the set's items (rows x m), floor (rows)) given an order.

    The floor is P(a product outside the set is in the order). cdfs: the rows' `rank_cdfs`;
    line_probs: (rows x MAX_LINES) P(N lines); explore: the rows' exploration rates. From the
    module docstring, with miss = 1 - e/P: floor = 1 - sum_N P(N) miss^N, and a set item adds
    sum_N P(N) P(R_j <= N) miss^(N-1) (miss - e (1 - 1/P)), where miss - e (1 - 1/P) = 1 - e.
    """
    miss = 1.0 - explore / n_products
    powers = miss[:, None] ** np.arange(MAX_LINES)  # miss^(N-1), N = 1..MAX_LINES
    floor = 1.0 - (line_probs * powers * miss[:, None]).sum(axis=1)
    weights = line_probs * powers * (1.0 - explore)[:, None]
    return np.matmul(cdfs, weights[:, :, None])[:, :, 0], floor


def expected_demand(world, day: int, ranks) -> tuple[np.ndarray, np.ndarray]:
    """(expected units, expected revenue in dollars) per product (index = product id - 1) on `day`.

    From the state at the start of the day (pending changes landed, launches and signups done);
    ranks: the world's `SetCache` of `set_rank_cdfs`.
    """
    ps, cust, products = world.main, world.customers, world.products
    ps.apply_due(day)  # what step_process does first (a second call finds nothing due)
    rows = active_rows(world, ps, day)
    g = ps.cols.gidx[rows]
    treated, tau = targeted_flags(world, g, day, REALISED)
    q = order_probability(world, g, day, treated, tau, REALISED.regional)
    completed = (1.0 - hazard(world, ps, rows, g, day)) * q * (1.0 - world.config.cancel_rate)

    coupon = np.minimum(COUPON_BASE + COUPON_SLOPE * cust.price_sensitivity[g], 1.0)
    sale = sale_on(world.plan, day)
    other = np.full(len(g), 0 if sale is None else sale.pct)
    if treated is not None:
        other = np.where(treated, np.maximum(other, TARGETED_PCT), other)
    kept = keep_share(coupon, other)

    n_products = len(products)
    extra, floor = presence(
        ranks.of(world, g).astype(np.float64),
        line_count_probs(world.config.personas)[cust.persona[g]],
        cust.exploration[g],
        n_products,
    )
    items = world.prefs.items[g].reshape(-1)
    units = np.zeros(n_products)
    revenue_share = np.zeros(n_products)
    for out, weight in ((units, completed), (revenue_share, completed * kept)):
        out += np.dot(weight, floor)
        out += np.bincount(items, (weight[:, None] * extra).reshape(-1), minlength=n_products)
    price = products.list_cents.astype(np.float64) / 100.0
    return MEAN_QUANTITY * units, MEAN_QUANTITY * price * revenue_share
