"""The causal report on the simulated shop over several world seeds: each estimator's error spread.

The causal tests check one world (seed 42, 20,000 customers x 200 days); this measures how far each
estimate lands from the planted effect across seeds, so the tests' tolerances rest on a measured
spread instead of on one draw. Each seed: generate, load (without marts), `build_report` with the
report's default options but no DoWhy refutation, then drop the database.

python -m benchmarks.bench_causal_seeds [--seeds 1 2 3 ...] [--customers 20000] [--days 200]
    -> benchmarks/results/causal_seeds.json
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import date

import numpy as np
import pandas as pd

from ecomm import db
from ecomm.settings import Settings

from benchmarks.common import WORK, stops_what_it_starts, write_result

TOLERANCE = 0.15  # the causal tests' tolerance, relative to the planted effect
MAIN_ROWS = (  # (campaign_id, method, estimand): the estimates the causal tests hold to the truth
    (1, "propensity_score_matching", "ATT"),
    (1, "propensity_score_matching", "ATE"),
    (1, "inverse_propensity_weighting", "ATE"),
    (1, "inverse_propensity_weighting", "ATT"),
    (1, "dowhy:backdoor.propensity_score_weighting", "ATE"),
    (1, "dml_linear", "ATE"),
    (1, "dml_linear", "ATT"),
    (2, "difference_in_differences", "ATT"),
)


def one_seed(base: Settings, seed: int, customers: int, days: int) -> pd.DataFrame:
    from ecomm.causal.report import ReportOptions, build_report
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.run import load_path

    settings = base.model_copy(update={"warehouse_db": f"bench_causal_seed_{seed}"})
    raw = WORK / f"causal-seed-{seed}"
    shutil.rmtree(raw, ignore_errors=True)
    db.drop_database(base, settings.warehouse_db)
    config = GeneratorConfig(seed=seed, as_of=date(2025, 3, 31), days=days, customers=customers, products=500)
    generate_history(config, raw)
    migrate(settings)
    assert load_path(settings, raw, marts=False).ok
    with db.connection(settings) as conn:
        table = build_report(conn, ReportOptions(refute_simulations=0)).table
    db.drop_database(base, settings.warehouse_db)
    shutil.rmtree(raw, ignore_errors=True)
    return table.assign(seed=seed)


def summarise(tables: pd.DataFrame) -> list[dict]:
    out = []
    for campaign_id, method, estimand in MAIN_ROWS:
        rows = tables[
            (tables.campaign_id == campaign_id) & (tables.method == method) & (tables.estimand == estimand)
        ]
        rel = rows.relative_error.to_numpy()
        se = (rows.ci_high - rows.ci_low).to_numpy() / (2 * 1.96) / rows.true_effect.abs().to_numpy()
        out.append(
            {
                "method": method,
                "estimand": estimand,
                "relative_error_mean": round(float(rel.mean()), 4),
                "relative_error_sd": round(float(rel.std(ddof=1)), 4),
                "within_tolerance": int((np.abs(rel) <= TOLERANCE).sum()),
                "covers_truth": int(rows.covers_truth.sum()),
                "relative_half_width_mean": round(float(se.mean() * 1.96), 4),
                "seeds": len(rows),
                "relative_error_by_seed": {
                    int(s): round(float(r), 4) for s, r in zip(rows.seed, rel, strict=True)
                },
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=200)
    args = parser.parse_args()
    base = Settings(_env_file=None, home=WORK / "home")
    tables, start = [], time.perf_counter()
    with stops_what_it_starts(base):
        db.start_embedded(base)
        for seed in args.seeds:
            tables.append(one_seed(base, seed, args.customers, args.days))
            print(f"seed {seed}: done at {time.perf_counter() - start:.0f} s", flush=True)
    result = {
        "customers": args.customers,
        "days": args.days,
        "tolerance": TOLERANCE,
        "estimators": summarise(pd.concat(tables, ignore_index=True)),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(write_result("causal_seeds", result))


if __name__ == "__main__":
    main()
