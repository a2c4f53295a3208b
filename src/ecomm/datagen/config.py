"""What the user asks the generator for (`GeneratorConfig`) and the world plan derived from it.

The plan (initial base size, signup and launch rates, campaign dates) is laid out over `plan_days`
from the history start and stored with the world, so continuing day by day keeps the same plan.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta


class GeneratorError(ValueError):
    """Bad generator input (config, output directory, missing state); the message says what to fix."""


def _yesterday() -> date:
    return date.today() - timedelta(days=1)


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

    @property
    def start(self) -> date:
        return self.as_of - timedelta(days=self.days - 1)

    @property
    def effective_plan_days(self) -> int:
        return self.days if self.plan_days is None else self.plan_days

    def to_json(self) -> dict:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict) -> GeneratorConfig:
        return cls(**{**data, "as_of": date.fromisoformat(data["as_of"])})

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
