"""Detection of the planted drift (issue 19) by the recent-inputs monitor (ecomm.monitoring.inputs).

For each seed: a stable world and one world per drift kind (same seed, same size; identical before
the drift's start), generated here. The reference pools the REFERENCE_DAYS up to the reference
cutoff; then every business date is monitored (last 7 days against it, Bonferroni alpha +
minimum PSI, drift.flag_features). Measured:
* stable world: the days with any flagged feature over the FALSE_ALARM_DAYS after the cutoff, and
  the alarm episodes (runs of consecutive flagged days);
* drift worlds: days from the start to the first date on or after it with a flag the stable world
  of the same seed does not raise that day (None: not within DETECT_DAYS), and which features
  flagged it. The worlds are identical before the start, so a false alarm running into the start
  date is not counted as a detection.
* the alert (EcommModelDrift: flagged dates in a row reaching ECOMM_DRIFT_RETRAIN_DAYS, 2, as the
  retraining decision waits), over the flags above (the fixed reference; the DAG's `inputs` rows,
  which the alert reads, use the rolling one): the stable world's alert episodes over the same days, and each drift
  world's days from the start to its first alert the stable world does not raise that day.
Also model_monitoring's retraining decision (monitoring.retrain) as the DAG runs it, with rolling
references and ECOMM_DRIFT_RETRAIN_DAYS: on the stable world every date from the first whose
D - persist_days has full windows to AS_OF (about 300), the days it would retrain; on each drift world the days from the start to the
first retraining the stable world does not make that day.
No database, no models: the raw batches the warehouse loads. The worlds are the shop `make up` builds
by default (Settings.customers and .products: 5,000 customers, 500 products) unless --customers and
--products say otherwise.

python -m benchmarks.bench_drift --seeds 1 2 3   # 3-8 minutes per seed at 5,000 customers (load 0.2-3.5)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from ecomm.datagen import GeneratorConfig, generate_history
from ecomm.datagen.config import REGIME_MAGNITUDE, RegimeChange
from ecomm.monitoring import inputs as recent
from ecomm.monitoring.inputs import inputs_drift, inputs_reference
from ecomm.monitoring.orders import REFERENCE_DAYS, WINDOW_DAYS, RetrainRule, trigger, window_drift
from ecomm.monitoring.recent_inputs import reference_cutoff
from ecomm.monitoring.retrain import decide
from ecomm.settings import Settings

from benchmarks.common import RESULTS, write_result

AS_OF = dt.date(2024, 12, 31)
DAYS = 400
REFERENCE_CUTOFF = dt.date(2024, 5, 31)
FALSE_ALARM_DAYS = 180
DRIFT_START = dt.date(2024, 9, 1)
DETECT_DAYS = 28
TARGET_DETECT_DAYS = 7
TARGET_FALSE_ALARMS = 1
KINDS = {
    "young_deal_channel": RegimeChange(
        "young_deal_channel", DRIFT_START, REGIME_MAGNITUDE["young_deal_channel"][1]
    ),
    "category_price_rise": RegimeChange(
        "category_price_rise", DRIFT_START, REGIME_MAGNITUDE["category_price_rise"][1], category="Electronics"
    ),
    "delivery_delay": RegimeChange("delivery_delay", DRIFT_START, REGIME_MAGNITUDE["delivery_delay"][1]),
}


def read_entity(world: Path, entity: str) -> pd.DataFrame:
    frames = [
        pd.read_csv(p / f"{entity}.csv") for p in sorted(world.glob("20*")) if (p / f"{entity}.csv").exists()
    ]
    return pd.concat([f for f in frames if len(f)], ignore_index=True)


def frames(world: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The world's customers, order lines and products, dates parsed once (the daily loop filters them)."""
    customers = read_entity(world, "customers")
    customers["signup_date"] = pd.to_datetime(customers["signup_date"])
    lines = read_entity(world, "order_items")
    lines["order_ts"] = pd.to_datetime(lines["order_ts"])
    return customers, lines, read_entity(world, "products")


def flagged_days(world: Path, first: dt.date, last: dt.date, alpha: float, min_psi: float) -> dict:
    """Business date -> the flagged features (only dates with any)."""
    customers, lines, products = frames(world)
    known = products[pd.to_datetime(products["launch_date"]).dt.date <= REFERENCE_CUTOFF]
    reference = inputs_reference(customers, lines, known, REFERENCE_CUTOFF)
    out = {}
    day = first
    while day <= last:
        rows = inputs_drift(reference, customers, lines, products, day, alpha, min_psi)
        flagged = [r.feature for r in rows if r.drifted]
        if flagged:
            out[day] = flagged
        day += dt.timedelta(days=1)
    return out


def orders_of(world: Path) -> pd.DataFrame:
    """One row per order as the warehouse's order_drift query reads it (date of its timestamp)."""
    lines = read_entity(world, "order_items")
    lines["order_date"] = pd.to_datetime(lines["order_ts"]).dt.date
    lines["list_value"] = lines["quantity"] * lines["unit_price"]  # before discounts
    grouped = lines.groupby(["order_id", "order_date"], as_index=False)
    return grouped.agg(order_value=("list_value", "sum"), basket_size=("quantity", "sum"))


def retrain_days(world: Path, first: dt.date, last: dt.date, rule: RetrainRule, alpha, min_psi) -> dict:
    """Business date -> (order drift, recent-inputs drift, retrain, orders in the window) of
    model_monitoring's retraining decision (monitoring.retrain.decide: the day a drift episode of the
    recent orders, or of the recent inputs with their rolling reference as the DAG runs them,
    reaches rule.persist_days consecutive days), every date first..last."""
    orders = orders_of(world)
    customers, lines, products = frames(world)

    def on(day: dt.date) -> tuple[dict, list[str]]:
        reference = inputs_reference(customers, lines, products, reference_cutoff(day))
        rows = inputs_drift(reference, customers, lines, products, day, alpha, min_psi)
        return window_drift(orders, day, rule), [r.feature for r in rows if r.drifted]

    k = rule.persist_days
    history = [on(first - dt.timedelta(days=n)) for n in range(k, 0, -1)]  # D - k .. D - 1
    out, day = {}, first
    while day <= last:
        history = [*history[-k:], on(day)]
        fires, reason = trigger([h[0] for h in history], rule)
        today = history[-1]
        retrain = decide(today[0] | {"retrain": fires, "reason": reason}, [h[1] for h in history], k)[0]
        out[day] = (today[0]["drifted"], today[1], retrain, today[0]["n_current"])
        day += dt.timedelta(days=1)
    return out


def episodes(days: list[dt.date]) -> int:
    return sum(1 for i, d in enumerate(days) if i == 0 or (d - days[i - 1]).days > 1)


def alarm_days(flagged, persist: int) -> list[dt.date]:
    """The dates ending `persist` flagged dates in a row: when EcommModelDrift fires (its
    ecomm_model_drift_days >= 2, ECOMM_DRIFT_RETRAIN_DAYS' default, as the retraining waits)."""
    flagged = set(flagged)
    return sorted(d for d in flagged if all(d - dt.timedelta(days=n) in flagged for n in range(persist)))


def run_seed(
    seed: int,
    customers: int,
    products: int,
    root: Path,
    alpha: float,
    min_psi: float,
    rule: RetrainRule,
    inputs_alpha: float,
) -> dict:
    """One seed's worlds: the fixed-reference flags at `alpha`; the retraining decision with `rule`
    and the recent inputs tested at `inputs_alpha` (ECOMM_DRIFT_RETRAIN_INPUTS_ALPHA)."""
    base = dict(seed=seed, customers=customers, products=products, days=DAYS, as_of=AS_OF)
    stable = root / f"stable-{seed}"
    generate_history(GeneratorConfig(**base), stable)
    history_start = AS_OF - dt.timedelta(days=DAYS - 1)
    # the first date whose D - persist_days has both detectors' full windows (the inputs' reference
    # is longer)
    full = recent.WINDOW_DAYS + recent.REFERENCE_DAYS + rule.persist_days
    trigger_first = history_start + dt.timedelta(days=full)
    assert recent.REFERENCE_DAYS >= REFERENCE_DAYS and recent.WINDOW_DAYS == WINDOW_DAYS
    stable_days = retrain_days(stable, trigger_first, AS_OF, rule, inputs_alpha, min_psi)
    first = REFERENCE_CUTOFF + dt.timedelta(days=1)
    last = max(
        REFERENCE_CUTOFF + dt.timedelta(days=FALSE_ALARM_DAYS), DRIFT_START + dt.timedelta(days=DETECT_DAYS)
    )
    everyday = flagged_days(stable, first, last, alpha, min_psi)
    alarms = {d: f for d, f in everyday.items() if (d - REFERENCE_CUTOFF).days <= FALSE_ALARM_DAYS}
    k = rule.persist_days
    stable_alerts = set(alarm_days(everyday, k))
    alerts = sorted(d for d in stable_alerts if (d - REFERENCE_CUTOFF).days <= FALSE_ALARM_DAYS)
    result = {
        "seed": seed,
        "stable": {
            "days_monitored": FALSE_ALARM_DAYS,
            "flagged_days": len(alarms),
            "episodes": episodes(sorted(alarms)),
            "flags": {d.isoformat(): f for d, f in sorted(alarms.items())},
            "alert_days": len(alerts),
            "alert_episodes": episodes(alerts),
        },
        "drift": {},
        "retrain_stable": {
            "first_day": trigger_first.isoformat(),
            "days_monitored": len(stable_days),
            "orders_in_window": [
                min(v[3] for v in stable_days.values()),
                max(v[3] for v in stable_days.values()),
            ],
            "order_drifted_days": sum(bool(v[0]) for v in stable_days.values()),
            "inputs_drifted_days": sum(bool(v[1]) for v in stable_days.values()),
            "retrainings": {d.isoformat(): v[0] + v[1] for d, v in stable_days.items() if v[2]},
            "drifted": {d.isoformat(): [v[0], v[1]] for d, v in stable_days.items() if v[0] or v[1]},
        },
        "retrain_drift": {},
    }
    for kind, regime in KINDS.items():
        world = root / f"{kind}-{seed}"
        generate_history(GeneratorConfig(**base, regimes=(regime,)), world)
        flags = flagged_days(  # from k - 1 days before: the alert on the start counts them
            world, DRIFT_START - dt.timedelta(days=k - 1), DRIFT_START + dt.timedelta(days=DETECT_DAYS - 1),
            alpha, min_psi,
        )  # fmt: skip
        alerted = [d for d in alarm_days(flags, k) if d >= DRIFT_START and d not in stable_alerts]
        flags = {d: f for d, f in flags.items() if d >= DRIFT_START}
        new = {d: f for d, f in flags.items() if not set(f) <= set(everyday.get(d, []))}
        first_flag = min(new, default=None)
        last = DRIFT_START + dt.timedelta(days=DETECT_DAYS - 1)
        days = retrain_days(world, DRIFT_START, last, rule, inputs_alpha, min_psi)
        fired = [d for d, v in days.items() if v[2] and not stable_days[d][2]]
        orders_new = [d for d, v in days.items() if not set(v[0]) <= set(stable_days[d][0])]
        result["retrain_drift"][kind] = {
            "days_to_retrain": None if not fired else (fired[0] - DRIFT_START).days,
            "flagged_by": [] if not fired else days[fired[0]][0] + days[fired[0]][1],
            "days_to_order_drift": None if not orders_new else (orders_new[0] - DRIFT_START).days,
            "drifted": {d.isoformat(): [v[0], v[1]] for d, v in days.items() if v[0] or v[1]},
        }
        result["drift"][kind] = {
            "days_to_flag": None if first_flag is None else (first_flag - DRIFT_START).days,
            "features": new.get(first_flag, []),
            "days_to_alert": None if not alerted else (alerted[0] - DRIFT_START).days,
            "alerted_by": [] if not alerted else flags[alerted[0]],
        }
    return result


def summarise(seeds: list[dict]) -> dict:
    delays = {k: [s["drift"][k]["days_to_flag"] for s in seeds] for k in KINDS}
    per_180 = [s["stable"]["flagged_days"] * 180 / s["stable"]["days_monitored"] for s in seeds]
    alerts = {k: [s["drift"][k]["days_to_alert"] for s in seeds] for k in KINDS}
    alerts_180 = [s["stable"]["alert_episodes"] * 180 / s["stable"]["days_monitored"] for s in seeds]
    retrain_delays = {k: [s["retrain_drift"][k]["days_to_retrain"] for s in seeds] for k in KINDS}
    retrain_days = sum(s["retrain_stable"]["days_monitored"] for s in seeds)
    retrainings = sum(len(s["retrain_stable"]["retrainings"]) for s in seeds)
    return {
        "days_to_flag": delays,
        "detected_within_target": {
            k: all(d is not None and d <= TARGET_DETECT_DAYS for d in v) for k, v in delays.items()
        },
        "false_alarm_days_per_180": per_180,
        "false_alarms_within_target": all(v <= TARGET_FALSE_ALARMS for v in per_180),
        "days_to_alert": alerts,
        "alerts_within_target": {
            k: all(d is not None and d <= TARGET_DETECT_DAYS for d in v) for k, v in alerts.items()
        },
        "false_alerts_per_180": alerts_180,
        "false_alerts_within_target": all(v <= TARGET_FALSE_ALARMS for v in alerts_180),
        "retrain_days_to_trigger": retrain_delays,
        "stable_retrainings": retrainings,
        "stable_retrain_days": retrain_days,
        "stable_retrainings_per_180": round(retrainings * 180 / retrain_days, 2),
    }


def run(
    seeds: list[int],
    customers: int,
    products: int,
    alpha: float,
    min_psi: float,
    rule: RetrainRule,
    inputs_alpha: float,
    processes: int = 1,
) -> dict:
    """Every seed's worlds measured, `processes` seeds at a time (separate processes)."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp, ProcessPoolExecutor(processes) as pool:
        args = (customers, products, Path(tmp), alpha, min_psi, rule, inputs_alpha)
        results = list(pool.map(run_seed, seeds, *([a] * len(seeds) for a in args)))
    return {
        "benchmark": "drift",
        "measured_on": dt.date.today().isoformat(),
        "world": {"customers": customers, "products": products, "days": DAYS, "as_of": AS_OF.isoformat()},
        "reference_cutoff": REFERENCE_CUTOFF.isoformat(),
        "drift_start": DRIFT_START.isoformat(),
        "magnitudes": {k: r.magnitude for k, r in KINDS.items()},
        "alpha": alpha,
        "min_psi": min_psi,
        "order_trigger_rule": {
            "alpha": rule.alpha,
            "min_psi": rule.min_psi,
            "min_orders": rule.min_orders,
            "persist_days": rule.persist_days,
            "inputs_alpha": inputs_alpha,
        },
        "targets": {"detect_days": TARGET_DETECT_DAYS, "false_alarms_per_180": TARGET_FALSE_ALARMS},
        "seeds": results,
        "summary": summarise(results),
        "seconds": round(time.perf_counter() - started, 1),
        "processes": processes,
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # at the start and the end
    }


def run_with_settings(seeds: list[int], customers: int | None = None, products: int | None = None) -> dict:
    """`run` with the flag rule's settings (ECOMM_DRIFT_ALPHA, ECOMM_DRIFT_MIN_PSI) on worlds of the
    default shop's size (ECOMM_CUSTOMERS, ECOMM_PRODUCTS defaults) unless given."""
    settings = Settings(_env_file=None)
    return run(
        seeds,
        settings.customers if customers is None else customers,
        settings.products if products is None else products,
        settings.drift_alpha,
        settings.drift_min_psi,
        RetrainRule.of(settings),
        settings.drift_retrain_inputs_alpha,
    )


def main() -> None:
    settings = Settings(_env_file=None)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--customers", type=int, default=settings.customers, help="default: ECOMM_CUSTOMERS (5000 unless set)"
    )
    parser.add_argument(
        "--products", type=int, default=settings.products, help="default: ECOMM_PRODUCTS (500 unless set)"
    )
    parser.add_argument("--alpha", type=float, default=settings.drift_alpha)
    parser.add_argument("--min-psi", type=float, default=settings.drift_min_psi)
    parser.add_argument(
        "--persist-days", type=int, default=settings.drift_retrain_days, help="ECOMM_DRIFT_RETRAIN_DAYS"
    )
    parser.add_argument(
        "--retrain-inputs-alpha",
        type=float,
        default=settings.drift_retrain_inputs_alpha,
        help="ECOMM_DRIFT_RETRAIN_INPUTS_ALPHA",
    )
    parser.add_argument("--processes", type=int, default=1, help="seeds measured at a time")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    rule = RetrainRule.of(settings.model_copy(update={"drift_retrain_days": args.persist_days}))
    payload = run(
        args.seeds,
        args.customers,
        args.products,
        args.alpha,
        args.min_psi,
        rule,
        args.retrain_inputs_alpha,
        args.processes,
    )
    print(write_result("drift", payload, args.results))
    print(payload["summary"])


if __name__ == "__main__":
    main()
