"""Planted drift (issue 19): what each kind of regime change does from its start date.

* young_deal_channel - a new acquisition channel (a social-commerce partnership) brings extra
  signups each day: `magnitude` x the usual signup rate, aged 18 + Gamma(3, 2.5) (mean 25.5 instead
  of 40.5) and deal-seeking (personas drawn in proportion to share x price sensitivity squared:
  mostly bargain hunters). The raw contract's channel list is fixed, so they arrive as `social`.
* category_price_rise - the list prices of one category rise by `magnitude` (products in the
  catalog on the start date and those launched later); every consideration set holding one of them
  is re-scored with the new prices, so the demand response is the simulator's own price term
  (PRICE_COEF x price sensitivity x log(1 + magnitude) off each choice's score).
* delivery_delay - the probability that a delivery is late rises by `magnitude` (capped at 1) for
  orders placed while it lasts; late deliveries raise the churn hazard as they always do.

Days before the start draw exactly what a world without the regime draws.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from ecomm.datagen.calendar import annual_factor
from ecomm.datagen.catalog import CATEGORY_NAMES
from ecomm.datagen.columns import Columns
from ecomm.datagen.config import REGIME_MAGNITUDE, GeneratorConfig, RegimeChange
from ecomm.datagen.customers import draw_customers
from ecomm.datagen.preferences import log_weights, pair_scores
from ecomm.datagen.randomness import Stream, day_rng
from ecomm.datagen.writer import dates, ints
from ecomm.entities import ACQUISITION_CHANNELS

YOUNG_CHANNEL = ACQUISITION_CHANNELS.index("social")
YOUNG_AGE_SCALE = 2.5  # Gamma(3, scale) years above 18; the population's scale is 7.5


def active(config: GeneratorConfig, kind: str, day: int) -> list[RegimeChange]:
    return [r for r in config.regimes if r.kind == kind and r.active(day)]


def young_signups(world, day: int) -> Columns | None:
    """The day's customers brought by the young deal-seeking channel (None when it is not active)."""
    regimes = active(world.config, "young_deal_channel", day)
    if not regimes:
        return None
    cfg = world.config
    rng = day_rng(cfg.seed, Stream.REGIME_SIGNUPS, day)
    rate = (
        world.plan.signups_per_day * annual_factor(date.fromordinal(day)) * sum(r.magnitude for r in regimes)
    )
    n = int(rng.poisson(rate))
    if n == 0:
        return None
    shares = np.array([p.share * p.price_sensitivity**2 for p in cfg.personas])
    return draw_customers(
        rng,
        np.full(n, day),
        cfg.median_days_between_orders,
        world.model,
        cfg.personas,
        cfg.exploration,
        persona_shares=shares / shares.sum(),
        age_scale=YOUNG_AGE_SCALE,
        channel=YOUNG_CHANNEL,
    )


def price_factor(config: GeneratorConfig, category: np.ndarray, day: int) -> np.ndarray:
    """List-price multiplier per product (by category) for products priced on `day`."""
    factor = np.ones(len(category))
    for r in active(config, "category_price_rise", day):
        factor[category == CATEGORY_NAMES.index(r.category)] *= 1.0 + r.magnitude
    return factor


def raised_cents(cents: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Prices times the factor, kept on $x.99 price points (unchanged where the factor is 1)."""
    raised = np.maximum(np.round((cents + 1) * factor / 100.0) * 100 - 1, 99).astype(np.int64)
    return np.where(factor == 1.0, cents, raised)


def raise_launch_prices(config: GeneratorConfig, attrs: dict, day: int) -> None:
    """Products launched on `day` while a price rise is active are priced at the new level."""
    factor = price_factor(config, attrs["category"], day)
    if (factor != 1.0).any():
        attrs["list_cents"] = raised_cents(attrs["list_cents"], factor)
        attrs["log_price"] = np.log(attrs["list_cents"] / 100.0)


def start_price_rises(world, day: int) -> None:
    """On a price rise's start date: raise the catalog's prices and re-score the sets that hold them."""
    starting = [
        r for r in world.config.regimes if r.kind == "category_price_rise" and r.start.toordinal() == day
    ]
    if not starting:
        return
    products = world.products
    factor = np.ones(len(products))
    for r in starting:
        factor[products.category == CATEGORY_NAMES.index(r.category)] *= 1.0 + r.magnitude
    products.list_cents[:] = raised_cents(products.list_cents, factor)
    products.log_price[:] = np.log(products.list_cents / 100.0)
    rescore(world, np.flatnonzero(factor != 1.0))


def rescore(world, changed: np.ndarray) -> None:
    """Recompute the scores (and choice weights) of every consideration set holding a changed product;
    the sets keep their members, re-sorted best first."""
    prefs, cust, products = world.prefs, world.customers, world.products
    rows = np.flatnonzero(np.isin(prefs.items, changed).any(axis=1))
    if len(rows) == 0:
        return
    items = prefs.items[rows].astype(np.int64)
    m = items.shape[1]
    g = np.repeat(rows, m)
    score = pair_scores(
        cust.taste[g],
        cust.price_sensitivity[g],
        products.vector[items.reshape(-1)],
        products.popularity[items.reshape(-1)],
        products.log_price[items.reshape(-1)],
    ).reshape(len(rows), m)
    order = np.argsort(-score, axis=1, kind="stable")
    prefs.items[rows] = np.take_along_axis(prefs.items[rows], order, axis=1)
    prefs.score[rows] = np.take_along_axis(score, order, axis=1)
    prefs.logw[rows] = log_weights(prefs.score[rows])


def late_extra(config: GeneratorConfig, day):
    """Added probability of a late delivery for orders placed on `day` (an ordinal or an array of
    them); exactly 0.0 without a delay spell, so the default world's comparisons are unchanged."""
    extra = 0.0
    for r in config.regimes:
        if r.kind == "delivery_delay":
            end = r.end.toordinal() if r.end else np.iinfo(np.int64).max
            extra = extra + r.magnitude * ((day >= r.start.toordinal()) & (day <= end))
    return extra


def regime_table(regimes: tuple[RegimeChange, ...]) -> pa.Table:
    """truth/regime_change.csv: one row per planted regime change."""
    return pa.table(
        {
            "regime_id": ints(np.arange(1, len(regimes) + 1)),
            "kind": pa.array([r.kind for r in regimes], pa.string()),
            "start_date": dates(np.array([r.start.toordinal() for r in regimes], dtype=np.int64)),
            "end_date": dates(
                np.array([(r.end or r.start).toordinal() for r in regimes], dtype=np.int64),
                mask=np.array([r.end is None for r in regimes], dtype=bool),
            ),
            "magnitude": pa.array([r.magnitude for r in regimes], pa.float64()),
            "category": pa.array([r.category for r in regimes], pa.string()),
            "description": pa.array([REGIME_MAGNITUDE[r.kind][0] for r in regimes], pa.string()),
        }
    )
