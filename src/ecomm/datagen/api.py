"""The generator's entry points: a whole history, or the next business date of an existing world."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from ecomm.datagen.campaigns import AGE_BANDS, ASSIGNMENT, DEAL_SEGMENTS, SALE_BOOST
from ecomm.datagen.config import GeneratorConfig, GeneratorError
from ecomm.datagen.customers import ACTIVITY_SIGMA, CHANNEL_ACTIVITY, CHANNEL_FRAILTY, FRAILTY_SIGMA
from ecomm.datagen.pools import REGIONAL_TARGETS
from ecomm.datagen.preferences import PRICE_COEF, TEMPERATURE
from ecomm.datagen.process import planted_parameters
from ecomm.datagen.regimes import regime_table
from ecomm.datagen.state import load_state, save_state, state_dir
from ecomm.datagen.truth import (
    campaign_effect_table,
    campaign_effects,
    churn_table,
    demand_table,
    persona_table,
    preference_table,
    purchase_table,
    traits_table,
    value_table,
)
from ecomm.datagen.world import World
from ecomm.datagen.writer import replace_dir, write_batch, write_csv
from ecomm.entities import ACQUISITION_CHANNELS, ENTITIES, GROUND_TRUTH_SUMMARY, STATE_DIR, TRUTH_DIR

Progress = Callable[[str, int, int], None] | None
_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class GenerationSummary:
    first_date: date
    last_date: date
    dates: tuple[date, ...]  # business dates written by this call
    rows: dict[str, int] = field(default_factory=dict)  # rows written by this call, per entity
    seconds: float = 0.0
    out: Path | None = None
    orders: int = 0  # orders written by this call (order_items has one row per order line)

    @property
    def elapsed_seconds(self) -> float:
        return self.seconds


def generate_history(
    config: GeneratorConfig, out: Path | str, progress: Progress = None
) -> GenerationSummary:
    """Simulate `config.days` business dates up to `config.as_of` into OUT/<date>/, plus truth and state.

    OUT must be empty, missing, or hold an earlier generator output (which is replaced).
    """
    started = time.perf_counter()
    if not isinstance(config, GeneratorConfig):
        raise GeneratorError(f"config must be a GeneratorConfig, got {type(config).__name__}")
    config.validate()
    out = Path(out)
    _prepare_output(out)
    world = World.create(config, progress)
    # Record the plan's time scale, so the summary says how to regenerate a world continued day by day.
    world.config = replace(config, plan_days=config.effective_plan_days)
    first, last = config.start.toordinal(), config.as_of.toordinal()
    rows = {e.name: 0 for e in ENTITIES}
    for i, day in enumerate(range(first, last + 1)):
        tables = world.step(day, last=day == last)
        write_batch(out, date.fromordinal(day).isoformat(), tables)
        for name, table in tables.items():
            rows[name] += table.num_rows
        if progress:
            progress("simulate", i + 1, config.days)
    _finish(world, out, progress)
    days = tuple(date.fromordinal(d) for d in range(first, last + 1))
    return GenerationSummary(
        days[0], days[-1], days, rows, time.perf_counter() - started, out, world.ids.order - 1
    )


def generate_next_day(out: Path | str, progress: Progress = None) -> GenerationSummary:
    """Continue the world in OUT by one business date (reads and updates OUT/_state)."""
    started = time.perf_counter()
    out = Path(out)
    state_dir(out)  # clear error when there is no world yet
    world = load_state(out)
    day = world.last_day + 1
    first_order = world.ids.order
    world.config = replace(world.config, as_of=date.fromordinal(day), days=world.config.days + 1)
    tables = world.step(day, last=True)
    write_batch(out, date.fromordinal(day).isoformat(), tables)
    if progress:
        progress("simulate", 1, 1)
    _finish(world, out, progress)
    rows = {e.name: 0 for e in ENTITIES} | {name: t.num_rows for name, t in tables.items()}
    d = date.fromordinal(day)
    return GenerationSummary(
        d, d, (d,), rows, time.perf_counter() - started, out, world.ids.order - first_order
    )


def _prepare_output(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise GeneratorError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    ours = {TRUTH_DIR, STATE_DIR, GROUND_TRUTH_SUMMARY}
    entries = sorted(out.iterdir())
    foreign = [
        p.name
        for p in entries
        if not (p.name in ours or _DATE_DIR.match(p.name) or p.name.startswith((".tmp-", ".old-")))
    ]
    if foreign:
        raise GeneratorError(
            f"{out} holds files that are not generator output ({', '.join(foreign[:5])}); "
            "use an empty directory"
        )
    for p in entries:  # an earlier world in the same place is replaced, not mixed with
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def _finish(world: World, out: Path, progress: Progress) -> None:
    """Truth files, the readable summary, then the state (last: a crash before it just redoes the day)."""
    effect_rows, effect_summary = campaign_effects(world)
    tmp = out / f".tmp-{TRUTH_DIR}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    write_csv(traits_table(world), tmp / "customer_traits.csv")
    write_csv(churn_table(world), tmp / "customer_churn.csv")
    write_csv(persona_table(world), tmp / "customer_persona.csv")
    write_csv(purchase_table(world), tmp / "customer_purchase.csv")
    write_csv(value_table(world), tmp / "customer_value.csv")
    write_csv(demand_table(world), tmp / "product_demand.csv")
    write_csv(preference_table(world), tmp / "customer_preference.csv")
    write_csv(campaign_effect_table(effect_rows), tmp / "campaign_effect.csv")
    if world.config.regimes:  # no file without planted drift: the default world's files are unchanged
        write_csv(regime_table(world.config.regimes), tmp / "regime_change.csv")
    replace_dir(tmp, out / TRUTH_DIR)
    summary = ground_truth_summary(world, effect_summary)
    tmp_json = out / f".tmp-{GROUND_TRUTH_SUMMARY}"
    tmp_json.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp_json, out / GROUND_TRUTH_SUMMARY)
    save_state(world, out)
    if progress:
        progress("truth", 1, 1)


def ground_truth_summary(world: World, effects: dict) -> dict:
    cfg, plan = world.config, world.plan
    c = world.main.cols
    n = len(world.customers)
    churned = c.churned_on >= 0
    in_history = c.churned_on >= plan.start
    return {
        "generator": "ecomm.datagen",
        "config": cfg.to_json(),
        "first_date": date.fromordinal(plan.start).isoformat(),
        "last_date": date.fromordinal(world.last_day).isoformat(),
        "plan": {
            "base_customers": plan.base_customers,
            "signups_per_day": plan.signups_per_day,
            "base_products": plan.base_products,
            "launches_per_day": plan.launches_per_day,
            "winback_exposure_date": date.fromordinal(plan.targeted_day).isoformat(),
            "express_shipping_launch_date": date.fromordinal(plan.regional_day).isoformat(),
            "express_shipping_countries": list(REGIONAL_TARGETS),
        },
        "rows": dict(sorted(world.rows_total.items())),
        "customers": {
            "total": n,
            "alive_at_end": int((~churned).sum()),
            "churned_by_end": int(churned.sum()),
            "churned_during_history": int(in_history.sum()),
            "churn_rate_by_end": float(churned.mean()) if n else 0.0,
        },
        "churn": {
            "label": f"no completed order in the {cfg.churn_horizon_days} days from the snapshot date "
            "(snapshot date included); features may use only data before the snapshot date",
            "truth": "truth/customer_churn.csv: exact forward recursion of the simulator's own hazard and "
            "order probabilities along the no-completed-order path (see ecomm.datagen.truth)",
            "horizon_days": cfg.churn_horizon_days,
            "snapshots": world.snapshot_stats,
            "absorbing": True,
        },
        "personas": {
            "truth": "truth/customer_persona.csv: the persona drawn at signup; its parameters are in "
            "config.personas (multipliers of the population's trait draws, channel, category and line-count "
            "weights, session habits)",
            "customers": {
                p.name: int((world.customers.persona == i).sum()) for i, p in enumerate(cfg.personas)
            },
        },
        "purchase": {
            "label": f"at least one completed order in the {cfg.purchase_horizon_days} days from the "
            "snapshot date (snapshot date included)",
            "truth": "truth/customer_purchase.csv at every month start: 1 - the churn recursion's exact "
            "P(no completed order) over the purchase horizon",
            "horizon_days": cfg.purchase_horizon_days,
        },
        "value": {
            "label": f"revenue of completed (not cancelled) order lines in the {cfg.value_horizon_days} days "
            "from the snapshot date, before returns",
            "truth": "truth/customer_value.csv at every month start: exact order rate and expected order "
            f"value times a survival curve from {cfg.value_replications} Monte Carlo paths of lean "
            "replicas of the customer process (see ecomm.datagen.value)",
            "horizon_days": cfg.value_horizon_days,
            "replications": cfg.value_replications,
        },
        "demand": {
            "label": "units and revenue of completed (not cancelled) order lines per product and "
            "business date, before returns",
            "truth": "truth/product_demand.csv: the expectation given the state at the start of each day, "
            "from the simulator's own churn hazard, order probabilities, line count, Plackett-Luce picks and "
            "exploration (see ecomm.datagen.demand); every product in the catalogue on that date",
        },
        "campaigns": effects,
        **(
            {"regime_changes": [r.to_json() for r in cfg.regimes]} if cfg.regimes else {}
        ),  # only a world with planted drift says so: the default summary is unchanged
        "planted_parameters": {
            **planted_parameters(),
            "activity": {
                "median_days_between_orders": cfg.median_days_between_orders,
                "lognormal_sigma": ACTIVITY_SIGMA,
                "channel_multiplier": dict(zip(ACQUISITION_CHANNELS, CHANNEL_ACTIVITY.tolist(), strict=True)),
                "age_55_plus_multiplier": 0.9,
            },
            "churn_frailty": {
                "sigma": FRAILTY_SIGMA,
                "channel_shift": dict(zip(ACQUISITION_CHANNELS, CHANNEL_FRAILTY.tolist(), strict=True)),
                "under_30_shift": 0.2,
                "age_55_plus_shift": -0.15,
            },
            "preferences": {
                "score": "u_i . v_j + b_j - price_coef * price_sensitivity_i * log(price_j / 25)",
                "price_coef": PRICE_COEF,
                "softmax_temperature": TEMPERATURE,
                "latent_factors": cfg.latent_factors,
                "consideration_size": plan.consideration_size,
                "exploration": cfg.exploration,
            },
            "targeted_assignment": {
                "intercept": ASSIGNMENT.intercept,
                "recency": ASSIGNMENT.recency,
                "spend": ASSIGNMENT.spend,
                "recency_center": ASSIGNMENT.recency_center,
                "spend_center": ASSIGNMENT.spend_center,
            },
            "targeted_tau": {
                "by_age_band": {name: tau for name, _, _, tau in AGE_BANDS},
                "by_deal_segment": dict(DEAL_SEGMENTS),
                "times": "latent campaign_responsiveness (mean 1)",
            },
            "regional_uplift": cfg.regional_uplift,
            "sale_boost": SALE_BOOST,
            "cancel_rate": cfg.cancel_rate,
        },
    }
