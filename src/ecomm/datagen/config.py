"""What the user asks the generator for (`GeneratorConfig`) and the world plan derived from it.

The plan (initial base size, signup and launch rates, campaign dates) is laid out over `plan_days`
from the history start and stored with the world, so continuing day by day keeps the same plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from ecomm.datagen.catalog import CATEGORY_NAMES


class GeneratorError(ValueError):
    """Bad generator input (config, output directory, missing state); the message says what to fix."""


def _yesterday() -> date:
    return date.today() - timedelta(days=1)


@dataclass(frozen=True)
class Persona:
    """A kind of customer, drawn at signup: it sets the distribution of the latent traits.

    Multipliers apply to the population-wide draws in `customers.draw_customers` (activity and price
    sensitivity stay lognormal around persona-scaled medians, so personas overlap); weights are
    relative (normalised when drawn), in the order of ACQUISITION_CHANNELS / catalog CATEGORIES.
    """

    name: str
    share: float  # probability at signup
    activity: float  # x the baseline order rate (1 = median_days_between_orders)
    price_sensitivity: float  # x the price sensitivity (coupons, sale response, cheaper choices)
    churn_frailty: float  # + the churn frailty (logit scale)
    taste_strength: float  # x the favourite category's centroid in the taste vector (focus)
    exploration: float  # x config.exploration (lines and views of random products)
    browse_ratio: float  # browsing sessions per expected order
    daytime_share: float  # share of sessions in the daytime profile (the others peak in the evening)
    line_count_probs: tuple[float, ...]  # P(1..5 lines) of an order
    channel_weights: tuple[float, ...]  # acquisition channel
    category_weights: tuple[float, ...]  # favourite category


REGIME_KINDS = ("young_deal_channel", "category_price_rise", "delivery_delay")
# What `magnitude` means per kind, and its default when a setting leaves it out.
REGIME_MAGNITUDE = {
    "young_deal_channel": ("extra signups per day, as a share of the usual signup rate", 1.0),
    "category_price_rise": ("relative rise of the category's list prices (0.25 = +25%)", 0.25),
    "delivery_delay": ("added probability that a delivery is late", 0.3),
}


@dataclass(frozen=True)
class RegimeChange:
    """A planted drift: from `start` (inclusive) the world works differently, until `end` (inclusive;
    None = for good). Recorded in truth/regime_change.csv; see datagen/regimes.py for each kind."""

    kind: str  # one of REGIME_KINDS
    start: date
    magnitude: float
    category: str | None = None  # category_price_rise: the catalog category whose prices rise
    end: date | None = None

    def active(self, day: int) -> bool:
        return self.start.toordinal() <= day and (self.end is None or day <= self.end.toordinal())

    def to_json(self) -> dict:
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat() if self.end else None
        return out

    @classmethod
    def from_json(cls, data: dict) -> RegimeChange:
        end = data.get("end")
        return cls(
            **{
                **data,
                "start": date.fromisoformat(data["start"]),
                "end": date.fromisoformat(end) if end else None,
            }
        )


def planted_regimes(settings) -> tuple[RegimeChange, ...]:
    """The regime change the settings ask for (ECOMM_DRIFT_*), or none."""
    if settings.drift_kind == "none":
        return ()
    if settings.drift_start is None:
        raise GeneratorError(f"ECOMM_DRIFT_KIND={settings.drift_kind} needs ECOMM_DRIFT_START (YYYY-MM-DD)")
    magnitude = settings.drift_magnitude or REGIME_MAGNITUDE[settings.drift_kind][1]
    category = settings.drift_category if settings.drift_kind == "category_price_rise" else None
    return (RegimeChange(settings.drift_kind, settings.drift_start, magnitude, category, settings.drift_end),)


# fmt: off
DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona("loyal_high_value", 0.16, activity=2.2, price_sensitivity=0.5, churn_frailty=-0.8,
            taste_strength=1.1, exploration=0.7, browse_ratio=0.4, daytime_share=0.2,
            line_count_probs=(0.25, 0.30, 0.22, 0.14, 0.09),
            channel_weights=(0.30, 0.10, 0.05, 0.25, 0.25, 0.05),
            category_weights=(0.30, 0.12, 0.30, 0.08, 0.10, 0.05, 0.02, 0.03)),
    Persona("bargain_hunter", 0.26, activity=1.2, price_sensitivity=2.5, churn_frailty=0.2,
            taste_strength=1.6, exploration=0.8, browse_ratio=1.0, daytime_share=0.85,
            line_count_probs=(0.45, 0.30, 0.15, 0.07, 0.03),
            channel_weights=(0.15, 0.30, 0.15, 0.10, 0.05, 0.25),
            category_weights=(0.02, 0.15, 0.05, 0.23, 0.05, 0.05, 0.05, 0.40)),
    Persona("window_shopper", 0.22, activity=0.3, price_sensitivity=1.0, churn_frailty=0.3,
            taste_strength=1.3, exploration=1.0, browse_ratio=4.0, daytime_share=0.5,
            line_count_probs=(0.70, 0.20, 0.07, 0.02, 0.01),
            channel_weights=(0.30, 0.15, 0.40, 0.05, 0.05, 0.05),
            category_weights=(0.30, 0.45, 0.08, 0.05, 0.06, 0.02, 0.02, 0.02)),
    Persona("occasional_gift_buyer", 0.18, activity=0.45, price_sensitivity=0.8, churn_frailty=0.0,
            taste_strength=2.2, exploration=0.8, browse_ratio=0.6, daytime_share=0.35,
            line_count_probs=(0.80, 0.15, 0.04, 0.01, 0.00),
            channel_weights=(0.40, 0.25, 0.10, 0.10, 0.10, 0.05),
            category_weights=(0.04, 0.04, 0.06, 0.20, 0.04, 0.28, 0.32, 0.02)),
    Persona("new_explorer", 0.18, activity=1.0, price_sensitivity=0.9, churn_frailty=0.7,
            taste_strength=0.2, exploration=4.0, browse_ratio=1.2, daytime_share=0.05,
            line_count_probs=(0.35, 0.30, 0.18, 0.11, 0.06),
            channel_weights=(0.20, 0.20, 0.35, 0.05, 0.05, 0.15),
            category_weights=(0.12, 0.20, 0.16, 0.12, 0.10, 0.12, 0.08, 0.10)),
)
# fmt: on


@dataclass(frozen=True)
class GeneratorConfig:
    seed: int = 42
    as_of: date = field(default_factory=_yesterday)  # last business date generated, inclusive
    days: int = 365  # history length: the first batch is as_of - days + 1
    customers: int = 5000  # customers existing at the end of the plan (approximately)
    products: int = 500  # products at the end of the plan (approximately)
    # The plan's time scale; None = days. Set it to keep one world's plan while changing `days`
    # (e.g. to regenerate a world that was continued day by day).
    plan_days: int | None = None
    existing_share: float = 0.7  # share of `customers` who signed up before the history starts
    new_product_share: float = 0.05  # share of `products` launched during the plan (cold-start items)
    burn_in_days: int = 240  # unwritten simulated days before the start, so the base has a past
    latent_factors: int = 6
    consideration_size: int = 30
    exploration: float = 0.1  # probability that a line/view is a uniformly random product
    cancel_rate: float = 0.03
    median_days_between_orders: float = 42.0  # the median customer's baseline gap between orders
    targeted_at: float = 0.55  # winback email exposure, as a share of plan_days
    targeted_window_days: int = 28
    regional_at: float = 0.65  # express shipping launch, as a share of plan_days
    regional_uplift: float = 1.2
    churn_horizon_days: int = 90
    purchase_horizon_days: int = 30
    value_horizon_days: int = 365
    value_replications: int = 1  # Monte Carlo paths per customer of the value truth (see value.py)
    personas: tuple[Persona, ...] = DEFAULT_PERSONAS
    regimes: tuple[RegimeChange, ...] = ()  # planted drift; none by default

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.days - 1)

    @property
    def effective_plan_days(self) -> int:
        return self.days if self.plan_days is None else self.plan_days

    def to_json(self) -> dict:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["personas"] = [asdict(p) for p in self.personas]
        # Left out when there is none, so a world without drift writes the same summary as before.
        out.pop("regimes")
        if self.regimes:
            out["regimes"] = [r.to_json() for r in self.regimes]
        return out

    @classmethod
    def from_json(cls, data: dict) -> GeneratorConfig:
        personas = tuple(
            Persona(**{k: tuple(v) if isinstance(v, list) else v for k, v in p.items()})
            for p in data.get("personas", [asdict(p) for p in DEFAULT_PERSONAS])
        )
        regimes = tuple(RegimeChange.from_json(r) for r in data.get("regimes", []))
        return cls(
            **{**data, "as_of": date.fromisoformat(data["as_of"]), "personas": personas, "regimes": regimes}
        )

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise GeneratorError(message)

        for name in (
            "seed",
            "days",
            "customers",
            "products",
            "burn_in_days",
            "latent_factors",
            "consideration_size",
            "targeted_window_days",
            "churn_horizon_days",
            "purchase_horizon_days",
            "value_horizon_days",
            "value_replications",
        ):
            value = getattr(self, name)
            need(
                isinstance(value, int) and not isinstance(value, bool),
                f"{name} must be an integer, got {value!r}",
            )
        need(isinstance(self.as_of, date), f"as_of must be a date, got {self.as_of!r}")
        need(self.seed >= 0, f"seed must be >= 0, got {self.seed}")
        need(
            self.days >= 60,
            f"days must be >= 60 (the regional campaign needs 8 weeks of pre-period), got {self.days}",
        )
        need(self.customers >= 50, f"customers must be >= 50, got {self.customers}")
        need(self.products >= 20, f"products must be >= 20, got {self.products}")
        need(
            self.start.year >= 2003,
            f"history would start on {self.start}; the warehouse calendar starts "
            f"in 2000 and the base signs up over the 3 years before the start",
        )
        plan = self.effective_plan_days
        need(
            isinstance(plan, int) and 60 <= plan <= self.days,
            f"plan_days must be an integer between 60 and days ({self.days}), got {plan!r}",
        )
        need(0.0 < self.existing_share < 1.0, f"existing_share must be in (0, 1), got {self.existing_share}")
        need(
            0.0 <= self.new_product_share < 0.5,
            f"new_product_share must be in [0, 0.5), got {self.new_product_share}",
        )
        need(self.burn_in_days >= 0, f"burn_in_days must be >= 0, got {self.burn_in_days}")
        need(2 <= self.latent_factors <= 32, f"latent_factors must be in 2..32, got {self.latent_factors}")
        need(
            5 <= self.consideration_size <= 100,
            f"consideration_size must be in 5..100, got {self.consideration_size}",
        )
        need(0.0 <= self.exploration < 1.0, f"exploration must be in [0, 1), got {self.exploration}")
        need(0.0 <= self.cancel_rate < 0.5, f"cancel_rate must be in [0, 0.5), got {self.cancel_rate}")
        need(
            2.0 <= self.median_days_between_orders <= 365.0,
            f"median_days_between_orders must be in 2..365, got {self.median_days_between_orders}",
        )
        need(0.2 <= self.targeted_at <= 0.9, f"targeted_at must be in [0.2, 0.9], got {self.targeted_at}")
        need(0.2 <= self.regional_at <= 0.95, f"regional_at must be in [0.2, 0.95], got {self.regional_at}")
        need(
            7 <= self.targeted_window_days <= 28,
            f"targeted_window_days must be in 7..28, got {self.targeted_window_days}",
        )
        need(
            1.0 <= self.regional_uplift <= 2.0,
            f"regional_uplift must be in [1, 2], got {self.regional_uplift}",
        )
        need(
            7 <= self.churn_horizon_days <= 365,
            f"churn_horizon_days must be in 7..365, got {self.churn_horizon_days}",
        )
        need(
            7 <= self.purchase_horizon_days <= 365,
            f"purchase_horizon_days must be in 7..365, got {self.purchase_horizon_days}",
        )
        need(
            7 <= self.value_horizon_days <= 730,
            f"value_horizon_days must be in 7..730, got {self.value_horizon_days}",
        )
        need(
            1 <= self.value_replications <= 64,
            f"value_replications must be in 1..64, got {self.value_replications}",
        )
        _validate_personas(self.personas, need)
        _validate_regimes(self.regimes, need)
        for r in self.regimes:
            need(
                r.start > self.start,
                f"regime {r.kind} starts on {r.start}, not after the history's first date {self.start}: "
                "there would be no before",
            )


def _validate_regimes(regimes, need) -> None:
    need(isinstance(regimes, tuple), f"regimes must be a tuple of RegimeChange, got {regimes!r}")
    for r in regimes:
        need(r.kind in REGIME_KINDS, f"regime kind must be one of {', '.join(REGIME_KINDS)}, got {r.kind!r}")
        need(isinstance(r.start, date), f"regime start must be a date, got {r.start!r}")
        need(r.end is None or r.end >= r.start, f"regime end {r.end} is before its start {r.start}")
        need(0.0 < r.magnitude <= 5.0, f"regime {r.kind}: magnitude must be in (0, 5], got {r.magnitude}")
        if r.kind == "category_price_rise":
            need(
                r.category in CATEGORY_NAMES,
                f"category_price_rise needs a category, one of {', '.join(CATEGORY_NAMES)}; got {r.category!r}",
            )
        if r.kind == "delivery_delay":
            need(r.magnitude <= 1.0, f"delivery_delay: magnitude is a probability, got {r.magnitude}")


def _validate_personas(personas, need) -> None:
    need(
        isinstance(personas, tuple) and 1 <= len(personas) <= 16,
        f"personas must be a tuple of 1..16 Persona, got {personas!r}",
    )
    need(
        len({p.name for p in personas}) == len(personas),
        f"persona names must be distinct, got {[p.name for p in personas]}",
    )
    total = sum(p.share for p in personas)
    need(abs(total - 1.0) < 1e-9, f"persona shares must sum to 1, got {total}")
    for p in personas:
        need(p.share > 0, f"persona {p.name}: share must be > 0, got {p.share}")
        for name in ("activity", "price_sensitivity", "taste_strength", "browse_ratio"):
            need(getattr(p, name) > 0, f"persona {p.name}: {name} must be > 0, got {getattr(p, name)}")
        need(p.exploration >= 0, f"persona {p.name}: exploration must be >= 0, got {p.exploration}")
        need(
            0 <= p.daytime_share <= 1,
            f"persona {p.name}: daytime_share must be in [0, 1], got {p.daytime_share}",
        )
        for name, size in (("line_count_probs", 5), ("channel_weights", 6), ("category_weights", 8)):
            w = getattr(p, name)
            need(
                len(w) == size and min(w) >= 0 and sum(w) > 0,
                f"persona {p.name}: {name} must be {size} non-negative weights, got {w!r}",
            )


MIN_PRE_PERIOD_DAYS = 56  # the regional launch keeps >= 8 weeks of history before it


@dataclass(frozen=True)
class Plan:
    """The world's schedule, fixed when the world is created (JSON-serialisable)."""

    start: int  # ordinal of the first business date
    plan_days: int
    base_customers: int
    signups_per_day: float
    base_products: int
    launches_per_day: float
    targeted_day: int  # ordinal: winback exposure (= announce) date
    targeted_window_days: int
    regional_day: int  # ordinal: express shipping launch date
    regional_announce_day: int
    regional_end_day: int
    consideration_size: int  # config's, capped at half the initial catalog (tiny test worlds)

    @classmethod
    def from_config(cls, config: GeneratorConfig) -> Plan:
        start = config.start.toordinal()
        plan_days = config.effective_plan_days
        base_customers = round(config.existing_share * config.customers)
        base_products = round((1 - config.new_product_share) * config.products)
        # The targeted window must end inside the plan so its true effect is complete.
        targeted = min(round(config.targeted_at * plan_days), plan_days - config.targeted_window_days)
        regional = min(max(round(config.regional_at * plan_days), MIN_PRE_PERIOD_DAYS), plan_days - 1)
        return cls(
            start=start,
            plan_days=plan_days,
            base_customers=base_customers,
            signups_per_day=(config.customers - base_customers) / plan_days,
            base_products=base_products,
            launches_per_day=(config.products - base_products) / plan_days,
            targeted_day=start + targeted,
            targeted_window_days=config.targeted_window_days,
            regional_day=start + regional,
            regional_announce_day=start + max(regional - 14, 0),
            regional_end_day=start + regional + 364,  # a one-year pilot
            consideration_size=min(config.consideration_size, max(base_products // 2, 5)),
        )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        return cls(**data)
