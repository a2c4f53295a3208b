"""The churn champion after a drift-triggered retraining, on the new regime, against the oracle
(issue 19's target: back to >= 0.95 x the oracle AUC).

Per seed: one world with the planted `young_deal_channel` regime from DRIFT_START (the kind that
touches the churn model's inputs: age, acquisition channel, deal-seeking customers), generated here
and loaded day by day as the daily pipeline would:
1. the batches up to the day before the start are loaded and `churn_model` v1 is trained as the ML
   DAG trains it (ecomm.ml.training_plan.train_model: registered, gated; the first version is the
   champion);
2. the daily monitoring of the model_monitoring DAG runs on every date from PRE_DAYS before the start
   (those dates show what it flags on the unchanged world) and then, loading each date first, from
   the start on: `model_drift` (churn_model against its training reference, and the recent inputs)
   and the DAG's retraining decision (monitoring.retrain.decision: a drift episode of the recent
   orders' trigger or of the recent inputs reaching ECOMM_DRIFT_RETRAIN_DAYS, recorded in
   `retrain_rule`). The first date on or after the start on which it retrains is the retraining
   date; without one within MAX_WAIT_DAYS (the issue's 7-day detection target) the last date of the
   wait is, recorded as not triggered;
3. on it churn is retrained as `trigger_retraining` -> `train_churn` does (train_model: v2, the
   promotion gate decides the champion);
4. the rest of the world is loaded and, on its freshest cutoff whose label window has closed
   (2025-01-01 with the 90-day label: four months into the regime), the champion after the
   retraining, v1 and v2 are scored against the labels beside the oracle (the generator's true
   churn probability of the same customers, truth.customer_churn), as `ecomm evaluate` scores them;
   also on the customers who signed up since the start (the new channel's among them);
5. for contrast, churn retrained once more on the whole world (as a weekly retraining at its end
   would): its training cutoffs reach 2024-10-01, the first with the regime's new customers and
   their labels; its evaluation cutoff is the cutoff scored here, which no training label reaches.
What the triggered retraining can learn: a cutoff's churn label needs the whole horizon (90 days)
after it, so a retraining within days of the start trains on the same labelled cutoffs as v1 (each
version's `train_cutoffs` and `evaluation_cutoff` are recorded): no label of the new regime exists
yet, and the gate compares both on the same pre-regime holdout.

python -m benchmarks.bench_drift_retrain --seeds 1 2 3   # 1-6 minutes per seed on 2 cores at load 2-6
python -m benchmarks.bench_drift_retrain --seeds 1 --resume   # continue a killed run's seed 1 world
    -> benchmarks/results/drift_retrain.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import time
from pathlib import Path

from ecomm import db
from ecomm.datagen.config import REGIME_MAGNITUDE
from ecomm.settings import Settings

from benchmarks.common import RESULTS, WORK, stops_what_it_starts, write_result

KIND = "young_deal_channel"
AS_OF = dt.date(2025, 3, 31)
DAYS = 540  # from 2023-10-09: three training cutoffs before the start, a cutoff with the regime's
# new customers (2024-10-01) labelled and evaluated within the world
DRIFT_START = dt.date(2024, 9, 1)
PRE_DAYS = 7
MAX_WAIT_DAYS = 7  # issue 19's detection target
TARGET_RATIO = 0.95


def seed_settings(base: Settings, seed: int, churn_trials: int) -> Settings:
    """The seed's own warehouse, MLflow database and drift reports."""
    return base.model_copy(
        update={
            "warehouse_db": f"bench_retrain_seed_{seed}",
            "mlflow_db": f"bench_retrain_mlflow_seed_{seed}",
            "churn_trials": churn_trials,
            "drift_reports": WORK / f"retrain-reports-{seed}",
        }
    )


def drop_seed(base: Settings, settings: Settings, raw: Path) -> None:
    for name in (settings.warehouse_db, settings.mlflow_db):
        db.drop_database(base, name)
    for path in (settings.mlflow_artifacts_dir, settings.drift_reports_dir, raw):
        shutil.rmtree(path, ignore_errors=True)


def load_until(settings: Settings, raw: Path, day: dt.date | None) -> int:
    """Load the world's batches up to `day` (None: all) and its truth, as the daily pipeline's load
    step does (no marts: neither the monitoring nor the trainer reads them); batches loaded."""
    from ecomm.warehouse.load import load_directory
    from ecomm.warehouse.truth import load_truth, truth_dir_for

    with db.connection(settings) as conn:
        results = load_directory(
            conn, raw, threshold=settings.bad_row_threshold, until=day, zone=settings.shop_timezone
        )
        load_truth(conn, truth_dir_for(raw))
    rejected = [r for r in results if r.status not in ("loaded", "skipped")]
    assert not rejected, [(r.batch_date, r.status, r.message) for r in rejected]
    return sum(r.status == "loaded" for r in results)


def monitor_day(settings: Settings, day: dt.date) -> dict:
    """The model_monitoring DAG's run for `day`: its retraining decision (monitoring.retrain.decision:
    a drift episode of the recent orders or of the recent inputs that reached ECOMM_DRIFT_RETRAIN_DAYS)
    and the churn model's drift flags."""
    from ecomm.ml import registry
    from ecomm.monitoring.models import monitor_served_models
    from ecomm.monitoring.recent_inputs import INPUTS

    drift = {r.model: r for r in monitor_served_models(settings, day)}
    assert drift[registry.CHURN_MODEL].status == "monitored", drift[registry.CHURN_MODEL]
    return decided(settings, day, drift[registry.CHURN_MODEL].drifted, drift[INPUTS].drifted)


def decided(settings: Settings, day: dt.date, churn_drifted: list[str], inputs_drifted: list[str]) -> dict:
    from ecomm.monitoring.orders import order_drift
    from ecomm.monitoring.retrain import decision

    orders = order_drift(settings, day)
    retrain, reason, _ = decision(settings, day, orders)
    return {
        "day": day.isoformat(),
        "order_drifted": orders["drifted"],
        "churn_drifted": churn_drifted,
        "inputs_drifted": inputs_drifted,
        "retrain": retrain,
        "reason": reason,
    }


def flagged_by(day: dict) -> list[str]:
    """What retrains on `day`: the DAG's decision (monitoring.retrain), its reason. churn_model's own
    drift is recorded, not a trigger: its population ages between the reference and the day, so it
    flags features on unchanged worlds too (README "Model drift")."""
    return [day["reason"]] if day["retrain"] else []


def trained(settings: Settings) -> dict:
    """churn_model trained as the ML DAG's train_churn task trains it; the version, its gate and the
    labelled cutoffs it learnt from."""
    from ecomm.ml import registry
    from ecomm.ml.training_plan import train_model

    result = train_model(settings, registry.CHURN_MODEL)
    gate = {
        "promoted": result.gate.promoted,
        "champion_after": result.gate.champion_after,
        "gate": result.gate.reason,
    }
    return version_info(settings, result.version) | gate | {"seconds": round(result.seconds, 1)}


def version_info(settings: Settings, version: str) -> dict:
    """A registered churn version's labelled cutoffs, family and ratio to the oracle on its own
    (pre-regime) evaluation cutoff, from its training run."""
    from ecomm.ml import registry, tracking
    from ecomm.ml.comparison import run_metrics, run_params

    client = tracking.configure(settings)
    params = run_params(client, registry.CHURN_MODEL, version)
    metrics = run_metrics(client, registry.CHURN_MODEL, version)
    return {
        "version": version,
        "train_cutoffs": params["train_cutoffs"].split(","),
        "evaluation_cutoff": params["evaluation_cutoff"],
        "family": params.get("full_head_family"),
        "auc_to_oracle_at_evaluation_cutoff": metrics.get("auc_to_oracle"),
    }


def registered_on(settings: Settings, last_batch: str) -> dict | None:
    """--resume: the churn version a killed run trained on the warehouse loaded to `last_batch`
    (its trained_on.last_batch tag) with its gate's outcome, or None."""
    from ecomm.ml import registry, tracking

    client = tracking.configure(settings)
    for found in client.search_model_versions(f"name = '{registry.CHURN_MODEL}'"):
        if found.tags.get("trained_on.last_batch") == last_batch:
            run = client.get_run(found.run_id).data
            champion = registry.alias_version(client, registry.CHURN_MODEL, registry.CHAMPION)
            scores = {k: run.metrics.get(f"gate_{k}_roc_auc") for k in ("challenger", "champion")}
            gate = {
                "promoted": run.tags.get("promoted") == "true",
                "champion_after": champion,
                "gate": f"{scores}",
            }
            return version_info(settings, str(found.version)) | gate
    return None


def stored_day(settings: Settings, day: dt.date) -> dict | None:
    """A date a killed run monitored already (--resume): its stored flags (marts.model_monitoring)
    and its decision recomputed; None when it was not monitored."""
    from ecomm.ml import registry
    from ecomm.monitoring.recent_inputs import INPUTS

    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT model_name, feature, drifted FROM marts.model_monitoring WHERE business_date = %s "
            "AND model_name IN (%s, %s) ORDER BY feature",
            (day, registry.CHURN_MODEL, INPUTS),
        )
        rows = cur.fetchall()
    if {r[0] for r in rows} != {registry.CHURN_MODEL, INPUTS}:
        return None
    churn = [f for m, f, d in rows if m == registry.CHURN_MODEL and d]
    return decided(settings, day, churn, [f for m, f, d in rows if m == INPUTS and d])


def scored_on_new_regime(settings: Settings, versions: dict[str, str]) -> dict:
    """ROC-AUC of each version (label -> version) and of the oracle on the freshest labelled cutoff,
    on every customer and on those who signed up since the start (rows the truth covers)."""
    import mlflow
    import numpy as np

    from ecomm.features import columns as C
    from ecomm.ml import registry
    from ecomm.ml.churn.dataset import load_holdout
    from ecomm.ml.churn.evaluate import ORACLE, oracle_scores, score_table
    from ecomm.ml.churn.model import signature_columns
    from ecomm.ml.serving import CHURN_PROBABILITY

    with db.connection(settings) as conn:
        cutoff, holdout = load_holdout(conn, settings.churn_horizon_days)
        oracle = oracle_scores(conn, holdout, cutoff, settings.churn_horizon_days).to_numpy()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT customer_id FROM warehouse.dim_customer WHERE signup_date >= %s", (DRIFT_START,)
            )
            new = {row[0] for row in cur.fetchall()}
    features = [c for c in holdout.columns if c not in (C.CUSTOMER_ID, C.CUTOFF, C.LABEL)]
    scores = {ORACLE: oracle}
    for label, version in versions.items():
        model = mlflow.pyfunc.load_model(registry.model_uri(registry.CHURN_MODEL, version))
        predicted = model.predict(signature_columns(model, holdout[features]))[CHURN_PROBABILITY]
        scores[label] = predicted.to_numpy()
    is_new = holdout[C.CUSTOMER_ID].isin(new).to_numpy()
    out = {"cutoff": cutoff.isoformat(), "horizon_days": settings.churn_horizon_days}
    for group, rows in (("all", np.ones(len(holdout), dtype=bool)), ("signed_up_since_start", is_new)):
        y = holdout[C.LABEL][rows]
        covered = int(np.isfinite(oracle[rows]).sum())
        if y.nunique() < 2 or covered == 0:
            out[group] = {"customers": int(rows.sum()), "churned": int(y.sum()), "roc_auc": None}
            continue
        table = score_table(y, {k: v[rows] for k, v in scores.items()})
        out[group] = {
            "customers": int(rows.sum()),
            "covered_by_truth": covered,
            "churned": int(y.sum()),
            "roc_auc": {k: round(t["roc_auc"], 4) for k, t in table.items()},
            "auc_to_oracle": {
                k: round(t["roc_auc"] / table[ORACLE]["roc_auc"], 4) for k, t in table.items() if k != ORACLE
            },
        }
    return out


def resumable(settings: Settings) -> bool:
    """The seed's world of a killed run: churn v1 registered (its warehouse loaded at least to the
    day before the start)."""
    from ecomm.ml import registry, tracking

    try:
        return (
            registry.alias_version(tracking.configure(settings), registry.CHURN_MODEL, registry.CHAMPION)
            is not None
        )
    except Exception:  # no MLflow database yet
        return False


def say(seed: int, clock: dict, what: str) -> None:
    print(f"seed {seed} at {time.perf_counter() - clock['start']:.0f} s: {what}", flush=True)


def one_seed(base: Settings, seed: int, args: argparse.Namespace) -> dict:
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.datagen.config import RegimeChange
    from ecomm.ml import registry, tracking
    from ecomm.warehouse.migrate import migrate

    settings = seed_settings(base, seed, args.churn_trials)
    raw = WORK / f"retrain-seed-{seed}"
    clock = {"start": time.perf_counter()}
    resumed = args.resume and resumable(settings)
    if not resumed:
        drop_seed(base, settings, raw)
        regime = RegimeChange(KIND, DRIFT_START, REGIME_MAGNITUDE[KIND][1])
        config = GeneratorConfig(
            seed=seed,
            as_of=AS_OF,
            days=args.days,
            customers=args.customers,
            products=args.products,
            regimes=(regime,),
        )
        generate_history(config, raw)
        migrate(settings)
        load_until(settings, raw, DRIFT_START - dt.timedelta(days=1))
    clock["loaded"] = time.perf_counter()
    say(seed, clock, "resumed" if resumed else "generated and loaded to the day before the start")
    before = version_info(settings, "1") if resumed else trained(settings)
    clock["trained"] = time.perf_counter()
    say(seed, clock, f"v{before['version']}: {before}")

    def monitored(day: dt.date) -> dict:
        found = stored_day(settings, day) if resumed else None
        if found is None:
            load_until(settings, raw, day)
            found = monitor_day(settings, day)
        say(seed, clock, f"{day}: {found}")
        return found

    days = [monitored(DRIFT_START - dt.timedelta(days=n)) for n in range(PRE_DAYS, 0, -1)]
    retrain_day = None
    for n in range(MAX_WAIT_DAYS):
        day = DRIFT_START + dt.timedelta(days=n)
        days.append(monitored(day))
        if flagged_by(days[-1]):
            retrain_day = day
            break
    clock["monitored"] = time.perf_counter()
    # not flagged within the wait: retrained at its end all the same, as if it had been (said so in
    # the result): any retraining this close to the start learns from the same labelled cutoffs
    retrained = (resumed and registered_on(settings, days[-1]["day"])) or trained(settings)
    retrained |= {"triggered": retrain_day is not None}
    clock["retrained"] = time.perf_counter()
    champion = registry.alias_version(tracking.configure(settings), registry.CHURN_MODEL, registry.CHAMPION)

    say(seed, clock, f"retrained: {retrained}")
    load_until(settings, raw, None)
    late = (resumed and registered_on(settings, AS_OF.isoformat())) or trained(
        settings
    )  # contrast: the whole world, labels reaching into the regime
    clock["late"] = time.perf_counter()
    # scored on the regime's labels: the champion after the retraining (v1 or v2, as the gate chose),
    # v1, v2 and the contrast (label -> version)
    versions = {
        "champion": champion,
        "before": before["version"],
        "retrained": retrained["version"],
        "late": late["version"],
    }
    scored = scored_on_new_regime(settings, versions)
    clock["scored"] = time.perf_counter()
    drop_seed(base, settings, raw)
    return {
        "seed": seed,
        "resumed": resumed,  # generation, load and v1 done by a killed run (their seconds are not here)
        "before": before,
        "monitoring": days,
        "retrain_day": days[-1]["day"],
        "days_to_retrain": None if retrain_day is None else (retrain_day - DRIFT_START).days,
        "retrain_flagged_by": flagged_by(days[-1]),
        "retrained": retrained,
        "champion_after_retraining": champion,
        "late": late,
        "new_regime": scored,
        "seconds": {
            "generate_and_load": round(clock["loaded"] - clock["start"], 1),
            "train_v1": round(clock["trained"] - clock["loaded"], 1),
            "monitor": round(clock["monitored"] - clock["trained"], 1),
            "retrain": round(clock["retrained"] - clock["monitored"], 1),
            "load_rest_and_late_retrain": round(clock["late"] - clock["retrained"], 1),
            "score": round(clock["scored"] - clock["late"], 1),
            "total": round(clock["scored"] - clock["start"], 1),
        },
    }


def run(
    seeds: list[int],
    customers: int = 2000,
    products: int = 200,
    days: int = DAYS,
    churn_trials: int = 6,
    resume: bool = False,
) -> dict:
    args = argparse.Namespace(
        customers=customers, products=products, days=days, churn_trials=churn_trials, resume=resume
    )
    base = Settings(_env_file=None, home=WORK / "home")
    results, start = [], time.perf_counter()
    with stops_what_it_starts(base):
        db.start_embedded(base)
        for seed in seeds:
            results.append(one_seed(base, seed, args))
            print(f"seed {seed}: done at {time.perf_counter() - start:.0f} s", flush=True)
    return {
        "benchmark": "drift_retrain",
        "measured_on": dt.date.today().isoformat(),
        "world": {"as_of": AS_OF.isoformat(), "days": days, "customers": customers, "products": products},
        "kind": KIND,
        "magnitude": REGIME_MAGNITUDE[KIND][1],
        "drift_start": DRIFT_START.isoformat(),
        "churn_horizon_days": base.churn_horizon_days,
        "churn_trials": churn_trials,
        "retrain_rule": {
            "alpha": base.drift_retrain_alpha,
            "min_psi": base.drift_retrain_psi,
            "min_orders": base.drift_retrain_min_orders,
            "persist_days": base.drift_retrain_days,
            "inputs_alpha": base.drift_retrain_inputs_alpha,
            "inputs_min_psi": base.drift_min_psi,
        },
        "target_ratio": TARGET_RATIO,
        "seeds": results,
        "seconds": round(time.perf_counter() - start, 1),
    }


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--churn-trials", type=int, default=6)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--resume", action="store_true", help="continue a killed run's seed world (its stored monitoring)"
    )
    return parser.parse_args(argv)


def main() -> None:
    args = options()
    payload = run(args.seeds, args.customers, args.products, args.days, args.churn_trials, args.resume)
    print(write_result("drift_retrain", payload, args.results))


if __name__ == "__main__":
    main()
