"""Whether model_monitoring's run for business date D retrains, and why (one line).

Two calibrated detectors, each retraining once per drifted episode, on the day it has lasted
ECOMM_DRIFT_RETRAIN_DAYS consecutive days (orders.episode_reached: both compare a 7-day window, so
one shift stays drifted for days; a blip shorter than that retrains nothing):
* the recent orders (monitoring.orders: order value and basket size, KS + minimum PSI);
* the recent inputs (monitoring.recent_inputs: new customers' age and channel, signups per
  channel, late deliveries, deliveries known by D, each category's price index; Bonferroni +
  minimum PSI), the view that sees the planted regimes
  within days (README "Model drift"). Its flags are read from marts.model_monitoring, where
  model_drift stores them, or computed when the date was not monitored.
benchmarks/bench_drift.py measures both on stable and drifted worlds.
"""

from __future__ import annotations

import datetime as dt

from ecomm.monitoring.orders import drifted_run, episode_reached


def decide(orders: dict, inputs_days: list[list[str]], persist_days: int) -> tuple[bool, str, list[str]]:
    """(retrain, reason, drifted features) from the order trigger's report (orders.order_drift) and
    the recent inputs' drifted features on D - persist_days .. D (oldest first)."""
    if len(inputs_days) != persist_days + 1:
        raise ValueError(f"{len(inputs_days)} days of recent-input flags for {persist_days} + 1 days")
    today = inputs_days[-1]
    drifted = [f for f in orders["drifted"] if orders["retrain"]]
    reasons = [f"recent orders {orders['reason']}"] if orders["retrain"] else []
    if episode_reached([bool(d) for d in inputs_days], persist_days):
        drifted += today
        days = "" if persist_days == 1 else f" (each of the last {persist_days} days)"
        reasons.append(f"recent inputs drifted{days}: {', '.join(today)}")
    if reasons:
        return True, "; ".join(reasons), drifted
    run = drifted_run(inputs_days)
    if not today:
        inputs = "recent inputs: no drift"
    elif run < persist_days:
        inputs = (
            f"recent inputs drifted on {run} consecutive day(s) ({', '.join(today)}), {persist_days} needed"
        )
    else:
        inputs = f"recent inputs drift continues ({', '.join(today)}; drifted on each of the {run} days to D)"
    return False, f"recent orders {orders['reason']}; {inputs}", []


def decision(settings, day: dt.date, orders: dict) -> tuple[bool, str, list[str]]:
    """model_monitoring's decision on business date `day` (`decide`), given the order trigger's report
    of that day: the recent inputs' flags of the ECOMM_DRIFT_RETRAIN_DAYS days before it and of it."""
    persist = settings.drift_retrain_days
    inputs_days = [inputs_flags(settings, day - dt.timedelta(days=n)) for n in range(persist, -1, -1)]
    return decide(orders, inputs_days, persist)


def inputs_flags(settings, day: dt.date) -> list[str]:
    """The recent inputs' drifted features on `day` for the retraining decision: the p-values and
    PSIs model_drift stored (else computed now), flagged at ECOMM_DRIFT_RETRAIN_INPUTS_ALPHA /
    the features and PSI > ECOMM_DRIFT_MIN_PSI (the stored `drifted` column is the view's own flag,
    at ECOMM_DRIFT_ALPHA: the decision needs persistence, so it may test at a looser level)."""
    from ecomm import db
    from ecomm.monitoring.drift import flag_features
    from ecomm.monitoring.models import TABLE
    from ecomm.monitoring.recent_inputs import INPUTS, INPUTS_VERSION, recent_inputs_drift

    alpha, min_psi = settings.drift_retrain_inputs_alpha, settings.drift_min_psi
    with db.connection(settings) as conn:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT feature, chi2_p_value, psi FROM {TABLE} WHERE model_name = %s "
                "AND model_version = %s AND business_date = %s ORDER BY feature",
                (INPUTS, INPUTS_VERSION, day),
            )
            stored = cur.fetchall()
        if not stored:
            rows = recent_inputs_drift(conn, day, alpha, min_psi)
            return sorted(r.feature for r in rows if r.drifted)
    flags = flag_features([p for _, p, _ in stored], [psi for _, _, psi in stored], alpha, min_psi)
    return sorted(feature for (feature, _, _), flagged in zip(stored, flags, strict=True) if flagged)
