"""Value truth: each customer's expected completed revenue over the next `value_horizon_days`.

Completed revenue = revenue of the order lines of orders that are not cancelled, before returns (the
`completed` status of order_items as generated, the same "completed order" as the churn and purchase
truth). At a snapshot S, for a customer alive at the start of S:

    E[revenue] = (1 - cancel_rate) * sum_t P(alive after day t's churn draw) * q_t * d_t * v

* q_t, the order probability, is the simulator's own `order_probability` (customer x calendar x
  campaigns): it does not depend on the customer's path, only on the winback flag.
* d_t = E[1 - discount share] of the day: coupon (probability by price sensitivity), sale, winback.
* v, the expected pre-discount revenue of an order, is exact for the order step's line draw
  (line count by persona, Gumbel-top-k = Plackett-Luce picks from the consideration set, exploration
  of a uniformly random product, mean quantity and mean price jitter), with two simplifications: the
  4th and 5th lines (1-13% of a persona's lines) take the 3rd pick's expected price, and the rare line
  dropped as a duplicate of an explored product is counted. Sets and prices are those at S (later launches,
  which replace a set's worst item, are not foreseen).
* P(alive) depends on the path (the hazard rises with recency, returns, late deliveries...), so it
  is estimated by **Monte Carlo of lean replicas of the customer process**: from S,
  `value_replications` paths per customer with churn switched off, each weighted by its survival
  prod(1 - h_t) instead (unbiased, and with far less variance than counting churn draws). A replica
  draws only what feeds revenue and survival, with the order step's probabilities: each day's order
  (`order_probability`), and per order its cancellation, line count, lateness, delivery days,
  discount and returned lines. One simplification: a line's return probability is the marginal one
  of its Plackett-Luce pick (the 1st pick's, the 2nd's for every later line; an explored product's
  from its true score) instead of the joint draw of the order's products. A replica's orders do not
  depend on its path (only a winback assignment still ahead of S does, drawn in each replica from
  its own history as the world draws it), so a block of customers runs over the whole horizon at
  once: orders and their details first, then the hazard's counters at their sparse changes, and the
  hazard and survival as (customers x days) matrices. Draws: a generator per block for the dense
  daily order draws, counter-based replica streams for the per-order ones. With one path (the
  default) a customer's value has a relative standard error of about 17% (median; 40% at the 90th
  percentile; measured on a 3,000-customer world): small beside the spread of realised revenue.
  The cost is about 0.15 s of CPU per month start and 10,000 alive customers.

A customer who has already churned has expected value 0. Orders placed on S itself count.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ecomm.datagen.campaigns import (
    COUPON_PCT,
    REALISED,
    SALE_BOOST,
    TARGETED_PCT,
    age_band,
    assignment_probability,
    deal_seeker,
    regional_active,
    sale_on,
    uplift,
)
from ecomm.datagen.catalog import CATEGORY_RETURN_LOGIT
from ecomm.datagen.pools import IN_REGIONAL_TARGET, LATE_RATE
from ecomm.datagen.preferences import pair_scores
from ecomm.datagen.process import (
    AGED_OUT,
    CHURN,
    COUPON_BASE,
    COUPON_SLOPE,
    DELIVERED,
    LATE,
    MAX_LINES,
    MAX_ORDER_PROB,
    RECENT_WINDOW,
    RETURNED,
    RETURNS,
    line_count_cum,
    line_count_probs,
)
from ecomm.datagen.randomness import Stream, stream_key, uniforms
from ecomm.datagen.regimes import late_extra
from ecomm.datagen.render import QUANTITY_PROBS
from ecomm.entities import RETURN_WINDOW_DAYS

MEAN_QUANTITY = float(np.dot(np.arange(1, len(QUANTITY_PROBS) + 1), QUANTITY_PROBS))
_CHUNK = 128  # rows per pick_prices pass: its (rows x m x m) temporaries stay in the CPU cache


def pick_prices(w: np.ndarray, price: np.ndarray) -> np.ndarray:
    """(n x 3) expected price of the 1st, 2nd and 3rd Plackett-Luce pick (weights w sum to 1 per row).

    P(first two picks a, b) = w_a w_b / (1 - w_a); the next pick is then price-averaged over the rest:
    (sum_k w_k p_k - w_a p_a - w_b p_b) / (1 - w_a - w_b).
    """
    out = np.empty((len(w), 3))
    for lo in range(0, len(w), _CHUNK):
        wc, pc = w[lo : lo + _CHUNK], price[lo : lo + _CHUNK]
        wp = wc * pc
        total = wp.sum(axis=1)
        rest1 = np.maximum(1.0 - wc, 1e-300)
        out[lo : lo + _CHUNK, 0] = total
        out[lo : lo + _CHUNK, 1] = (wc * (total[:, None] - wp) / rest1).sum(axis=1)
        pair = wc[:, :, None] * wc[:, None, :] / rest1[:, :, None]
        rest2 = np.maximum(1.0 - wc[:, :, None] - wc[:, None, :], 1e-300)
        third = (total[:, None, None] - wp[:, :, None] - wp[:, None, :]) / rest2
        m = wc.shape[1]
        pair[:, np.arange(m), np.arange(m)] = 0.0  # a pick is never repeated
        out[lo : lo + _CHUNK, 2] = (pair * third).reshape(len(wc), -1).sum(axis=1)
    return out


def set_summaries(world, g: np.ndarray) -> np.ndarray:
    """(rows x 6) per customer's set: the 3 `pick_prices`, then `return_marginals` (see there)."""
    prefs, products = world.prefs, world.products
    list_price = products.list_cents.astype(np.float64)
    picks = pick_prices(np.exp(prefs.logw[g]), list_price[prefs.items[g]])
    return np.concatenate([picks, np.stack(return_marginals(world, g), axis=1)], axis=1)


class SetCache:
    """A summary of every customer's consideration set (default `set_summaries`), kept between days.

    A set (or its weights) changes only when a launch enters it: a fifth of the customers in a busy
    month, a handful in most. Only those rows are recomputed; a row's result does not depend on the
    rows computed with it, so the values are the same as without the cache, and a saved cache
    (`to_arrays`, `restore`) gives the same values as a fresh one. summarise(world, g) -> (len(g),
    *shape) array.
    """

    def __init__(self, summarise=None, shape: tuple = (6,), dtype=np.float64) -> None:
        self.summarise = set_summaries if summarise is None else summarise
        self.shape = tuple(shape)
        self.items = np.zeros((0, 0), dtype=np.int64)
        self.logw = np.zeros((0, 0))
        self.summary = np.zeros((0, *self.shape), dtype=dtype)

    def of(self, world, g: np.ndarray) -> np.ndarray:
        items, logw = world.prefs.items, world.prefs.logw
        if len(self.items) < len(items) or self.items.shape[1:] != items.shape[1:]:
            keep = len(self.items) if self.items.shape[1:] == items.shape[1:] else 0
            size = len(items) + len(items) // 4  # room for a few months of signups
            self.items = _grown(self.items[:keep], size, items.shape[1:], -1)
            self.logw = _grown(self.logw[:keep], size, items.shape[1:], 0.0)
            self.summary = _grown(self.summary[:keep], size, self.shape, 0.0)
        stale = g[(self.items[g] != items[g]).any(axis=1) | (self.logw[g] != logw[g]).any(axis=1)]
        if len(stale):
            self.summary[stale] = self.summarise(world, stale)
            self.items[stale] = items[stale]
            self.logw[stale] = logw[stale]
        return self.summary[g]

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"items": self.items, "logw": self.logw, "summary": self.summary}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """A saved cache: each row is still checked against the customer's set before it is used."""
        self.items, self.logw, self.summary = arrays["items"], arrays["logw"], arrays["summary"]


def _grown(a: np.ndarray, size: int, shape: tuple, fill) -> np.ndarray:
    out = np.full((size,) + tuple(shape), fill, dtype=a.dtype)
    if len(a):
        out[: len(a)] = a
    return out


def order_value(world, gidx: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Expected revenue of an order before discounts (cents), by the order step's line draw.

    picks: the customers' `pick_prices`.
    """
    cust, products = world.customers, world.products
    list_price = products.list_cents.astype(np.float64)
    picks = np.concatenate([picks, np.repeat(picks[:, 2:], MAX_LINES - 3, axis=1)], axis=1)
    e = cust.exploration[gidx][:, None]
    line_price = (1.0 - e) * picks + e * list_price.mean()
    probs = line_count_probs(world.config.personas)[cust.persona[gidx]]
    has_line = probs[:, ::-1].cumsum(axis=1)[:, ::-1]  # P(lines > j) for slot j
    return MEAN_QUANTITY * (has_line * line_price).sum(axis=1)


def keep_share(coupon: np.ndarray, other_pct: np.ndarray) -> np.ndarray:
    """E[1 - discount %]: the order takes the largest of its coupon (if any) and the other offers."""
    return coupon * (1.0 - np.maximum(COUPON_PCT, other_pct) / 100.0) + (1.0 - coupon) * (
        1.0 - other_pct / 100.0
    )


REPLICA_STRIDE = 1 << 34  # replica k of customer id i draws with counter i + k * stride
ROW_CHUNK = 512  # customers per dense (customers x days) block: arrays that stay in the CPU cache
# (the fastest size measured; it also keys the blocks' generators, so it is part of the truth)
ORDER_KEYS = 1024  # > value_horizon_days: an order's counter is replica counter * ORDER_KEYS + day offset
LINE_KEYS = 8  # > MAX_LINES: a line's counter is order counter * LINE_KEYS + slot
VALUE_STREAMS = 1000  # a replica draws from stream VALUE_STREAMS + the process stream it mirrors
N_COUNTS = 7  # the hazard's counters, in this order:
ORDERS, LINES, DISCOUNTED, RECENT, DELIVERIES, LATES, RETURNED_LINES = range(N_COUNTS)
PENDING_COUNTER = {DELIVERED: DELIVERIES, LATE: LATES, RETURNED: RETURNED_LINES, AGED_OUT: RECENT}


@dataclass(frozen=True)
class Horizon:
    """Day tables of one snapshot's horizon (offset d = date - snapshot)."""

    day: int
    factors: np.ndarray  # (countries x days) weekday x season x holiday
    sale_days: np.ndarray  # offsets of sitewide sale days
    sale_pct: np.ndarray  # (days) sitewide discount %, 0 = none
    regional_days: np.ndarray  # offsets with the express shipping uplift
    window: np.ndarray  # offsets of the winback window inside the horizon
    assign_at: int  # offset of a winback assignment still ahead of the snapshot (-1: none)

    @classmethod
    def of(cls, world, day: int) -> Horizon:
        plan, n = world.plan, world.config.value_horizon_days
        days = range(day, day + n)
        sales = [sale_on(plan, t) for t in days]
        offsets = np.arange(n)
        w0 = plan.targeted_day - day
        return cls(
            day=day,
            factors=np.stack([world.demand.factors(t) for t in days], axis=1).astype(np.float32),
            sale_days=np.flatnonzero([s is not None for s in sales]),
            sale_pct=np.array([s.pct if s is not None else 0 for s in sales], dtype=np.int64),
            regional_days=np.flatnonzero([regional_active(plan, t) for t in days]),
            window=offsets[(offsets >= w0) & (offsets < w0 + plan.targeted_window_days)],
            assign_at=w0 if world.targeted is None and 0 <= w0 < n else -1,
        )


def _columns(offsets: np.ndarray) -> slice | np.ndarray:
    """A slice for a run of consecutive days (a view: no gather and scatter of the columns)."""
    if offsets[-1] - offsets[0] == len(offsets) - 1:
        return slice(int(offsets[0]), int(offsets[-1]) + 1)
    return offsets


def order_probabilities(
    world, g: np.ndarray, hz: Horizon, treated: np.ndarray | None, tau, cap: bool = True
) -> np.ndarray:
    """(customers x days) `order_probability` over the horizon, in the same arithmetic order.

    cap=False: before the cap at MAX_ORDER_PROB (for a winback uplift applied later; its product
    then comes last instead of before the regional one). The dense (customers x days) matrices are
    single precision: ample for probabilities summed over
    a year, and half the memory traffic.
    """
    cust = world.customers
    q = cust.activity[g].astype(np.float32)[:, None] * hz.factors[cust.country[g]]
    if len(hz.sale_days):
        q[:, _columns(hz.sale_days)] *= (1.0 + SALE_BOOST * cust.price_sensitivity[g])[:, None]
    if treated is not None and len(hz.window):
        tr = np.flatnonzero(treated)
        q[tr, hz.window[0] : hz.window[-1] + 1] *= (1.0 + tau[tr])[:, None]  # consecutive days
    if len(hz.regional_days):
        uplift_by_row = np.where(IN_REGIONAL_TARGET[cust.country[g]], world.config.regional_uplift, 1.0)
        q[:, _columns(hz.regional_days)] *= uplift_by_row[:, None]
    return np.minimum(q, MAX_ORDER_PROB, out=q) if cap else q


def discounted_sums(
    sq: np.ndarray, coupon: np.ndarray, hz: Horizon, treated: np.ndarray | None
) -> np.ndarray:
    """sum_t sq_t * d_t per row, d_t the expected kept share of the price (coupon, sale, winback offer).

    Every day but the few offer days keeps the coupon-only share, so only those columns are read again.
    """
    plain = keep_share(coupon, np.zeros(len(coupon)))
    total = plain * sq.sum(axis=1, dtype=np.float64)
    window = hz.window if treated is not None else np.zeros(0, dtype=np.int64)
    offer_days = np.union1d(hz.sale_days, window)
    if len(offer_days):
        other = np.broadcast_to(hz.sale_pct[offer_days].astype(np.float64), (len(coupon), len(offer_days)))
        if len(window):
            offered = treated[:, None] & np.isin(offer_days, window)[None, :]
            other = np.where(offered, np.maximum(other, TARGETED_PCT), other)
        share = keep_share(coupon[:, None], other) - plain[:, None]
        total += (sq[:, offer_days] * share).sum(axis=1)
    return total


def return_marginals(world, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(returned) of the 1st and of a later Plackett-Luce pick from the set, and the set's mean score."""
    cust, prefs, products, r = world.customers, world.prefs, world.products, RETURNS
    score = prefs.score[g]
    mean_score = score.mean(axis=1)
    z = (
        r.intercept
        + CATEGORY_RETURN_LOGIT[products.category[prefs.items[g]]]
        - r.score * (score - mean_score[:, None])
        + r.price_sensitivity * (cust.price_sensitivity[g] - 1.0)[:, None]
    )
    p = 1.0 / (1.0 + np.exp(-z))
    w = np.exp(prefs.logw[g])
    first = (w * p).sum(axis=1)
    later = (w * (first[:, None] - w * p) / np.maximum(1.0 - w, 1e-300)).sum(axis=1)
    return first, later, mean_score


@dataclass
class Orders:
    """Replica orders of a block: row, day offset and what feeds the counters."""

    row: np.ndarray
    d: np.ndarray
    completed: np.ndarray
    lines: np.ndarray
    discounted: np.ndarray
    pct: np.ndarray
    late: np.ndarray
    delivery: np.ndarray


def order_details(world, g, ids, hz: Horizon, seed, row, d, treated) -> Orders:
    """The order step's draws that feed revenue and survival (cancel, lines, late, delivery, discount)."""
    cfg, cust = world.config, world.customers
    key = ids[row] * ORDER_KEYS + d
    u = uniforms(seed, VALUE_STREAMS + Stream.ORDER_DETAIL, hz.day, key, slots=5)
    gi = g[row]
    lines = 1 + (line_count_cum(cfg.personas)[cust.persona[gi]] <= u[:, 1, None]).sum(axis=1)
    late = u[:, 2] < LATE_RATE[cust.country[gi]] + late_extra(cfg, hz.day + d)
    delivery = np.where(late, 6 + (u[:, 3] * 7).astype(np.int64), 1 + (u[:, 3] * 5).astype(np.int64))
    pct = np.where(u[:, 4] < COUPON_BASE + COUPON_SLOPE * cust.price_sensitivity[gi], COUPON_PCT, 0)
    pct = np.maximum(pct, hz.sale_pct[d])
    if treated is not None and len(hz.window):
        in_window = treated[row] & (d >= hz.window[0]) & (d <= hz.window[-1])
        pct = np.where(in_window, np.maximum(pct, TARGETED_PCT), pct)
    return Orders(row, d, u[:, 0] >= cfg.cancel_rate, lines, pct > 0, pct, late, delivery)


def returned_lines(world, g, hz: Horizon, seed, key, o: Orders, marginals) -> tuple[np.ndarray, np.ndarray]:
    """(order index, return day offset) of the returned lines of completed orders.

    A line explores a uniformly random product with the customer's exploration rate (its return
    probability then from the true score); otherwise its return probability is the marginal one of
    its Plackett-Luce pick (the 1st, or the 2nd's for every later line).
    """
    cust, products, r = world.customers, world.products, RETURNS
    first, later, mean_score = marginals
    done = np.flatnonzero(o.completed)
    order = np.repeat(done, o.lines[done])
    slot = np.arange(len(order)) - np.repeat(np.cumsum(o.lines[done]) - o.lines[done], o.lines[done])
    ul = uniforms(seed, VALUE_STREAMS + Stream.LINE_DETAIL, hz.day, key[order] * LINE_KEYS + slot, slots=4)
    row = o.row[order]
    p = np.where(slot == 0, first[row], later[row])
    explore = np.flatnonzero(ul[:, 0] < cust.exploration[g[row]])
    if len(explore):
        gi = g[row[explore]]
        product = (ul[explore, 1] * len(products)).astype(np.int64)
        score = pair_scores(
            cust.taste[gi],
            cust.price_sensitivity[gi],
            products.vector[product],
            products.popularity[product],
            products.log_price[product],
        )
        z = (
            r.intercept
            + CATEGORY_RETURN_LOGIT[products.category[product]]
            - r.score * (score - mean_score[row[explore]])
            + r.price_sensitivity * (cust.price_sensitivity[gi] - 1.0)
        )
        p[explore] = 1.0 / (1.0 + np.exp(-z))
    back = ul[:, 2] < p
    earliest = np.maximum(3, o.delivery[order[back]] + 1)
    latest = RETURN_WINDOW_DAYS + 1 - earliest
    return order[back], o.d[order[back]] + earliest + (ul[back, 3] * latest).astype(np.int64)


def _assign_in_replicas(world, g, ids, hz: Horizon, seed, start: dict, o: Orders, line_value):
    """(treated, tau) per row: World._assign_targeted's draw from the replica's history at its day."""
    cust, day = world.customers, hz.day + hz.assign_at
    before = np.flatnonzero(o.completed & (o.d < hz.assign_at))
    n = len(g)
    orders = start["hist_orders"] + np.bincount(o.row[before], minlength=n)
    discounted = start["hist_discounted"] + np.bincount(o.row[before], o.discounted[before], minlength=n)
    last = start["hist_last"].astype(np.int64).copy()
    np.maximum.at(last, o.row[before], hz.day + o.d[before])
    spent = np.round(line_value[o.row[before]] * o.lines[before] * (1.0 - o.pct[before] / 100.0))
    spend = start["hist_spend"] + np.bincount(o.row[before], spent, minlength=n).astype(np.int64)
    eligible = orders > 0
    p = assignment_probability(day - last, spend)
    treated = eligible & (uniforms(seed, VALUE_STREAMS + Stream.ASSIGN, day, ids) < p)
    tau = uplift(age_band(cust.age[g]), deal_seeker(discounted, orders), cust.responsiveness[g])
    return treated, np.where(eligible, tau, 0.0)


def _counter_events(o: Orders, returns: tuple[np.ndarray, np.ndarray], pending, horizon: int):
    """(row, day offset, (N_COUNTS x changes) amounts) of the counter changes inside the horizon.

    A completed order changes four counters the next day, its delivery two: one change each.
    """
    done = np.flatnonzero(o.completed)
    row, d = o.row[done], o.d[done]
    ret_order, ret_day = returns
    p_row, p_d, p_counter = pending
    k, n_ret = len(done), len(ret_order)
    rows = np.concatenate([row, row, row, o.row[ret_order], p_row])
    days = np.concatenate([d + 1, d + 1 + RECENT_WINDOW, d + o.delivery[done], ret_day, p_d])
    amount = np.zeros((N_COUNTS, len(rows)))
    amount[ORDERS, :k] = 1
    amount[LINES, :k] = o.lines[done]
    amount[DISCOUNTED, :k] = o.discounted[done]
    amount[RECENT, :k] = 1
    amount[RECENT, k : 2 * k] = -1  # out of the 180-day window
    amount[DELIVERIES, 2 * k : 3 * k] = 1
    amount[LATES, 2 * k : 3 * k] = o.late[done]
    amount[RETURNED_LINES, 3 * k : 3 * k + n_ret] = 1
    amount[p_counter, 3 * k + n_ret + np.arange(len(p_row))] = np.where(p_counter == RECENT, -1, 1)
    keep = days < horizon
    return rows[keep], days[keep], amount[:, keep]


def _hazard_offsets(world, g, counts: np.ndarray) -> np.ndarray:
    """The hazard's logit without its recency term, from (N_COUNTS x rows) counters."""
    m = CHURN
    return (
        m.intercept
        + world.customers.frailty[g]
        + m.return_share * counts[RETURNED_LINES] / np.maximum(counts[LINES], 1)
        + m.late_share * counts[LATES] / np.maximum(counts[DELIVERIES], 1)
        + m.discount_dependence * counts[DISCOUNTED] / np.maximum(counts[ORDERS], 1)
        - m.recent_orders * np.log1p(counts[RECENT])
    )


def _hazard_odds(world, g, hz: Horizon, start: dict, events, o: Orders, horizon: int) -> np.ndarray:
    """(rows x days) e^z of the daily hazard's logit z along the replica paths.

    Between counter changes z moves only with recency, so the counters are accumulated at the
    (sparse) changes, e^(z without recency) is a step function of the day, and the recency factor
    (1 + days since the last completed order)^recency comes from a table.
    """
    n = len(g)
    rows, days, amount = events
    key = rows * horizon + days
    order = np.argsort(key)  # by row, then day (the order within a day does not matter: sums)
    key, rows = key[order], rows[order]
    counts0 = np.stack([start[k] for k in COUNT_FIELDS]).astype(np.float64)  # (counters x rows)
    running = np.cumsum(amount[:, order], axis=1)
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, np.int64)
    before_row = np.zeros((N_COUNTS, len(first)))
    before_row[:, 1:] = running[:, first[1:] - 1]
    running += np.repeat(counts0[:, rows[first]] - before_row, np.diff(np.r_[first, len(rows)]), axis=1)
    a0 = np.exp(_hazard_offsets(world, g, counts0))
    a = np.exp(_hazard_offsets(world, g[rows], running))
    previous = np.r_[0.0, a[:-1]]
    previous[first] = a0[rows[first]]
    # several changes of a day telescope to the day's last value; day 0 starts from the snapshot's
    step = np.bincount(key, a - previous, minlength=n * horizon).reshape(n, horizon)
    step[:, 0] += a0
    odds = np.cumsum(step, axis=1, dtype=np.float32)
    # recency: days since the last completed order (or signup), the replica's orders included
    last = np.full((n, horizon + 1), np.iinfo(np.int32).min, dtype=np.int32)  # offsets: day - snapshot
    last0 = start["last_completed"].astype(np.int64)
    last[:, 0] = np.where(last0 >= 0, last0, world.customers.signup[g]) - hz.day
    done = o.completed
    last[o.row[done], o.d[done] + 1] = o.d[done]
    np.maximum.accumulate(last, axis=1, out=last)
    gap = np.subtract(np.arange(horizon, dtype=np.int32)[None, :], last[:, :horizon])
    odds *= np.take(_recency_factor(int(gap.max()) + 1), gap)
    return odds


COUNT_FIELDS = ("n_orders", "n_lines", "n_discounted", "orders180", "n_delivered", "n_late", "n_returned")


@cache
def _recency_factor_table(size: int) -> np.ndarray:
    return np.exp(CHURN.recency * np.log1p(np.arange(size, dtype=np.float64))).astype(np.float32)


def _recency_factor(size: int) -> np.ndarray:
    """(1 + gap)^recency for gaps 0..size-1 at least (sizes rounded up to powers of two)."""
    return _recency_factor_table(1 << max(int(size - 1).bit_length(), 10))


def _block_rates(world, hz: Horizon, seed: int, g, ids, start: dict, pending, coupon, line_value, marginals):
    """sum_t S_t * q_t * d_t for one block of replica rows (see the module docstring)."""
    horizon = world.config.value_horizon_days
    if hz.assign_at < 0 and world.targeted is not None and len(hz.window):
        treated, tau = world.targeted.flags(g, REALISED)
    else:
        treated, tau = None, None
    # the block's (rows x days) order draws: a generator keyed by the snapshot and the block's first
    # row (a few times cheaper than counter-based draws, which only the sparse draws below use)
    u = np.random.default_rng([seed, int(ids[0])]).random((len(ids), horizon), dtype=np.float32)
    if hz.assign_at < 0:
        q = order_probabilities(world, g, hz, treated, tau)
    else:  # the winback assignment, from the replica's history up to its day, then its uplift
        uncapped = order_probabilities(world, g, hz, None, None, cap=False)
        q = np.minimum(uncapped, MAX_ORDER_PROB)
        row, d = np.nonzero(u[:, : hz.assign_at] < q[:, : hz.assign_at])
        early = order_details(world, g, ids, hz, seed, row, d, None)
        treated, tau = _assign_in_replicas(world, g, ids, hz, seed, start, early, line_value)
        tr, window = np.flatnonzero(treated), slice(hz.window[0], hz.window[-1] + 1)
        q[tr, window] = np.minimum(uncapped[tr, window] * (1.0 + tau[tr])[:, None], MAX_ORDER_PROB)
    row, d = np.nonzero(u < q)
    o = order_details(world, g, ids, hz, seed, row, d, treated)
    returns = returned_lines(world, g, hz, seed, ids[row] * ORDER_KEYS + d, o, marginals)
    events = _counter_events(o, returns, pending, horizon)
    # survival S_t = prod_{s <= t} (1 - sigmoid(z_s)) = exp(-sum_{s <= t} log(1 + e^{z_s})), in place
    x = _hazard_odds(world, g, hz, start, events, o, horizon)
    np.log1p(x, out=x)
    np.cumsum(x, axis=1, out=x)
    np.negative(x, out=x)
    np.exp(x, out=x)
    return discounted_sums(np.multiply(x, q, out=x), coupon, hz, treated)


def survival_weighted_rates(
    world, rows: np.ndarray, day: int, coupon: np.ndarray, line_value: np.ndarray, returns: np.ndarray
) -> np.ndarray:
    """(replicas x customers) sum_t S_t * q_t * d_t along immortal replica paths of the process.

    returns: (customers x 3) the `return_marginals` of the rows.

    Each block of customers is simulated over the whole horizon at once: a replica's order draws do
    not depend on its path (only its winback assignment does), so its orders, their details and the
    counter changes they cause are drawn first, and the hazard and survival follow as matrices.
    """
    cfg, c = world.config, world.main.cols
    copies, n = cfg.value_replications, len(rows)
    hz = Horizon.of(world, day)
    seed = stream_key(cfg.seed, Stream.VALUE, day)
    position = np.full(len(c), -1, dtype=np.int64)
    position[rows] = np.arange(n)
    due = world.main.pending.to_arrays()
    inside = (position[due["row"]] >= 0) & (due["day"] < day + cfg.value_horizon_days)
    p_pos, p_d = position[due["row"][inside]], due["day"][inside] - day
    p_counter = np.array([PENDING_COUNTER[f] for f in range(4)])[due["field"][inside]]
    by_pos = np.argsort(p_pos, kind="stable")
    p_pos, p_d, p_counter = p_pos[by_pos], p_d[by_pos], p_counter[by_pos]
    out = np.zeros((copies, n))
    fields = COUNT_FIELDS + ("last_completed", "hist_orders", "hist_discounted", "hist_last", "hist_spend")
    for lo in range(0, n, ROW_CHUNK):
        hi = min(lo + ROW_CHUNK, n)
        size = hi - lo
        base = rows[lo:hi]
        g = np.tile(c.gidx[base], copies)
        ids = g + 1 + np.repeat(np.arange(copies), size) * REPLICA_STRIDE
        start = {k: np.tile(getattr(c, k)[base], copies) for k in fields}
        a, b = np.searchsorted(p_pos, [lo, hi])
        local = p_pos[a:b] - lo
        pending = (
            (local[None, :] + size * np.arange(copies)[:, None]).ravel(),
            np.tile(p_d[a:b], copies),
            np.tile(p_counter[a:b], copies),
        )
        marginals = tuple(np.tile(m, copies) for m in returns[lo:hi].T)
        rates = _block_rates(
            world,
            hz,
            seed,
            g,
            ids,
            start,
            pending,
            np.tile(coupon[lo:hi], copies),
            np.tile(line_value[lo:hi], copies),
            marginals,
        )
        out[:, lo:hi] = rates.reshape(copies, size)
    return out


def expected_values(world, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer_id, expected completed revenue in dollars over the horizon) at the start of `day`."""
    cfg, cust = world.config, world.customers
    c = world.main.cols
    existing = np.flatnonzero(cust.signup[c.gidx] < day)
    value = np.zeros(len(existing))
    alive = existing[c.alive[existing]]
    if len(alive):
        g = c.gidx[alive]
        coupon = np.minimum(COUPON_BASE + COUPON_SLOPE * cust.price_sensitivity[g], 1.0)
        cache = getattr(world, "set_cache", None)
        summary = cache.of(world, g) if cache is not None else set_summaries(world, g)
        value_cents = order_value(world, g, summary[:, :3])
        line_value = (
            value_cents / (line_count_probs(cfg.personas) @ np.arange(1, MAX_LINES + 1))[cust.persona[g]]
        )
        rate = survival_weighted_rates(world, alive, day, coupon, line_value, summary[:, 3:]).mean(axis=0)
        per_order = (1.0 - cfg.cancel_rate) * value_cents / 100.0
        value[c.alive[existing]] = per_order * rate
    return c.gidx[existing] + 1, value
