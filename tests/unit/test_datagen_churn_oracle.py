"""The churn truth is the exact probability of the simulator's own process (checked by Monte Carlo).

The recursion is compared with re-running the customer process 40 times from the snapshot with
other random draws (another seed for the counter-based streams), including the winback assignment
that is still ahead of the snapshot.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date

import numpy as np
import pytest

from ecomm.datagen import GeneratorConfig
from ecomm.datagen.campaigns import (
    REALISED,
    TargetedState,
    age_band,
    assignment_probability,
    deal_seeker,
    uplift,
)
from ecomm.datagen.process import step_process
from ecomm.datagen.randomness import Stream, uniforms
from ecomm.datagen.truth import churn_probabilities
from ecomm.datagen.world import World

CONFIG = GeneratorConfig(seed=21, as_of=date(2024, 6, 30), days=120, customers=1200, products=120)
REPLICATIONS = 40


@pytest.fixture(scope="module")
def world_before_exposure() -> tuple[World, int]:
    world = World.create(CONFIG)
    snapshot = world.plan.targeted_day - 3  # the winback assignment is 3 days ahead
    for day in range(world.plan.start, snapshot):
        world.step(day, last=False)
    return world, snapshot


def simulate_no_order_share(world: World, snapshot: int, seed: int, rows: np.ndarray) -> np.ndarray:
    """One replication: True where the customer places no completed order in the horizon."""
    ps = world.main.subset(rows)
    replica = copy.copy(world)
    replica.config = dataclasses.replace(world.config, seed=seed)
    replica.targeted = None
    ordered = np.zeros(len(rows), dtype=bool)
    for day in range(snapshot, snapshot + CONFIG.churn_horizon_days):
        if day == world.plan.targeted_day:  # assign as World does (spend is unchanged until an order)
            c = ps.cols
            members = np.flatnonzero(c.hist_orders > 0)
            g = c.gidx[members]
            p = assignment_probability(day - c.hist_last[members], world.main.cols.hist_spend[g])
            zeros = np.zeros(len(g))
            replica.targeted = TargetedState(
                members=g,
                treated=uniforms(seed, Stream.ASSIGN, day, g + 1) < p,
                tau=uplift(
                    age_band(world.customers.age[g]),
                    deal_seeker(c.hist_discounted[members], c.hist_orders[members]),
                    world.customers.responsiveness[g],
                ),
                band=zeros,
                seeker=zeros,
                p_assign=p,
                n_at_exposure=0,
                outcome_realised=zeros,
                outcome_on=zeros,
                outcome_off=zeros,
            )
        ordered[step_process(replica, ps, day, REALISED).completed_rows] = True
    return ~ordered


def test_churn_truth_matches_monte_carlo_of_the_simulator(world_before_exposure):
    world, snapshot = world_before_exposure
    ids, truth = churn_probabilities(world, snapshot)
    alive = truth < 1.0
    rows = ids[alive] - 1
    mc = np.mean(
        [simulate_no_order_share(world, snapshot, 1000 + k, rows) for k in range(REPLICATIONS)], axis=0
    )
    p = truth[alive]
    assert len(p) > 500
    # overall and within each third of the predicted probability: MC mean = truth mean (4 s.e.)
    groups = np.digitize(p, np.quantile(p, [1 / 3, 2 / 3]))
    for g in (None, 0, 1, 2):
        mask = np.ones(len(p), dtype=bool) if g is None else groups == g
        standard_error = np.sqrt((p[mask] * (1 - p[mask])).sum() / REPLICATIONS) / mask.sum()
        assert abs(mc[mask].mean() - p[mask].mean()) < 4 * standard_error, g
