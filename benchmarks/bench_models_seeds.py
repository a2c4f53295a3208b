"""The five models' quality targets (`ecomm evaluate`) over several world seeds.

The docs report (benchmarks/docs_results.py) judges the targets on one world; this repeats it on
several seeds so a target met or missed is seen to hold beyond one draw. Each seed: generate a world,
load it (without marts: no trainer reads them), train every registered model with few tuning trials,
`evaluate`, then drop the seed's warehouse and MLflow databases. One embedded server serves all seeds.

python -m benchmarks.bench_models_seeds [--seeds 1 2 3] [--customers 2000] [--products 200]
    [--days 730] [--churn-trials 6] [--recommender-trials 4]
    -> benchmarks/results/models_seeds.json
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import date

from ecomm import db
from ecomm.settings import Settings

from benchmarks.common import WORK, by_target, stops_what_it_starts, world_of, write_result

AS_OF = date(2025, 11, 30)


def seed_settings(base: Settings, seed: int, churn_trials: int, recommender_trials: int) -> Settings:
    """The seed's own warehouse and MLflow databases, so no seed sees another's models."""
    return base.model_copy(
        update={
            "warehouse_db": f"bench_models_seed_{seed}",
            "mlflow_db": f"bench_models_mlflow_seed_{seed}",
            "churn_trials": churn_trials,
            "recommender_trials": recommender_trials,
        }
    )


def drop_seed(base: Settings, settings: Settings) -> None:
    for name in (settings.warehouse_db, settings.mlflow_db):
        db.drop_database(base, name)
    shutil.rmtree(settings.mlflow_artifacts_dir, ignore_errors=True)


def one_seed(base: Settings, seed: int, args: argparse.Namespace) -> dict:
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.ml import registry
    from ecomm.ml.report import evaluate
    from ecomm.ml.training_plan import train_model
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.run import load_path

    settings = seed_settings(base, seed, args.churn_trials, args.recommender_trials)
    raw = WORK / f"models-seed-{seed}"
    shutil.rmtree(raw, ignore_errors=True)
    drop_seed(base, settings)
    start = time.perf_counter()
    config = GeneratorConfig(
        seed=seed, as_of=AS_OF, days=args.days, customers=args.customers, products=args.products
    )
    generate_history(config, raw)
    migrate(settings)
    assert load_path(settings, raw, marts=False).ok
    prepared = time.perf_counter()
    train_seconds = {name: round(train_model(settings, name).seconds, 1) for name in registry.MODEL_NAMES}
    trained = time.perf_counter()
    targets = evaluate(settings).targets
    evaluated = time.perf_counter()
    drop_seed(base, settings)
    shutil.rmtree(raw, ignore_errors=True)
    return {
        "seed": seed,
        "targets": [
            {"name": t.name, "observed": t.observed, "required": t.required, "met": t.met, "detail": t.detail}
            for t in targets
        ],
        "train_seconds": train_seconds,
        "seconds": {
            "generate_and_load": round(prepared - start, 1),
            "train": round(trained - prepared, 1),
            "evaluate": round(evaluated - trained, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--churn-trials", type=int, default=6)
    parser.add_argument("--recommender-trials", type=int, default=4)
    args = parser.parse_args()
    base = Settings(_env_file=None, home=WORK / "home")
    seeds, start = [], time.perf_counter()
    with stops_what_it_starts(base):
        db.start_embedded(base)
        for seed in args.seeds:
            seeds.append(one_seed(base, seed, args))
            print(f"seed {seed}: done at {time.perf_counter() - start:.0f} s", flush=True)
    result = {
        "measured_on": date.today().isoformat(),
        "world": world_of(AS_OF, args),
        "churn_trials": args.churn_trials,
        "recommender_trials": args.recommender_trials,
        "seeds": seeds,
        "targets": by_target(seeds),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(write_result("models_seeds", result))


if __name__ == "__main__":
    main()
