"""Turning one day of realised decisions into rows: order lines, web sessions, returns and reviews.

Nothing here feeds back into behaviour except the spend counter (a covariate of the targeted
assignment), so it uses ordinary per-day generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ecomm.datagen.catalog import CATEGORY_NAMES
from ecomm.datagen.columns import Agenda
from ecomm.datagen.process import NO_CAMPAIGN, Decisions
from ecomm.datagen.randomness import Stream, day_rng
from ecomm.datagen.writer import dates, ints, labels, money, timestamps
from ecomm.entities import EVENT_TYPES, ORDER_STATUSES

VIEW, CART, PURCHASE = 0, 1, 2
# Sessions start mostly in the evening.
# fmt: off
HOUR_WEIGHTS = np.array([1.2, 0.7, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3.2, 3.6, 3.8,
                         4.2, 4.0, 3.6, 3.5, 3.7, 4.2, 5.0, 5.8, 6.2, 5.6, 4.0, 2.2])
# Daytime shoppers (a persona's share of sessions) browse from mid-morning to late afternoon.
DAYTIME_WEIGHTS = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 4.5, 5.5, 6.0,
                            6.5, 6.0, 5.5, 5.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3])
# fmt: on
HOUR_CUM = np.cumsum(HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
DAYTIME_CUM = np.cumsum(DAYTIME_WEIGHTS / DAYTIME_WEIGHTS.sum())
QUANTITY_PROBS = np.array([0.78, 0.16, 0.06])
PRICE_JITTER = 0.03  # unit price = list price x (1 + N(0, 3%)), within +-8%
EXTRA_VIEW_RATE = 0.5  # ordering sessions that also view one more product
CHURNED_BROWSE_RATE = 0.002  # a churned customer still drops by, rarely
BROWSE_STOP = 0.45  # views per browsing session ~ geometric(BROWSE_STOP), at most 8
BROWSE_CART_RATE = 0.1  # a viewed product is added to a cart (then abandoned)
LANDING_RATE = 0.3  # browsing sessions that start on a page with no product
REVIEW_RATE = 0.12

RETURN_REASONS = ("wrong_size", "damaged", "defective", "not_as_described", "changed_mind", "arrived_late")
# reason probabilities (last column: arrived_late is added for late deliveries) by category group
_REASONS_FASHION = np.array([0.55, 0.05, 0.05, 0.20, 0.15])
_REASONS_ELECTRONICS = np.array([0.0, 0.15, 0.35, 0.25, 0.25])
_REASONS_OTHER = np.array([0.0, 0.25, 0.10, 0.35, 0.30])

RETURN_DTYPES = {"order_id": np.int64, "line_no": np.int16, "reason": np.int8}
REVIEW_DTYPES = {"customer_id": np.int64, "product_id": np.int64, "order_id": np.int64, "rating": np.int8}


@dataclass
class Ids:
    """Next free id of each key generated while rendering (kept in the world state)."""

    order: int = 1
    session: int = 1
    event: int = 1
    review: int = 1


def _session_events(
    order_products: list[np.ndarray],
    order_pos: list[np.ndarray],
    order_types: list[np.ndarray],
    order_session: list[np.ndarray],
) -> tuple[np.ndarray, ...]:
    session = np.concatenate(order_session)
    pos = np.concatenate(order_pos)
    sort = np.lexsort((pos, session))
    return (session[sort], pos[sort], np.concatenate(order_products)[sort], np.concatenate(order_types)[sort])


def render_day(world, dec: Decisions, day: int) -> dict[str, pa.Table]:
    """order_items, web_events, returns and reviews of `day`; schedules future returns/reviews."""
    seed, cust, products, prefs = world.config.seed, world.customers, world.products, world.prefs
    rng = day_rng(seed, Stream.EVENTS, day)
    n_orders = len(dec.rows)
    n_lines = np.bincount(dec.line_order, minlength=n_orders)
    m = prefs.items.shape[1]

    # ---- browsing sessions: alive customers at about their order rate, churned ones rarely
    c = world.main.cols
    existing = np.flatnonzero(cust.signup <= day)
    base_rate = cust.activity[existing] * world.demand.factors(day)[cust.country[existing]]
    # browsing sessions of an alive customer per expected order: a persona's session habit
    rate = np.where(c.alive[existing], cust.browse_ratio[existing] * base_rate, CHURNED_BROWSE_RATE)
    browsers = existing[rng.random(len(existing)) < rate]
    n_browse = len(browsers)

    # ---- events of ordering sessions (session s = order index)
    extra = rng.random(n_orders) < EXTRA_VIEW_RATE
    line_pos = 2 * (dec.line_no.astype(np.int64) - 1)
    first_purchase = 2 * n_lines + extra  # per order
    extra_orders = np.flatnonzero(extra)
    extra_product = prefs.items[dec.gidx[extra_orders], rng.integers(0, m, len(extra_orders))]
    # ---- events of browsing sessions (session s = n_orders + browser index)
    n_views = np.minimum(rng.geometric(BROWSE_STOP, n_browse), 8)
    view_session = np.repeat(np.arange(n_browse), n_views)
    view_no = np.arange(len(view_session)) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    view_g = browsers[view_session]
    cum_w = np.cumsum(np.exp(prefs.logw[view_g]), axis=1)
    slot = np.minimum((cum_w < rng.random(len(view_g))[:, None] * cum_w[:, -1:]).sum(axis=1), m - 1)
    view_product = prefs.items[view_g, slot].astype(np.int64)
    explore = rng.random(len(view_g)) < cust.exploration[view_g]
    view_product[explore] = rng.integers(0, len(products), explore.sum())
    carted = rng.random(len(view_g)) < BROWSE_CART_RATE
    landing = np.flatnonzero(rng.random(n_browse) < LANDING_RATE)

    session, pos, product, etype = _session_events(
        [
            dec.line_product,
            dec.line_product,
            extra_product,
            dec.line_product,
            view_product,
            view_product[carted],
            np.full(len(landing), -1),
        ],
        [
            line_pos,
            line_pos + 1,
            2 * n_lines[extra_orders],
            first_purchase[dec.line_order] + dec.line_no - 1,
            2 * view_no,
            2 * view_no[carted] + 1,
            np.full(len(landing), -1),
        ],
        [
            np.full(len(dec.line_product), VIEW),
            np.full(len(dec.line_product), CART),
            np.full(len(extra_orders), VIEW),
            np.full(len(dec.line_product), PURCHASE),
            np.full(len(view_product), VIEW),
            np.full(carted.sum(), CART),
            np.full(len(landing), VIEW),
        ],
        [
            dec.line_order,
            dec.line_order,
            extra_orders,
            dec.line_order,
            n_orders + view_session,
            n_orders + view_session[carted],
            n_orders + landing,
        ],
    )
    n_sessions = n_orders + n_browse
    session_g = np.concatenate([dec.gidx, browsers])

    # ---- timing: a start second, then 8..120 s between events, all within the day
    gap = rng.integers(8, 121, len(session))
    counts = np.bincount(session, minlength=n_sessions)
    first = np.cumsum(counts) - counts
    gap[first] = 0
    elapsed = np.cumsum(gap)
    elapsed -= np.repeat(elapsed[first], counts)
    duration = np.zeros(n_sessions, dtype=np.int64)
    duration[counts > 0] = np.maximum.reduceat(elapsed, first[counts > 0]) if len(elapsed) else 0
    u_hour = rng.random(n_sessions)
    daytime = rng.random(n_sessions) < cust.daytime_share[session_g]
    hour = np.where(
        daytime,
        np.searchsorted(DAYTIME_CUM, u_hour, side="right"),
        np.searchsorted(HOUR_CUM, u_hour, side="right"),
    )
    start = np.minimum(hour * 3600 + rng.integers(0, 3600, n_sessions), 86399 - duration)
    event_sec = start[session] + elapsed
    order_sec = start[:n_orders] + duration[:n_orders]  # the order is placed at its last purchase event

    # ---- ids: sessions by start time, events in session order, orders by order time
    session_rank = np.empty(n_sessions, dtype=np.int64)
    session_rank[np.lexsort((np.arange(n_sessions), start))] = np.arange(n_sessions)
    event_order = np.lexsort((pos, session_rank[session]))
    ids = world.ids
    web_events = pa.table(
        {
            "event_id": ints(ids.event + np.arange(len(session))),
            "session_id": ints(ids.session + session_rank[session][event_order]),
            "customer_id": ints(session_g[session][event_order] + 1),
            "product_id": ints(product[event_order] + 1, mask=product[event_order] < 0),
            "event_type": labels(EVENT_TYPES, etype[event_order]),
            "event_ts": timestamps(np.full(len(session), day), event_sec[event_order]),
        }
    )
    ids.event += len(session)
    ids.session += n_sessions

    order_rank = np.empty(n_orders, dtype=np.int64)
    order_rank[np.lexsort((dec.gidx, order_sec))] = np.arange(n_orders)
    order_id = ids.order + order_rank
    ids.order += n_orders
    order_items, line_revenue = _order_lines(world, dec, day, order_id, order_sec)
    _schedule_returns_and_reviews(world, dec, day, order_id)
    # spend counter: completed revenue in the history (a covariate of the targeted assignment)
    done = ~dec.cancelled
    spend = np.bincount(dec.line_order, weights=line_revenue, minlength=n_orders).astype(np.int64)
    c.hist_spend[dec.rows[done]] += spend[done]

    return {
        "order_items": order_items,
        "web_events": web_events,
        "returns": _due_returns(world, day),
        "reviews": _due_reviews(world, day),
    }


def _order_lines(
    world, dec: Decisions, day: int, order_id: np.ndarray, order_sec: np.ndarray
) -> tuple[pa.Table, np.ndarray]:
    rng = day_rng(world.config.seed, Stream.ORDERS, day)
    products = world.products
    o = dec.line_order
    n = len(o)
    quantity = 1 + np.searchsorted(np.cumsum(QUANTITY_PROBS)[:-1], rng.random(n), side="right")
    jitter = np.clip(rng.normal(0.0, PRICE_JITTER, n), -0.08, 0.08)
    unit_price = np.round(products.list_cents[dec.line_product] * (1.0 + jitter)).astype(np.int64)
    gross = quantity * unit_price
    discount = np.round(gross * dec.discount_pct[o] / 100.0).astype(np.int64)
    revenue = gross - discount
    sort = np.lexsort((dec.line_no, order_id[o]))
    cancelled = dec.cancelled[o][sort]
    table = pa.table(
        {
            "order_id": ints(order_id[o][sort]),
            "line_no": ints(dec.line_no[sort]),
            "order_ts": timestamps(np.full(n, day), order_sec[o][sort]),
            "customer_id": ints(dec.gidx[o][sort] + 1),
            "product_id": ints(dec.line_product[sort] + 1),
            "campaign_id": ints(dec.campaign_id[o][sort], mask=dec.campaign_id[o][sort] == NO_CAMPAIGN),
            "quantity": ints(quantity[sort]),
            "unit_price": money(unit_price[sort]),
            "discount": money(discount[sort]),
            "revenue": money(revenue[sort]),
            "unit_cost": money(products.cost_cents[dec.line_product][sort]),
            "status": labels(ORDER_STATUSES, cancelled.astype(np.int64)),
            "delivery_days": ints(dec.delivery_days[o][sort], mask=cancelled),
        }
    )
    return table, np.where(dec.cancelled[o], 0, revenue)


def _schedule_returns_and_reviews(world, dec: Decisions, day: int, order_id: np.ndarray) -> None:
    rng = day_rng(world.config.seed, Stream.REVIEWS, day)
    o = dec.line_order
    category = world.products.category[dec.line_product]
    ret = np.flatnonzero(dec.line_returned)
    probs = np.where(
        (category[ret] == CATEGORY_NAMES.index("Fashion"))[:, None],
        _REASONS_FASHION,
        np.where(
            (category[ret] == CATEGORY_NAMES.index("Electronics"))[:, None],
            _REASONS_ELECTRONICS,
            _REASONS_OTHER,
        ),
    )
    reason = (np.cumsum(probs, axis=1) < rng.random(len(ret))[:, None]).sum(axis=1)
    reason = np.minimum(reason, len(RETURN_REASONS) - 2)
    reason[dec.late[o[ret]] & (rng.random(len(ret)) < 0.5)] = RETURN_REASONS.index("arrived_late")
    world.returns_due.add(
        dec.line_return_day[ret], order_id=order_id[o[ret]], line_no=dec.line_no[ret], reason=reason
    )

    completed = ~dec.cancelled[o]
    rel = dec.line_relative
    p_review = REVIEW_RATE * (1.0 + 0.5 * np.minimum(np.abs(rel), 2.0) + 1.0 * dec.line_returned)
    rev = np.flatnonzero(completed & (rng.random(len(o)) < p_review))
    rating = np.clip(
        np.round(
            4.1
            + 0.8 * rel[rev]
            - 1.2 * dec.late[o[rev]]
            - 1.2 * dec.line_returned[rev]
            + rng.normal(0.0, 0.7, len(rev))
        ),
        1,
        5,
    )
    review_day = day + dec.delivery_days[o[rev]] + 1 + rng.integers(0, 14, len(rev))
    world.reviews_due.add(
        review_day,
        customer_id=dec.gidx[o[rev]] + 1,
        product_id=dec.line_product[rev] + 1,
        order_id=order_id[o[rev]],
        rating=rating,
    )


def _due_returns(world, day: int) -> pa.Table:
    due = world.returns_due.pop(day)
    sort = np.lexsort((due["line_no"], due["order_id"]))
    return pa.table(
        {
            "order_id": ints(due["order_id"][sort]),
            "line_no": ints(due["line_no"][sort]),
            "return_date": dates(np.full(len(sort), day)),
            "reason": labels(RETURN_REASONS, due["reason"][sort]),
        }
    )


def _due_reviews(world, day: int) -> pa.Table:
    due = world.reviews_due.pop(day)
    sort = np.lexsort((due["product_id"], due["order_id"]))
    n = len(sort)
    table = pa.table(
        {
            "review_id": ints(world.ids.review + np.arange(n)),
            "customer_id": ints(due["customer_id"][sort]),
            "product_id": ints(due["product_id"][sort]),
            "order_id": ints(due["order_id"][sort]),
            "rating": ints(due["rating"][sort]),
            "review_date": dates(np.full(n, day)),
        }
    )
    world.ids.review += n
    return table


def agendas() -> tuple[Agenda, Agenda]:
    return Agenda(RETURN_DTYPES), Agenda(REVIEW_DTYPES)
