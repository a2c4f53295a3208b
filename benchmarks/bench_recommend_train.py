"""Training the recommender at the 1M-order world (issue 17: ≤ 5 minutes on 2 cores): `ecomm train
recommender` (the command the ML DAG's train_recommender task runs) timed in a child process, wall
and CPU seconds (user + sys of the child and everything it waited for: LightGBM's and implicit's
threads included; the PostgreSQL server's work for the read is not), with its phases as the run logs
them in MLflow (stage_<phase>_seconds and _cpu_seconds):

    startup        the interpreter, imports and settings, before training starts
    read           the warehouse read (RecData and the interactions frame)
    tune           the re-ranker's label windows on the validation split
    tune_item_knn  the tuned item-kNN baseline's grid (its row in the evaluation, not the served model)
    calibrate      the confidence curves on the validation window (reusing tuning's best model)
    fit            the final re-ranked model, fitted before the holdout
    lists          every known customer's top 100 and its explanations (the served state)
    evaluate       the holdout rows: each generator, item-kNN, popularity, the oracle; calibration check
    mlflow         logging, the pyfunc's registration, the drift reference and the promotion gate

Baseline, in the same run and the same way: the tuned item-kNN alone, what serving the best simple
model would cost: the same read, its grid (cosine or BM25 x 20/50/100 neighbours) on the validation
split, fitted before the holdout, every known customer's top 100 listed.

The world is the load benchmark's warehouse (`bench_ours`, ~1M orders) when it holds data, else built
once of --customers/--products/--days and reused (benchmarks.worlds). The model is registered in a
MLflow database of the benchmark's own, emptied first, so every run's gate meets no champion.

python -m benchmarks.bench_recommend_train [--warehouse bench_ours] -> results/recommend_train.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

from ecomm import db
from ecomm.orchestration.config import child_env
from ecomm.settings import Settings

from benchmarks.common import RESULTS, WORK, stops_what_it_starts, write_result
from benchmarks.worlds import ensure_world, size

PHASES = ("read", "tune", "tune_item_knn", "calibrate", "fit", "lists", "evaluate")
TARGET_SECONDS = 300  # issue 17: wall time on 2 quiet cores

BASELINE = """
import json, time
from ecomm import db
from ecomm.settings import get_settings
from ecomm.ml.recommend import reranked as R
from ecomm.ml.recommend.dataset import load_rec_data
from ecomm.ml.recommend.general.shop import from_rec_data, rec_params
from ecomm.ml.recommend.general.candidates import GENERATORS
from ecomm.ml.recommend.general.log import build_log
import pandas as pd
from datetime import timedelta

settings, seconds, cpu = get_settings(), {}, {}
def lap(name, since):
    seconds[name], cpu[name] = time.perf_counter() - since[0], time.process_time() - since[1]
    return time.perf_counter(), time.process_time()
at = time.perf_counter(), time.process_time()
with db.connection(settings) as conn:
    data = load_rec_data(conn)
    frame, items = from_rec_data(conn, data)
at = lap("read", at)
params = rec_params(data, seed=settings.seed)
name, knn = R.tune_item_knn(frame, items, params, pd.Timestamp(data.train_end - timedelta(days=28)))
at = lap("tune", at)
log = build_log(frame, knn.params, items)
model = GENERATORS[name]().fit(log)
at = lap("fit", at)
users = list(log.users)
listed = sum(len(model.recommend(users[lo : lo + 2000], R.TOP_N)) for lo in range(0, len(users), 2000))
at = lap("lists", at)
print("__PHASES__" + json.dumps({"phase_seconds": seconds, "phase_cpu_seconds": cpu, "generator": name,
      "neighbours": knn.params.neighbours, "validation_ndcg_at_10": knn.validation_ndcg, "entries": listed}))
"""
# each stage's line as it ends (ecomm.ml.recommend.train's logger) in the child's stderr log
TRAIN = """
import logging
stages = logging.getLogger("ecomm.ml.recommend.train")
stages.setLevel(logging.INFO)
stages.addHandler(logging.StreamHandler())
from ecomm.cli import app
app()
"""


def timed_child(args: list[str], env: dict, stderr_log) -> tuple[dict, str]:
    """Wall and CPU (user + sys of the child's process tree, from RUSAGE_CHILDREN) of a child
    Python, with the 1-minute load average before and after; and its stdout. Its stderr goes to
    the file stderr_log as it runs (a run stopped early still shows the stages it finished)."""
    before, load = resource.getrusage(resource.RUSAGE_CHILDREN), os.getloadavg()[0]
    started = time.perf_counter()
    with open(stderr_log, "w") as errors:
        proc = subprocess.run(
            [sys.executable, *args], env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed:\n{Path(stderr_log).read_text()[-3000:]}")
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(user + system, 1),
        "user_seconds": round(user, 1),
        "sys_seconds": round(system, 1),
        "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)],
    }, proc.stdout


def train_phases(settings: Settings, total: dict) -> dict:
    """The phases the training run logged, with startup (before it) and mlflow (after its fit)."""
    from ecomm.ml import tracking

    client = tracking.configure(settings)
    experiment = client.get_experiment_by_name(tracking.RECOMMENDER_EXPERIMENT)
    [run] = client.search_runs([experiment.experiment_id], max_results=1, order_by=["start_time DESC"])
    m = run.data.metrics
    seconds = {p: m[f"stage_{p}_seconds"] for p in PHASES}
    cpu = {p: m[f"stage_{p}_cpu_seconds"] for p in PHASES}
    seconds["mlflow"], cpu["mlflow"] = (
        m["train_seconds"] - m["fit_seconds"],
        (m["train_cpu_seconds"] - m["fit_cpu_seconds"]),
    )
    seconds["startup"] = total["wall_seconds"] - m["train_seconds"]
    cpu["startup"] = total["cpu_seconds"] - m["train_cpu_seconds"]
    return {
        "phase_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "phase_cpu_seconds": {k: round(v, 1) for k, v in cpu.items()},
        "validation_ndcg_at_10": m.get("validation_ndcg_at_10"),
        "holdout_ndcg_at_10": m.get("model_ndcg_at_10"),
        "item_knn_tuned_ndcg_at_10": m.get("item_knn_tuned_ndcg_at_10"),
        "label_windows": run.data.params.get("lib_label_windows"),
        "n_trials": run.data.params.get("n_trials"),
    }


def run(
    warehouse_db: str,
    customers: int,
    products: int,
    days: int,
    *,
    baseline: bool = True,
    name: str = "recommend_train",
) -> dict:
    settings, setup = ensure_world(warehouse_db, customers, products, days)
    settings = settings.model_copy(update={"mlflow_db": f"{warehouse_db}_train_mlflow"})
    db.drop_database(settings, settings.mlflow_db)
    env = child_env(settings)
    out: dict = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "world": setup | size(settings),
    }
    WORK.mkdir(parents=True, exist_ok=True)
    total, _ = timed_child(
        ["-c", textwrap.dedent(TRAIN), "train", "recommender"], env, WORK / f"{name}.train.log"
    )
    out["train"] = total | train_phases(settings, total)
    if baseline:
        total, stdout = timed_child(["-c", textwrap.dedent(BASELINE)], env, WORK / f"{name}.baseline.log")
        line = next(ln for ln in stdout.splitlines() if ln.startswith("__PHASES__"))
        out["baseline"] = (
            total | {"what": "tuned item-kNN alone"} | json.loads(line.removeprefix("__PHASES__"))
        )
        out["ratio_cpu"] = round(out["train"]["cpu_seconds"] / out["baseline"]["cpu_seconds"], 2)
        out["ratio_wall"] = round(out["train"]["wall_seconds"] / out["baseline"]["wall_seconds"], 2)
    out["target_seconds"] = TARGET_SECONDS
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--warehouse", default="bench_ours", help="the world's warehouse database")
    parser.add_argument("--customers", type=int, default=208_000)  # ~1M orders, as benchmarks.run
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--no-baseline", action="store_true", help="time the training alone")
    parser.add_argument("--results", default=str(RESULTS), help="where the result goes")
    parser.add_argument(
        "--name", default="recommend_train", help="the result's name (recommend_train_before: the old code's)"
    )
    args = parser.parse_args()
    with stops_what_it_starts(Settings(_env_file=None, home=WORK / "home")):
        result = run(
            args.warehouse,
            args.customers,
            args.products,
            args.days,
            baseline=not args.no_baseline,
            name=args.name,
        )
    print(write_result(args.name, result, Path(args.results)))


if __name__ == "__main__":
    main()
