"""The served recommender on a real rating log through the import path: MovieLens 100K (installed by
`make realdata`, never committed) written as the CSV a user would have, `ecomm import interactions`'s
code, `ecomm train recommender`'s code, then `ecomm evaluate`'s comparison of the registered model.

The warehouse holds only the ratings (reviews of no known order), so the recommender learns from
them (ecomm.ml.recommend.dataset.RATINGS): the last 28 loaded days are the holdout, the 28 before
them validation; a holdout customer's relevant items are the products they rated there and had not
rated before. Rows: the registered re-ranked model, each of its candidate generators alone, a tuned
item-kNN, popularity over the whole training window and over its last 56 days (no oracle: no truth).
Default settings (seed 42), the embedded PostgreSQL under ECOMM_BENCH_WORK (default benchmarks/.work).

python -m benchmarks.bench_import_recommend [--trials 2] -> benchmarks/results/import_recommend.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from ecomm import db
from ecomm.imports import interactions
from ecomm.imports.run import import_interactions
from ecomm.imports.values import parse_mapping
from ecomm.ml import tracking
from ecomm.ml.recommend.real_logs import REAL_LOGS, load_real_log
from ecomm.ml.recommend.train import RecConfig, train_recommender
from ecomm.settings import Settings

from benchmarks.common import RESULTS, WORK, stops_what_it_starts, write_result

LOG = "movielens_100k"
MAPPING = "user_id=user_id,item_id=item_id,rating=rating,timestamp=timestamp"
ROWS = ("model", "als", "item_knn", "item_knn_bm25", "recent_popular", "popular", "category")
METRICS = ("ndcg_at_10", "recall_at_10", "coverage_at_10", "warm_ndcg_at_10", "cold_ndcg_at_10")


def write_csv(path) -> int:
    """The log as the CSV a user exports: unix seconds, whole stars."""
    frame = load_real_log(LOG)
    frame["timestamp"] = frame["timestamp"].astype("int64") // 10**9
    frame["rating"] = frame["rating"].astype(int)
    frame.to_csv(path, index=False)
    return len(frame)


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def rounded(row: dict) -> dict:
    return {m: round(float(row[m]), 4) for m in (*METRICS, "users", "warm_users", "cold_users") if m in row}


def run(trials: int) -> dict:
    base = Settings(_env_file=None, home=WORK / "home")
    settings = base.model_copy(
        update={"warehouse_db": "bench_import_recommend", "mlflow_db": "bench_import_recommend_mlflow"}
    )
    out = {
        "measured_on": dt.date.today().isoformat(),
        "log": LOG,
        "source": REAL_LOGS[LOG][1],
        "seed": settings.seed,
    }
    with stops_what_it_starts(base):
        for name in (settings.warehouse_db, settings.mlflow_db):
            db.drop_database(base, name)
        csv = WORK / f"{LOG}.csv"
        WORK.mkdir(parents=True, exist_ok=True)
        out["rows"] = write_csv(csv)
        mapping = parse_mapping(MAPPING, interactions.REQUIRED, interactions.OPTIONAL)
        out["load_before"] = loadavg()
        started = time.perf_counter()
        report = import_interactions(settings, csv, mapping, out=WORK / "import_recommend_batches")
        out["import_seconds"] = round(time.perf_counter() - started, 1)
        d = report.derived
        out["import"] = {
            "ratings": d.ratings,
            "customers": d.customers,
            "products": d.products,
            "first_day": d.first_day.isoformat(),
            "last_day": d.last_day.isoformat(),
            "quarantined": report.quarantined,
        }
        out["load_after_import"] = loadavg()
        result = train_recommender(settings, RecConfig.from_settings(settings, n_trials=trials))
        out["train_seconds"] = round(result.seconds, 1)
        out["load_after_train"] = loadavg()
        out["trained"] = {
            "version": result.version,
            "promoted": result.gate.promoted,
            "split": result.split,
            "params": {k: result.params[k] for k in ("label_windows", "label_days", "ranker_trees")},
            "item_knn_tuned": {k: v for k, v in result.tuning["item_knn_tuned"].items() if k != "grid"},
            "rows": {name: rounded(row) for name, row in result.metrics.items()},
        }
        from ecomm.ml.report import compare_recommender

        started = time.perf_counter()
        evaluated = compare_recommender(settings, tracking.configure(settings))
        out["evaluate_seconds"] = round(time.perf_counter() - started, 1)
        out["evaluate"] = {
            "holdout": evaluated.holdout,
            "rows": {n: rounded(r) for n, r in evaluated.rows.items()},
        }
        out["load_after"] = loadavg()
        for name in (settings.warehouse_db, settings.mlflow_db):
            db.drop_database(base, name)
        csv.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=2, help="re-ranker label-window settings tried")
    result = run(parser.parse_args().trials)
    for name, row in result["trained"]["rows"].items():
        print(f"{name:>16} {row}")
    print(f"wrote {write_result('import_recommend', result, RESULTS)}")


if __name__ == "__main__":
    main()
