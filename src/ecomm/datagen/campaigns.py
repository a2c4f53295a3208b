"""Campaigns: the schedule, the targeted campaign's (confounded) assignment and heterogeneous effect.

* winback e-mail (targeted, id 1): eligible = customers with >= 1 completed order in the history
  before the exposure date (alive or not; the shop cannot tell). Assignment favours long recency
  and high past spend, so a naive treated-vs-control comparison is biased. Effect: order
  probability x (1 + tau_i) for `targeted_window_days` days, plus a 15% discount on those orders.
* express shipping (regional, id 2): from its launch, order probability x `regional_uplift` for
  customers in REGIONAL_TARGETS; >= 8 weeks of pre-period by construction of the plan.
* Black Friday (sitewide, ids 3, 4, ... one per year): Friday to Monday, 20% off everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from ecomm.datagen.calendar import black_friday
from ecomm.datagen.config import Plan
from ecomm.datagen.pools import REGIONAL_TARGETS

TARGETED_ID, REGIONAL_ID, FIRST_SALE_ID = 1, 2, 3
TARGETED_PCT, SALE_PCT, COUPON_PCT = 15, 20, 10
SALE_DAYS = 4  # Black Friday .. Cyber Monday
SALE_BOOST = 0.5  # sale-day order probability x (1 + SALE_BOOST * price_sensitivity)


@dataclass(frozen=True)
class Arm:
    """Which world a customer process runs in: as realised, or a campaign forced on / off."""

    targeted: str = "realised"  # realised | on (every eligible customer treated) | off (nobody)
    regional: bool = True  # express shipping uplift in the target countries


REALISED = Arm()


@dataclass(frozen=True)
class CampaignInfo:
    campaign_id: int
    name: str
    channel: str
    campaign_type: str
    offer: str
    discount_pct: int
    target_countries: str | None
    start: int  # ordinals
    end: int
    announce: int


def targeted_campaign(plan: Plan) -> CampaignInfo:
    day = plan.targeted_day
    return CampaignInfo(
        TARGETED_ID,
        f"winback_email_{date.fromordinal(day).isoformat()}",
        "email",
        "targeted",
        f"{TARGETED_PCT}% off your next order",
        TARGETED_PCT,
        None,
        day,
        day + plan.targeted_window_days - 1,
        day,
    )


def regional_campaign(plan: Plan) -> CampaignInfo:
    return CampaignInfo(
        REGIONAL_ID,
        "express_shipping_pilot",
        "onsite",
        "regional",
        "free express shipping",
        0,
        ";".join(REGIONAL_TARGETS),
        plan.regional_day,
        plan.regional_end_day,
        plan.regional_announce_day,
    )


def _first_sale_year(plan: Plan) -> int:
    start = date.fromordinal(plan.start)
    return start.year if black_friday(start.year).toordinal() >= plan.start else start.year + 1


def sale_campaign(plan: Plan, year: int) -> CampaignInfo | None:
    """Black Friday of `year`, if it falls in the generated world (earlier ones only shape demand)."""
    first_year = _first_sale_year(plan)
    if year < first_year:
        return None
    start = black_friday(year).toordinal()
    return CampaignInfo(
        FIRST_SALE_ID + year - first_year,
        f"black_friday_{year}",
        "multichannel",
        "sitewide",
        f"{SALE_PCT}% off everything",
        SALE_PCT,
        None,
        start,
        start + SALE_DAYS - 1,
        max(start - 7, plan.start),
    )


def announced_on(plan: Plan, day: int) -> list[CampaignInfo]:
    out = []
    if day == plan.targeted_day:
        out.append(targeted_campaign(plan))
    if day == plan.regional_announce_day:
        out.append(regional_campaign(plan))
    for year in (date.fromordinal(day).year, date.fromordinal(day).year + 1):
        sale = sale_campaign(plan, year)
        if sale is not None and sale.announce == day:
            out.append(sale)
    return sorted(out, key=lambda c: c.campaign_id)


@dataclass(frozen=True)
class Sale:
    campaign_id: int | None  # None before the history (demand still peaks, no campaign row exists)
    pct: int


def sale_on(plan: Plan, day: int) -> Sale | None:
    year = date.fromordinal(day).year
    start = black_friday(year).toordinal()
    if not start <= day < start + SALE_DAYS:
        return None
    info = sale_campaign(plan, year)
    return Sale(info.campaign_id if info is not None else None, SALE_PCT)


def regional_active(plan: Plan, day: int) -> bool:
    return plan.regional_day <= day <= plan.regional_end_day


# ----------------------------------------------------------------- targeted assignment and effect
@dataclass(frozen=True)
class AssignmentModel:
    """P(treated | eligible) = sigmoid(intercept + recency * z_recency + spend * z_spend)."""

    intercept: float = -0.2
    recency: float = 2.2  # per unit of log1p(days since last completed order) above log1p(30)
    spend: float = 0.3  # per unit of log1p(completed revenue in the history, dollars) above log1p(150)
    recency_center: float = float(np.log1p(30.0))
    spend_center: float = float(np.log1p(150.0))


ASSIGNMENT = AssignmentModel()
AGE_BANDS = (("age_18_34", 18, 34, 0.8), ("age_35_54", 35, 54, 0.5), ("age_55_plus", 55, 200, 0.3))
DEAL_SEEKER_SHARE = 0.25  # share of completed orders with a discount, at or above = deal seeker
DEAL_SEGMENTS = (("full_price", 0.8), ("deal_seeker", 1.3))


def assignment_probability(recency_days: np.ndarray, spend_cents: np.ndarray) -> np.ndarray:
    a = ASSIGNMENT
    z = (
        a.intercept
        + a.recency * (np.log1p(recency_days) - a.recency_center)
        + a.spend * (np.log1p(spend_cents / 100.0) - a.spend_center)
    )
    return 1.0 / (1.0 + np.exp(-z))


def age_band(age: np.ndarray) -> np.ndarray:
    return np.searchsorted([lo for _, lo, _, _ in AGE_BANDS[1:]], age, side="right").astype(np.int8)


def deal_seeker(hist_discounted: np.ndarray, hist_orders: np.ndarray) -> np.ndarray:
    return hist_discounted >= DEAL_SEEKER_SHARE * np.maximum(hist_orders, 1)


def uplift(band: np.ndarray, seeker: np.ndarray, responsiveness: np.ndarray) -> np.ndarray:
    """tau_i: by age band and deal seeking (observable), times the latent responsiveness (mean 1)."""
    by_age = np.array([t for *_, t in AGE_BANDS])[band]
    by_deal = np.array([m for _, m in DEAL_SEGMENTS])[seeker.astype(np.int64)]
    return by_age * by_deal * responsiveness


@dataclass
class TargetedState:
    """The winback campaign after assignment; arrays are over eligible customers (`members`)."""

    members: np.ndarray  # global customer index, sorted
    treated: np.ndarray
    tau: np.ndarray
    band: np.ndarray
    seeker: np.ndarray
    p_assign: np.ndarray
    n_at_exposure: int
    outcome_realised: np.ndarray  # completed orders in the window, as realised
    outcome_on: np.ndarray  # ... if every eligible customer had been treated
    outcome_off: np.ndarray  # ... if nobody had been
    arm_on: object | None = None  # ProcessState while the window is open
    arm_off: object | None = None

    def flags(self, gidx: np.ndarray, arm: Arm) -> tuple[np.ndarray, np.ndarray]:
        """(treated in this arm, tau) for customers gidx (non-members: untreated)."""
        if len(self.members) == 0:
            return np.zeros(len(gidx), dtype=bool), np.zeros(len(gidx))
        pos = np.minimum(np.searchsorted(self.members, gidx), len(self.members) - 1)
        member = self.members[pos] == gidx
        if arm.targeted == "on":
            treated = member
        elif arm.targeted == "off":
            treated = np.zeros(len(gidx), dtype=bool)
        else:
            treated = member & self.treated[pos]
        return treated, np.where(member, self.tau[pos], 0.0)


@dataclass
class RegionalState:
    """Express shipping after launch: everyone existing at launch, and the no-launch arm."""

    members: np.ndarray  # global customer index of customers existing at launch
    treated: np.ndarray  # in a target country
    outcome_realised: np.ndarray  # completed orders from launch on
    outcome_off: np.ndarray  # ... without the launch (treated members only, in members order)
    arm_off: object | None = None
