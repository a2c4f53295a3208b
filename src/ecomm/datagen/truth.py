"""Ground truth: true churn and purchase probabilities, personas, preferences, latent traits and
campaign effects (the value truth is in value.py, the demand truth in demand.py).

Churn probability at a snapshot date S (for every customer who signed up before S):
P(no completed order in [S, S + horizon)) given the world's state at the start of S; the purchase
probability is 1 - the same quantity over the purchase horizon (one pass gives both). It is an
exact forward recursion with the simulator's own hazard and order-probability functions: along
the path "no completed order" the state evolves deterministically (only already-scheduled
deliveries, returns and 180-day expiries land; cancelled orders change nothing), so with
a_t = P(alive and no completed order before day t):
    P = sum_t a_t * h_t  (churned first)  +  a_end,   a_{t+1} = a_t (1 - h_t)(1 - q_t (1 - cancel_rate)).
A winback assignment still ahead of S is random: the result mixes the treated and untreated paths
with the assignment probability, which is a function of the (deterministic) state at exposure.
A customer who has already churned has probability 1 (purchase probability 0).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from ecomm.datagen.campaigns import (
    AGE_BANDS,
    DEAL_SEGMENTS,
    REALISED,
    REGIONAL_ID,
    TARGETED_ID,
    age_band,
    assignment_probability,
    deal_seeker,
    regional_active,
    uplift,
)
from ecomm.datagen.process import hazard, order_probability
from ecomm.datagen.writer import dates, ints, labels


def is_snapshot_day(day: int) -> bool:
    return date.fromordinal(day).day == 1


def churn_probabilities(world, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer_id, P(no completed order in the churn horizon)) at the start of `day`."""
    horizon = world.config.churn_horizon_days
    ids, probs = no_order_probabilities(world, day, (horizon,))
    return ids, probs[horizon]


def no_order_probabilities(world, day: int, horizons: tuple[int, ...]) -> tuple[np.ndarray, dict]:
    """(customer_id, {horizon: P(no completed order in [day, day + horizon))}) at the start of `day`."""
    plan, cust = world.plan, world.customers
    c = world.main.cols
    existing = np.flatnonzero(cust.signup[c.gidx] < day)
    probs = {h: np.ones(len(existing)) for h in horizons}
    alive_pos = np.flatnonzero(c.alive[existing])
    ps = world.main.subset(existing[alive_pos])  # a copy: the recursion consumes its pending changes
    g = ps.cols.gidx
    rows = np.arange(len(g))
    horizon = max(horizons)
    window = range(plan.targeted_day, plan.targeted_day + plan.targeted_window_days)

    # paths: (weight, treated flags or None) - two when the winback assignment is still ahead
    if world.targeted is None and day <= plan.targeted_day < day + horizon:
        pc = ps.cols
        eligible = pc.hist_orders > 0
        p = np.where(eligible, assignment_probability(plan.targeted_day - pc.hist_last, pc.hist_spend), 0.0)
        tau = uplift(
            age_band(cust.age[g]), deal_seeker(pc.hist_discounted, pc.hist_orders), cust.responsiveness[g]
        )
        paths = [(p, eligible, tau), (1.0 - p, np.zeros(len(g), dtype=bool), tau)]
    else:
        paths = [(np.ones(len(g)), None, None)]

    alive_no_order = [np.ones(len(g)) for _ in paths]
    result = [np.zeros(len(g)) for _ in paths]
    keep = 1.0 - world.config.cancel_rate
    for t in range(day, day + horizon):
        ps.apply_due(t)
        h = hazard(world, ps, rows, g, t)
        for i, (_, treated, tau) in enumerate(paths):
            if t in window:
                if world.targeted is not None:
                    treated, tau = world.targeted.flags(g, REALISED)
            else:
                treated, tau = None, None
            q = order_probability(world, g, t, treated, tau, regional_on=True)
            result[i] += alive_no_order[i] * h
            alive_no_order[i] *= (1.0 - h) * (1.0 - q * keep)
        if t - day + 1 in probs:
            mixed = sum(w * (r + a) for (w, _, _), r, a in zip(paths, result, alive_no_order, strict=True))
            probs[t - day + 1][alive_pos] = np.clip(mixed, 0.0, 1.0)
    return c.gidx[existing] + 1, probs


# ------------------------------------------------------------------------------ campaign effects
def targeted_outcome_name(window: int) -> str:
    return f"completed_orders_{window}d"


def campaign_effects(world) -> tuple[list[dict], dict]:
    """Rows of truth/campaign_effect.csv and a readable summary per campaign."""
    rows: list[dict] = []
    summary: dict = {}
    plan = world.plan
    t = world.targeted
    if t is not None:
        window_done = world.last_day >= plan.targeted_day + plan.targeted_window_days - 1
        outcome = targeted_outcome_name(plan.targeted_window_days)
        diff = (t.outcome_on - t.outcome_off).astype(np.float64)

        def add(estimand: str, segment: str, mask: np.ndarray) -> None:
            rows.append(
                dict(
                    campaign_id=TARGETED_ID,
                    estimand=estimand,
                    segment=segment,
                    outcome=outcome,
                    window_days=plan.targeted_window_days,
                    n_customers=int(mask.sum()),
                    true_effect=float(diff[mask].mean()) if mask.any() else 0.0,
                )
            )

        everyone = np.ones(len(diff), dtype=bool)
        add("ATE", "all_eligible", everyone)
        add("ATT", "treated", t.treated)
        for b, (name, *_rest) in enumerate(AGE_BANDS):
            add("CATE", name, t.band == b)
        for s, (name, _) in enumerate(DEAL_SEGMENTS):
            add("CATE", name, t.seeker == bool(s))

        def means(mask: np.ndarray) -> dict:
            return {
                "n": int(mask.sum()),
                "realised": float(t.outcome_realised[mask].mean()) if mask.any() else None,
                "if_treated": float(t.outcome_on[mask].mean()) if mask.any() else None,
                "if_untreated": float(t.outcome_off[mask].mean()) if mask.any() else None,
            }

        summary["winback_email"] = {
            "campaign_id": TARGETED_ID,
            "exposure_date": date.fromordinal(plan.targeted_day).isoformat(),
            "window_days": plan.targeted_window_days,
            "window_complete": window_done,
            "outcome": f"{outcome}: completed orders per eligible customer in the {plan.targeted_window_days} "
            "days from the exposure date (exposure date included)",
            "eligible": "customers with >= 1 completed order in the history before the exposure date",
            "assignment": "P(treated) = sigmoid(intercept + recency * (log1p(days since last completed order) "
            "- recency_center) + spend * (log1p(completed revenue in the history, $) - "
            "spend_center)), see planted_parameters.targeted_assignment",
            "effect": "order probability x (1 + tau_i) during the window, tau_i = age band factor x deal "
            "segment factor x latent responsiveness; treated orders get the discount",
            "segments": {
                name: f"age {lo}-{hi if hi < 200 else ''}".rstrip("-") + ("+" if hi >= 200 else "")
                for name, lo, hi, _ in AGE_BANDS
            }
            | {
                "deal_seeker": "share of completed orders with a discount before exposure >= 0.25",
                "full_price": "share of completed orders with a discount before exposure < 0.25",
            },
            "true_effects": {f"{r['estimand']}:{r['segment']}": r["true_effect"] for r in rows},
            "mean_outcome": {"treated": means(t.treated), "control": means(~t.treated)},
            "mean_tau": {"eligible": float(t.tau.mean()), "treated": float(t.tau[t.treated].mean())},
            "assignment_probability_mean": float(t.p_assign.mean()),
        }
    r = world.regional
    if r is not None:
        last = min(world.last_day, plan.regional_end_day)
        post_days = last - plan.regional_day + 1
        weeks = post_days / 7.0
        treated_realised = r.outcome_realised[r.treated]
        att = float((treated_realised - r.outcome_off).mean() / weeks) if len(r.outcome_off) else 0.0
        rows.append(
            dict(
                campaign_id=REGIONAL_ID,
                estimand="ATT",
                segment="treated_countries",
                outcome="completed_orders_per_week",
                window_days=post_days,
                n_customers=int(r.treated.sum()),
                true_effect=att,
            )
        )
        summary["express_shipping"] = {
            "campaign_id": REGIONAL_ID,
            "launch_date": date.fromordinal(plan.regional_day).isoformat(),
            "pre_period_days": plan.regional_day - plan.start,
            "post_period_days": post_days,
            "population": "customers who signed up on or before the launch date (exposure rows)",
            "outcome": "completed orders per customer per week, launch date to the last generated date",
            "planted_uplift": world.config.regional_uplift,
            "true_att_per_week": att,
            "treated_mean_orders_per_week": {
                "realised": float(treated_realised.mean() / weeks) if len(treated_realised) else None,
                "without_launch": float(r.outcome_off.mean() / weeks) if len(r.outcome_off) else None,
            },
            "control_mean_orders_per_week": float(r.outcome_realised[~r.treated].mean() / weeks)
            if (~r.treated).any()
            else None,
            "active": regional_active(plan, world.last_day),
        }
    return rows, summary


def campaign_effect_table(rows: list[dict]) -> pa.Table:
    return pa.table(
        {
            "campaign_id": ints([r["campaign_id"] for r in rows]),
            "estimand": pa.array([r["estimand"] for r in rows], pa.string()),
            "segment": pa.array([r["segment"] for r in rows], pa.string()),
            "outcome": pa.array([r["outcome"] for r in rows], pa.string()),
            "window_days": ints([r["window_days"] for r in rows]),
            "n_customers": ints([r["n_customers"] for r in rows]),
            "true_effect": pa.array([r["true_effect"] for r in rows], pa.float64()),
        }
    )


# ------------------------------------------------------------------------------ per-customer truth
def traits_table(world) -> pa.Table:
    cust = world.customers
    churned = world.main.cols.churned_on
    return pa.table(
        {
            "customer_id": ints(np.arange(len(cust)) + 1),
            "activity_rate": pa.array(cust.activity, pa.float64()),
            "price_sensitivity": pa.array(cust.price_sensitivity, pa.float64()),
            "churn_frailty": pa.array(cust.frailty, pa.float64()),
            "campaign_responsiveness": pa.array(cust.responsiveness, pa.float64()),
            "churned_on": dates(np.maximum(churned, 1), mask=churned < 0),
        }
    )


def preference_table(world) -> pa.Table:
    prefs = world.prefs
    n, m = prefs.items.shape
    return pa.table(
        {
            "customer_id": ints(np.repeat(np.arange(n) + 1, m)),
            "product_id": ints(prefs.items.reshape(-1).astype(np.int64) + 1),
            "true_score": pa.array(prefs.score.reshape(-1), pa.float64()),
            "true_rank": ints(np.tile(np.arange(1, m + 1), n)),
        }
    )


def persona_table(world) -> pa.Table:
    cust, personas = world.customers, world.config.personas
    names = tuple(p.name for p in personas)
    return pa.table(
        {
            "customer_id": ints(np.arange(len(cust)) + 1),
            "persona": labels(names, cust.persona.astype(np.int64)),
            "signup_date": dates(cust.signup),
            "exploration": pa.array(cust.exploration, pa.float64()),
            "browse_ratio": pa.array(cust.browse_ratio, pa.float64()),
        }
    )


def purchase_table(world) -> pa.Table:
    s = world.purchase_truth
    return pa.table(
        {
            "customer_id": ints(s.customer_id),
            "snapshot_date": dates(s.snapshot),
            "horizon_days": ints(np.full(len(s), world.config.purchase_horizon_days)),
            "purchase_probability": pa.array(s.probability, pa.float64()),
        }
    )


def value_table(world) -> pa.Table:
    s = world.value_truth
    return pa.table(
        {
            "customer_id": ints(s.customer_id),
            "snapshot_date": dates(s.snapshot),
            "horizon_days": ints(np.full(len(s), world.config.value_horizon_days)),
            "expected_revenue": pa.array(np.round(s.value, 2), pa.float64()),
        }
    )


def churn_table(world) -> pa.Table:
    s = world.churn_truth
    return pa.table(
        {
            "customer_id": ints(s.customer_id),
            "snapshot_date": dates(s.snapshot),
            "horizon_days": ints(np.full(len(s), world.config.churn_horizon_days)),
            "churn_probability": pa.array(s.probability, pa.float64()),
        }
    )


def demand_table(world) -> pa.Table:
    d = world.demand_truth
    return pa.table(
        {
            "product_id": ints(d.product_id),
            "business_date": dates(d.day),
            "expected_units": pa.array(np.round(d.units, 6), pa.float64()),
            "expected_revenue": pa.array(np.round(d.revenue, 2), pa.float64()),
        }
    )
