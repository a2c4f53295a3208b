"""The world: everything the simulation knows, created once (with a burn-in) and advanced day by day.

`World.step(day)` is the single definition of a business day; history and next-day mode both call
it, so continuing a saved world gives exactly the batch a longer history would have written.
Order of a day: truth snapshot (state at the start of the day) -> product launches -> signups ->
campaign announcements and exposures -> expected demand per product (demand truth) -> realised
customer process -> counterfactual arms -> rendering of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pyarrow as pa

from ecomm.datagen.calendar import DemandCalendar, annual_factor
from ecomm.datagen.campaigns import (
    REALISED,
    REGIONAL_ID,
    TARGETED_ID,
    Arm,
    CampaignInfo,
    RegionalState,
    TargetedState,
    age_band,
    announced_on,
    assignment_probability,
    deal_seeker,
    uplift,
)
from ecomm.datagen.catalog import CatalogModel, build_catalog_model, draw_products, product_table
from ecomm.datagen.columns import Columns
from ecomm.datagen.config import GeneratorConfig, Plan
from ecomm.datagen.customers import customer_table, draw_customers
from ecomm.datagen.demand import RANKS, expected_demand, set_rank_cdfs
from ecomm.datagen.pools import IN_REGIONAL_TARGET, NamePools, build_name_pools
from ecomm.datagen.preferences import consideration_sets, merge_new_products
from ecomm.datagen.process import ProcessState, step_process
from ecomm.datagen.randomness import Stream, day_rng, uniforms
from ecomm.datagen.regimes import raise_launch_prices, start_price_rises, young_signups
from ecomm.datagen.render import Ids, agendas, render_day
from ecomm.datagen.truth import is_snapshot_day, no_order_probabilities
from ecomm.datagen.value import SetCache, expected_values
from ecomm.datagen.writer import dates, ints, money

Progress = Callable[[str, int, int], None] | None
BASE_SIGNUP_YEARS = 3  # the existing base signed up over the 3 years before the start


def campaign_table(infos: list[CampaignInfo]) -> pa.Table:
    return pa.table(
        {
            "campaign_id": ints([c.campaign_id for c in infos]),
            "campaign_name": pa.array([c.name for c in infos], pa.string()),
            "channel": pa.array([c.channel for c in infos], pa.string()),
            "campaign_type": pa.array([c.campaign_type for c in infos], pa.string()),
            "offer": pa.array([c.offer for c in infos], pa.string()),
            "discount_pct": money(
                np.array([c.discount_pct * 100 for c in infos], dtype=np.int64), pa.decimal128(5, 2)
            ),
            "target_countries": pa.array([c.target_countries for c in infos], pa.string()),
            "start_date": dates(np.array([c.start for c in infos])),
            "end_date": dates(np.array([c.end for c in infos])),
        }
    )


def exposure_table(gidx: np.ndarray, campaign_id: int, treated: np.ndarray, day: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": ints(gidx + 1),
            "campaign_id": ints(np.full(len(gidx), campaign_id)),
            "treated": pa.array(treated, pa.bool_()),
            "exposure_date": dates(np.full(len(gidx), day)),
        }
    )


class World:
    def __init__(
        self,
        config: GeneratorConfig,
        plan: Plan,
        model: CatalogModel,
        customers: Columns,
        products: Columns,
        prefs: Columns,
        main: ProcessState,
        pools: NamePools | None = None,
    ) -> None:
        self.config = config
        self.plan = plan
        self.model = model
        self.customers = customers
        self.products = products
        self.prefs = prefs
        self.main = main
        self.demand = DemandCalendar()
        self.pools = pools if pools is not None else build_name_pools(config.seed)
        self.ids = Ids()
        self.returns_due, self.reviews_due = agendas()
        self.targeted: TargetedState | None = None
        self.regional: RegionalState | None = None
        self.churn_truth = Columns(
            customer_id=np.zeros(0, np.int64),
            snapshot=np.zeros(0, np.int32),
            probability=np.zeros(0, np.float64),
        )
        self.purchase_truth = Columns(
            customer_id=np.zeros(0, np.int64),
            snapshot=np.zeros(0, np.int32),
            probability=np.zeros(0, np.float64),
        )
        self.value_truth = Columns(
            customer_id=np.zeros(0, np.int64),
            snapshot=np.zeros(0, np.int32),
            value=np.zeros(0, np.float64),
        )
        self.demand_truth = Columns(
            product_id=np.zeros(0, np.int64),
            day=np.zeros(0, np.int32),
            units=np.zeros(0, np.float64),
            revenue=np.zeros(0, np.float64),
        )
        self.set_cache = SetCache()  # derived, not saved: a loaded world rebuilds it
        self.rank_cache = SetCache(set_rank_cdfs, (plan.consideration_size, RANKS), np.float32)  # saved
        self.provisional_snapshot = -1  # last-date snapshot that is not a first-of-month one
        self.snapshot_stats: dict[str, dict] = {}
        self.last_day = plan.start - 1
        self.rows_total: dict[str, int] = {}

    # ------------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, config: GeneratorConfig, progress: Progress = None) -> World:
        plan = Plan.from_config(config)
        seed, start = config.seed, plan.start
        pools = build_name_pools(seed)
        rng = day_rng(seed, Stream.INIT_CATALOG, start)
        model = build_catalog_model(rng, config.latent_factors, pools)
        launch = np.sort(start - rng.integers(1, BASE_SIGNUP_YEARS * 365, plan.base_products))
        attrs, vectors = draw_products(rng, model, launch)
        products = Columns(**attrs, vector=vectors)

        rng = day_rng(seed, Stream.INIT_CUSTOMERS, start)
        # more recent signups are more common (a growing shop)
        age_days = np.floor(BASE_SIGNUP_YEARS * 365 * rng.random(plan.base_customers) ** 1.5).astype(np.int64)
        signup = np.sort(start - 1 - age_days)
        customers = draw_customers(
            rng, signup, config.median_days_between_orders, model, config.personas, config.exploration
        )
        prefs = consideration_sets(customers, np.arange(len(customers)), products, plan.consideration_size)

        # Customers older than the burn-in start get a plausible last order; the burn-in does the rest.
        burn_start = start - config.burn_in_days
        gap = np.ceil(rng.exponential(1.0 / customers.activity)).astype(np.int64)
        last = np.where(signup < burn_start, np.maximum(burn_start - gap, signup), -1)
        main = ProcessState.new(np.arange(len(customers)), last)
        world = cls(config, plan, model, customers, products, prefs, main, pools)
        for i, day in enumerate(range(burn_start, start)):
            step_process(world, main, day, REALISED)
            if progress:
                progress("burn-in", i + 1, config.burn_in_days)
        return world

    # ---------------------------------------------------------------------------------- a day
    def step(self, day: int, last: bool) -> dict[str, pa.Table]:
        """Simulate business date `day`; returns its batch tables. `last`: the final date of this run."""
        if day != self.last_day + 1:
            raise ValueError(f"days must be simulated in order: expected {self.last_day + 1}, got {day}")
        plan, seed = self.plan, self.config.seed
        first = day == plan.start
        tables: dict[str, pa.Table] = {}

        self._snapshot(day, last)
        start_price_rises(self, day)  # before the day's choices (and its demand truth) are made
        n_products_before = len(self.products) if not first else 0
        self._launch_products(day)
        n_customers_before = len(self.customers) if not first else 0
        self._sign_up(day)
        tables["customers"] = customer_table(
            self.customers,
            np.arange(n_customers_before, len(self.customers)),
            self.pools,
            day_rng(seed, Stream.NAMES, day),
        )
        tables["products"] = product_table(
            self.products, np.arange(n_products_before, len(self.products)), self.model
        )
        tables["campaigns"] = campaign_table(announced_on(plan, day))
        exposures = []
        if day == plan.targeted_day:
            exposures.append(self._assign_targeted(day))
        if day == plan.regional_day:
            exposures.append(self._launch_regional(day))
        if exposures:
            tables["campaign_exposure"] = pa.concat_tables(exposures)

        self._record_demand(day)
        decisions = step_process(self, self.main, day, REALISED)
        self._step_arms(day, decisions)
        tables.update(render_day(self, decisions, day))
        self.last_day = day
        for name, table in tables.items():
            self.rows_total[name] = self.rows_total.get(name, 0) + table.num_rows
        return tables

    def _snapshot(self, day: int, last: bool) -> None:
        if self.provisional_snapshot >= 0:  # yesterday's "last date" snapshot is superseded
            keep = self.churn_truth.snapshot != self.provisional_snapshot
            self.churn_truth = self.churn_truth.take(np.flatnonzero(keep))
            self.snapshot_stats.pop(date.fromordinal(self.provisional_snapshot).isoformat(), None)
            self.provisional_snapshot = -1
        if is_snapshot_day(day) or last:
            cfg = self.config
            # purchase and value truth at month starts only (a provisional snapshot would redo the
            # value's year-long Monte Carlo on every next-day run)
            month_start = is_snapshot_day(day)
            horizons = (cfg.churn_horizon_days,) + ((cfg.purchase_horizon_days,) if month_start else ())
            ids, no_order = no_order_probabilities(self, day, horizons)
            prob = no_order[cfg.churn_horizon_days]
            self.churn_truth.append(customer_id=ids, snapshot=np.full(len(ids), day), probability=prob)
            if month_start:
                purchase = 1.0 - no_order[cfg.purchase_horizon_days]
                self.purchase_truth.append(
                    customer_id=ids, snapshot=np.full(len(ids), day), probability=purchase
                )
                value_ids, value = expected_values(self, day)
                self.value_truth.append(customer_id=value_ids, snapshot=np.full(len(ids), day), value=value)
            else:
                self.provisional_snapshot = day
            ordered = self.main.cols.hist_orders[ids - 1] > 0
            self.snapshot_stats[date.fromordinal(day).isoformat()] = {
                "customers": len(ids),
                "mean_probability": float(prob.mean()) if len(ids) else None,
                "customers_with_orders_in_history": int(ordered.sum()),
                "mean_probability_with_orders": float(prob[ordered].mean()) if ordered.any() else None,
            }

    def _record_demand(self, day: int) -> None:
        units, revenue = expected_demand(self, day, self.rank_cache)
        self.demand_truth.append(
            product_id=np.arange(1, len(units) + 1),
            day=np.full(len(units), day, dtype=np.int32),
            units=units,
            revenue=revenue,
        )

    def _launch_products(self, day: int) -> None:
        rng = day_rng(self.config.seed, Stream.LAUNCHES, day)
        n = int(rng.poisson(self.plan.launches_per_day))
        if n == 0:
            return
        attrs, vectors = draw_products(rng, self.model, np.full(n, day))
        raise_launch_prices(self.config, attrs, day)
        start = len(self.products)
        self.products.append(**attrs, vector=vectors)
        merge_new_products(self.prefs, self.customers, self.products, np.arange(start, start + n))

    def _sign_up(self, day: int) -> None:
        rng = day_rng(self.config.seed, Stream.SIGNUPS, day)
        n = int(rng.poisson(self.plan.signups_per_day * annual_factor(date.fromordinal(day))))
        if n > 0:
            cfg = self.config
            self._add_customers(
                draw_customers(
                    rng,
                    np.full(n, day),
                    cfg.median_days_between_orders,
                    self.model,
                    cfg.personas,
                    cfg.exploration,
                )
            )
        young = young_signups(self, day)
        if young is not None:
            self._add_customers(young)

    def _add_customers(self, new) -> None:
        n = len(new)
        start = len(self.customers)
        self.customers.append(**new.to_arrays())
        rows = np.arange(start, start + n)
        sets = consideration_sets(self.customers, rows, self.products, self.plan.consideration_size)
        self.prefs.append(**sets.to_arrays())
        self.main.append(rows)

    def _assign_targeted(self, day: int) -> pa.Table:
        """Winback exposure: eligible customers, confounded assignment, heterogeneous tau."""
        c, cust = self.main.cols, self.customers
        members = np.flatnonzero((c.hist_orders > 0) & (cust.signup <= day))
        p = assignment_probability(day - c.hist_last[members], c.hist_spend[members])
        treated = uniforms(self.config.seed, Stream.ASSIGN, day, members + 1) < p
        band = age_band(cust.age[members])
        seeker = deal_seeker(c.hist_discounted[members], c.hist_orders[members])
        zeros = np.zeros(len(members), dtype=np.int32)
        self.targeted = TargetedState(
            members=members,
            treated=treated,
            tau=uplift(band, seeker, cust.responsiveness[members]),
            band=band,
            seeker=seeker,
            p_assign=p,
            n_at_exposure=len(cust),
            outcome_realised=zeros.copy(),
            outcome_on=zeros.copy(),
            outcome_off=zeros.copy(),
            arm_on=self.main.subset(members),
            arm_off=self.main.subset(members),
        )
        return exposure_table(members, TARGETED_ID, treated, day)

    def _launch_regional(self, day: int) -> pa.Table:
        members = np.flatnonzero(self.customers.signup <= day)
        treated = IN_REGIONAL_TARGET[self.customers.country[members]]
        self.regional = RegionalState(
            members=members,
            treated=treated,
            outcome_realised=np.zeros(len(members), dtype=np.int32),
            outcome_off=np.zeros(int(treated.sum()), dtype=np.int32),
            arm_off=self.main.subset(members[treated]),
        )
        return exposure_table(members, REGIONAL_ID, treated, day)

    def _step_arms(self, day: int, realised) -> None:
        """Counterfactual arms, with the same draws as the realised world (exact effects)."""
        done_g = realised.gidx[~realised.cancelled]
        t = self.targeted
        if t is not None and t.arm_on is not None:
            t.outcome_realised[_positions(t.members, done_g)] += 1
            t.outcome_on[step_process(self, t.arm_on, day, Arm(targeted="on")).completed_rows] += 1
            t.outcome_off[step_process(self, t.arm_off, day, Arm(targeted="off")).completed_rows] += 1
            if day == self.plan.targeted_day + self.plan.targeted_window_days - 1:
                t.arm_on = t.arm_off = None  # window closed
        r = self.regional
        if r is not None and r.arm_off is not None:
            r.outcome_realised[_positions(r.members, done_g)] += 1
            r.outcome_off[step_process(self, r.arm_off, day, Arm(regional=False)).completed_rows] += 1
            if day == self.plan.regional_end_day:
                r.arm_off = None  # pilot over


def _positions(members: np.ndarray, gidx: np.ndarray) -> np.ndarray:
    """Positions in sorted `members` of the gidx values that are members (each at most once)."""
    if len(members) == 0:
        return np.zeros(0, dtype=np.int64)
    pos = np.minimum(np.searchsorted(members, gidx), len(members) - 1)
    return pos[members[pos] == gidx]
