"""Whether model_monitoring's run for business date D retrains, and why (one line).

Two calibrated detectors, each retraining on the **first** day of a drifted episode (drifted on D,
not on D - 1: both compare a 7-day window, so one shift stays drifted for days):
* the recent orders (monitoring.orders: order value and basket size, KS + minimum PSI);
* the recent inputs (monitoring.recent_inputs: new customers' age and channel, late deliveries,
  each category's price index; Bonferroni + minimum PSI), the view that sees the planted regimes
  within days (README "Model drift"). Its flags are read from marts.model_monitoring, where
  model_drift stores them, or computed when the date was not monitored.
benchmarks/bench_drift.py measures both on stable and drifted worlds.
"""

from __future__ import annotations

import datetime as dt


def decide(orders: dict, inputs_today: list[str], inputs_yesterday: list[str]) -> tuple[bool, str, list[str]]:
    """(retrain, reason, drifted features) from the order trigger's report (orders.order_drift) and
    the recent inputs' drifted features on D and D - 1."""
    drifted = [f for f in orders["drifted"] if orders["retrain"]]
    reasons = [f"recent orders {orders['reason']}"] if orders["retrain"] else []
    if inputs_today and not inputs_yesterday:
        drifted += inputs_today
        reasons.append(f"recent inputs drifted: {', '.join(inputs_today)}")
    if reasons:
        return True, "; ".join(reasons), drifted
    inputs = (
        f"recent inputs drift continues ({', '.join(inputs_today)}; also drifted the day before)"
        if inputs_today
        else "recent inputs: no drift"
    )
    return False, f"recent orders {orders['reason']}; {inputs}", []


def inputs_flags(settings, day: dt.date) -> list[str]:
    """The recent inputs' drifted features on `day`: stored by model_drift, else computed now."""
    from ecomm import db
    from ecomm.monitoring.models import TABLE
    from ecomm.monitoring.recent_inputs import INPUTS, INPUTS_VERSION, recent_inputs_drift

    with db.connection(settings) as conn:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT feature, drifted FROM {TABLE} WHERE model_name = %s AND model_version = %s "
                "AND business_date = %s ORDER BY feature",
                (INPUTS, INPUTS_VERSION, day),
            )
            stored = cur.fetchall()
        if stored:
            return [feature for feature, drifted in stored if drifted]
        rows = recent_inputs_drift(conn, day, settings.drift_alpha, settings.drift_min_psi)
    return [r.feature for r in rows if r.drifted]
