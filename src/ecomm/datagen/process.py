"""The customer process: each day, churn (behaviour-driven hazard), then ordering and the order details
that feed back into churn (lines and products, cancellation, late delivery, discount, returns).

Every draw here is counter-based (`randomness.uniforms`, keyed by customer id), and a customer's
path depends only on its own state, so the same function can run the realised world and
counterfactual arms over any subset of customers with common random numbers.

Daily hazard for an alive customer, from the state at the start of the day:
    h = sigmoid(intercept + frailty_i + recency * log1p(days since last completed order, or signup)
                + return_share * returned lines / completed lines
                + late_share * late deliveries / deliveries
                + discount_dependence * discounted completed orders / completed orders
                - recent_orders * log1p(completed orders in the last 180 days))
Churn is absorbing. Order probability:
    q = activity_i x weekday x season x holiday(country) x sale x (1 + tau_i if winback-treated in window)
        x (regional uplift in target countries after launch)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache

import numpy as np

from ecomm.datagen.campaigns import (
    COUPON_PCT,
    SALE_BOOST,
    TARGETED_ID,
    TARGETED_PCT,
    Arm,
    regional_active,
    sale_on,
)
from ecomm.datagen.catalog import CATEGORY_RETURN_LOGIT
from ecomm.datagen.columns import Agenda, Columns
from ecomm.datagen.pools import IN_REGIONAL_TARGET, LATE_RATE
from ecomm.datagen.preferences import pair_scores
from ecomm.datagen.randomness import Stream, uniforms
from ecomm.datagen.regimes import late_extra
from ecomm.entities import RETURN_WINDOW_DAYS


@dataclass(frozen=True)
class ChurnModel:
    """Coefficients of the daily churn hazard (see the module docstring)."""

    intercept: float = -12.0
    recency: float = 1.3
    return_share: float = 5.0
    late_share: float = 4.0
    discount_dependence: float = 2.0
    recent_orders: float = 0.3


@dataclass(frozen=True)
class ReturnModel:
    """P(line returned) = sigmoid(intercept + category + score * (set mean score - s_ij) + ps * (ps_i - 1))."""

    intercept: float = -2.9
    score: float = 0.6
    price_sensitivity: float = 0.4


CHURN = ChurnModel()
RETURNS = ReturnModel()
MAX_LINES = 5  # lines of an order: 1..5, with the customer's persona's probabilities
COUPON_BASE, COUPON_SLOPE = 0.02, 0.10  # P(coupon) = base + slope * price_sensitivity
RECENT_WINDOW = 180
MAX_ORDER_PROB = 0.95
NO_CAMPAIGN = 0

# Counter changes that land on a later day (the agenda's `field`).
DELIVERED, LATE, RETURNED, AGED_OUT = 0, 1, 2, 3
DELTA_DTYPES = {"row": np.int64, "field": np.int8}

PROCESS_DTYPES = dict(
    gidx=np.int64,
    alive=np.bool_,
    churned_on=np.int32,
    last_completed=np.int32,
    n_orders=np.int32,
    n_lines=np.int32,
    n_returned=np.int32,
    n_delivered=np.int32,
    n_late=np.int32,
    n_discounted=np.int32,
    orders180=np.int32,
    # observable from the written history only (covariates of the targeted assignment)
    hist_orders=np.int32,
    hist_discounted=np.int32,
    hist_last=np.int32,
    hist_spend=np.int64,
)


def planted_parameters() -> dict:
    return {
        "churn_hazard": asdict(CHURN),
        "returns": asdict(RETURNS),
        "coupon": {"base": COUPON_BASE, "slope": COUPON_SLOPE},
        "recent_orders_window_days": RECENT_WINDOW,
    }


class ProcessState:
    """Per-customer counters of the process for a set of customers (rows), plus pending changes."""

    def __init__(self, cols: Columns, pending: Agenda) -> None:
        self.cols = cols
        self.pending = pending

    @classmethod
    def new(cls, gidx: np.ndarray, last_completed: np.ndarray | None = None) -> ProcessState:
        return cls(Columns(**_fresh(gidx, last_completed)), Agenda(DELTA_DTYPES))

    def append(self, gidx: np.ndarray) -> None:
        self.cols.append(**_fresh(gidx, None))

    def subset(self, rows: np.ndarray) -> ProcessState:
        mapping = np.full(len(self.cols), -1, dtype=np.int64)
        mapping[rows] = np.arange(len(rows))
        return ProcessState(self.cols.take(rows), self.pending.remapped("row", mapping))

    def tiled(self, rows: np.ndarray, copies: int) -> ProcessState:
        """`copies` independent copies of the subset `rows`, one after the other."""
        part = self.subset(rows)
        cols = Columns(**{k: np.concatenate([v] * copies) for k, v in part.cols.to_arrays().items()})
        return ProcessState(cols, part.pending.tiled("row", copies, len(rows)))

    def apply_due(self, day: int) -> None:
        due = self.pending.pop(day)
        c = self.cols
        for field, column, sign in (
            (DELIVERED, c.n_delivered, 1),
            (LATE, c.n_late, 1),
            (RETURNED, c.n_returned, 1),
            (AGED_OUT, c.orders180, -1),
        ):
            rows = due["row"][due["field"] == field]
            if len(rows):
                np.add.at(column, rows, sign)


def _fresh(gidx: np.ndarray, last_completed: np.ndarray | None) -> dict:
    n = len(gidx)
    out = {k: np.zeros(n, dtype=t) for k, t in PROCESS_DTYPES.items()}
    out["gidx"] = np.asarray(gidx, dtype=np.int64)
    out["alive"][:] = True
    out["churned_on"][:] = -1
    out["last_completed"][:] = -1 if last_completed is None else last_completed
    out["hist_last"][:] = -1
    return out


@cache
def line_count_cum(personas: tuple) -> np.ndarray:
    """(personas x 4) cumulative P(1..4 lines), for inverse-CDF draws of an order's line count."""
    probs = np.array([p.line_count_probs for p in personas], dtype=np.float64)
    return np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)[:, :-1]


def line_count_probs(personas: tuple) -> np.ndarray:
    """(personas x MAX_LINES) P(1..5 lines)."""
    probs = np.array([p.line_count_probs for p in personas], dtype=np.float64)
    return probs / probs.sum(axis=1, keepdims=True)


def hazard(world, ps: ProcessState, rows: np.ndarray, gidx: np.ndarray, day: int) -> np.ndarray:
    c, cust, m = ps.cols, world.customers, CHURN
    last = c.last_completed[rows]
    recency = day - np.where(last >= 0, last, cust.signup[gidx])
    z = (
        m.intercept
        + cust.frailty[gidx]
        + m.recency * np.log1p(recency)
        + m.return_share * c.n_returned[rows] / np.maximum(c.n_lines[rows], 1)
        + m.late_share * c.n_late[rows] / np.maximum(c.n_delivered[rows], 1)
        + m.discount_dependence * c.n_discounted[rows] / np.maximum(c.n_orders[rows], 1)
        - m.recent_orders * np.log1p(c.orders180[rows])
    )
    return 1.0 / (1.0 + np.exp(-z))


def order_probability(
    world, gidx: np.ndarray, day: int, treated: np.ndarray | None, tau: np.ndarray | None, regional_on: bool
) -> np.ndarray:
    cust, plan = world.customers, world.plan
    country = cust.country[gidx]
    q = cust.activity[gidx] * world.demand.factors(day)[country]
    if sale_on(plan, day) is not None:
        q = q * (1.0 + SALE_BOOST * cust.price_sensitivity[gidx])
    if treated is not None:
        q = np.where(treated, q * (1.0 + tau), q)
    if regional_on and regional_active(plan, day):
        q = np.where(IN_REGIONAL_TARGET[country], q * world.config.regional_uplift, q)
    return np.minimum(q, MAX_ORDER_PROB)


def targeted_flags(
    world, gidx: np.ndarray, day: int, arm: Arm
) -> tuple[np.ndarray | None, np.ndarray | None]:
    t = world.targeted
    if (
        t is None
        or not world.plan.targeted_day <= day < world.plan.targeted_day + world.plan.targeted_window_days
    ):
        return None, None
    return t.flags(gidx, arm)


@dataclass
class Decisions:
    """One day of one process: who churned, who ordered, and the order lines (for rendering)."""

    rows: np.ndarray  # process rows of the orders (one order per customer and day)
    gidx: np.ndarray
    cancelled: np.ndarray
    delivery_days: np.ndarray
    late: np.ndarray
    discount_pct: np.ndarray
    campaign_id: np.ndarray  # NO_CAMPAIGN = none
    line_order: np.ndarray  # index into the orders
    line_no: np.ndarray  # 1-based
    line_product: np.ndarray
    line_relative: np.ndarray  # s_ij minus the mean score of the customer's consideration set
    line_returned: np.ndarray
    line_return_day: np.ndarray

    @property
    def completed_rows(self) -> np.ndarray:
        return self.rows[~self.cancelled]


def active_rows(world, ps: ProcessState, day: int) -> np.ndarray:
    """Process rows of the customers who are alive and signed up by `day`."""
    return np.flatnonzero(ps.cols.alive & (world.customers.signup[ps.cols.gidx] <= day))


def step_process(world, ps: ProcessState, day: int, arm: Arm) -> Decisions:
    """Advance `ps` by one day: land pending changes, churn, order, update counters."""
    ps.apply_due(day)
    c = ps.cols
    active = active_rows(world, ps, day)
    gidx = c.gidx[active]
    churn = uniforms(world.config.seed, Stream.CHURN, day, gidx + 1) < hazard(world, ps, active, gidx, day)
    c.alive[active[churn]] = False
    c.churned_on[active[churn]] = day
    return order_step(world, ps, day, arm, active[~churn])


def order_step(
    world,
    ps: ProcessState,
    day: int,
    arm: Arm,
    rows: np.ndarray,
    draw_ids: np.ndarray | None = None,
    flags: tuple[np.ndarray | None, np.ndarray | None] | None = None,
    q: np.ndarray | None = None,
) -> Decisions:
    """The ordering half of a day for process `rows` that survived the day's churn draw.

    draw_ids: the counters of the random draws (default customer id; replicas of one customer in the
    value truth's Monte Carlo use others); flags: (treated, tau) of the rows instead of the world's
    winback assignment; q: the rows' order probabilities, when the caller has computed them.
    """
    cfg = world.config
    seed = cfg.seed
    c, cust, prefs, products = ps.cols, world.customers, world.prefs, world.products
    gidx = c.gidx[rows]
    ids = gidx + 1 if draw_ids is None else draw_ids

    treated, tau = targeted_flags(world, gidx, day, arm) if flags is None else flags
    if q is None:
        q = order_probability(world, gidx, day, treated, tau, arm.regional)
    buy = uniforms(seed, Stream.ORDER, day, ids) < q
    rows, gidx, ids = rows[buy], gidx[buy], ids[buy]
    treated = None if treated is None else treated[buy]

    # order level: cancel, line count, late?, delivery days, coupon
    u = uniforms(seed, Stream.ORDER_DETAIL, day, ids, slots=5)
    cancelled = u[:, 0] < cfg.cancel_rate
    n_lines = 1 + (line_count_cum(cfg.personas)[cust.persona[gidx]] <= u[:, 1, None]).sum(axis=1)
    late = u[:, 2] < LATE_RATE[cust.country[gidx]] + late_extra(cfg, day)
    delivery = np.where(late, 6 + (u[:, 3] * 7).astype(np.int64), 1 + (u[:, 3] * 5).astype(np.int64))
    coupon = u[:, 4] < COUPON_BASE + COUPON_SLOPE * cust.price_sensitivity[gidx]
    pct = np.where(coupon, COUPON_PCT, 0)
    campaign = np.full(len(rows), NO_CAMPAIGN, dtype=np.int64)
    sale = sale_on(world.plan, day)
    if sale is not None:
        pct = np.maximum(pct, sale.pct)
        if sale.campaign_id is not None:
            campaign[:] = sale.campaign_id
    if treated is not None:
        pct = np.where(treated, np.maximum(pct, TARGETED_PCT), pct)
        campaign = np.where(treated, TARGETED_ID, campaign)

    # lines: distinct products by Gumbel-top-k over the consideration set, some explored at random
    m = world.plan.consideration_size
    keys = prefs.logw[gidx] - np.log(-np.log(uniforms(seed, Stream.CHOICE, day, ids, slots=m)))
    top = np.argsort(-keys, axis=1, kind="stable")[:, :MAX_LINES]
    product = np.take_along_axis(prefs.items[gidx], top, axis=1).astype(np.int64)
    ud = uniforms(seed, Stream.LINE_DETAIL, day, ids, slots=4 * MAX_LINES)
    explore = ud[:, :MAX_LINES] < cust.exploration[gidx, None]
    product = np.where(explore, (ud[:, MAX_LINES : 2 * MAX_LINES] * len(products)).astype(np.int64), product)
    valid = np.arange(MAX_LINES)[None, :] < n_lines[:, None]
    for j in range(1, MAX_LINES):  # an explored product may repeat one already in the order: drop it
        dup = ((product[:, :j] == product[:, j : j + 1]) & valid[:, :j]).any(axis=1)
        valid[:, j] &= ~dup
    order_idx, slot = np.nonzero(valid)
    line_no = np.cumsum(valid, axis=1)[order_idx, slot]
    line_product = product[order_idx, slot]
    line_g = gidx[order_idx]
    score = pair_scores(
        cust.taste[line_g],
        cust.price_sensitivity[line_g],
        products.vector[line_product],
        products.popularity[line_product],
        products.log_price[line_product],
    )
    relative = score - prefs.score[line_g].mean(axis=1)
    r = RETURNS
    z = (
        r.intercept
        + CATEGORY_RETURN_LOGIT[products.category[line_product]]
        - r.score * relative
        + r.price_sensitivity * (cust.price_sensitivity[line_g] - 1.0)
    )
    returned = ~cancelled[order_idx] & (ud[order_idx, 2 * MAX_LINES + slot] < 1.0 / (1.0 + np.exp(-z)))
    # after delivery, 3..RETURN_WINDOW_DAYS days after the order
    earliest = np.maximum(3, delivery[order_idx] + 1)
    latest = RETURN_WINDOW_DAYS + 1 - earliest
    return_day = day + earliest + (ud[order_idx, 3 * MAX_LINES + slot] * latest).astype(np.int64)

    # counters of completed orders; delivery, returns and the 180-day window land later
    done = ~cancelled
    crow = rows[done]
    lines_done = np.bincount(order_idx, minlength=len(rows))[done]
    disc_done = pct[done] > 0
    c.last_completed[crow] = day
    c.n_orders[crow] += 1
    c.n_lines[crow] += lines_done
    c.n_discounted[crow] += disc_done
    c.orders180[crow] += 1
    if day >= world.plan.start:
        c.hist_orders[crow] += 1
        c.hist_discounted[crow] += disc_done
        c.hist_last[crow] = day
    late_done = late[done]
    ret_rows = rows[order_idx[returned]]
    ps.pending.add(
        np.concatenate(
            [
                np.full(len(crow), day + RECENT_WINDOW),
                day + delivery[done],
                day + delivery[done][late_done],
                return_day[returned],
            ]
        ),
        row=np.concatenate([crow, crow, crow[late_done], ret_rows]),
        field=np.concatenate(
            [
                np.full(len(crow), AGED_OUT),
                np.full(len(crow), DELIVERED),
                np.full(late_done.sum(), LATE),
                np.full(len(ret_rows), RETURNED),
            ]
        ),
    )
    return Decisions(
        rows=rows,
        gidx=gidx,
        cancelled=cancelled,
        delivery_days=np.where(cancelled, -1, delivery),
        late=late & done,
        discount_pct=pct,
        campaign_id=campaign,
        line_order=order_idx,
        line_no=line_no,
        line_product=line_product,
        line_relative=relative,
        line_returned=returned,
        line_return_day=np.where(returned, return_day, -1),
    )
