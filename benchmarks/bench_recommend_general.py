"""NDCG@10 of the general recommender library (ecomm.ml.recommend.general) on small simulated shops
(one per seed): each candidate generator alone, the re-ranked model (what `ecomm train recommender`
now serves), the previously served ALS + SVD blend (ecomm.ml.recommend.model; the `served_algorithm_*`
rows) with 12 Optuna trials on the 28 days before the holdout and with its default parameters, the
served popularity baseline and the planted-preference oracle, all on the served recommender's holdout (the last 28 loaded days; relevant = products a
customer bought there and had not bought before; bought items excluded).

Nothing is tuned on the holdout: the library runs with its defaults plus the shop adapter's event
weights (orders are the re-ranker's target and the only events that exclude an item); on each seed's
validation split (the 28 days before the holdout, fitted on the rows before them) the item-kNN
baseline (cosine or BM25, 10..200 neighbours) and the re-ranker's number of label windows are tuned
(see general.shop.shop_params for what was chosen by hand on seed 1's validation split).

python -m benchmarks.bench_recommend_general [--seeds 1 2 3] [--customers 1000] [--products 150]
    [--days 240] [--keep]   -> benchmarks/results/recommend_general.json
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import date, timedelta
from typing import NamedTuple

import pandas as pd

from ecomm import db
from ecomm.settings import Settings

from benchmarks.common import WORK, stops_what_it_starts, world_of, write_result

AS_OF = date(2025, 11, 30)
K = 10
VALIDATION_DAYS = 28  # the validation split: the last 28 days before the holdout
NEIGHBOURS = [10, 20, 50, 100, 200]
SERVED_TRIALS = 12  # RecConfig's default number of Optuna trials


def build_world(settings: Settings, seed: int, args: argparse.Namespace) -> float:
    from ecomm.datagen import GeneratorConfig, generate_history
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.run import load_path

    start = time.perf_counter()
    raw = WORK / f"recgen-seed-{seed}"
    shutil.rmtree(raw, ignore_errors=True)
    db.drop_database(settings, settings.warehouse_db)
    config = GeneratorConfig(
        seed=seed, as_of=AS_OF, days=args.days, customers=args.customers, products=args.products
    )
    generate_history(config, raw)
    migrate(settings)
    assert load_path(settings, raw, marts=False).ok
    shutil.rmtree(raw, ignore_errors=True)
    return time.perf_counter() - start


def shop_params():
    from ecomm.ml.recommend.general.shop import shop_params as params

    return params(seed=0, num_threads=2)


class Tuned(NamedTuple):
    name: str
    params: object  # Params
    ndcg: float


def tuned_item_knn(frame, items, params, validation_start) -> tuple[Tuned, dict]:
    """The better of cosine and BM25 item-kNN, each with its best neighbours on the validation split."""
    from ecomm.ml.recommend.general.tune import tune

    found, tables = [], {}
    for name in ("item_knn", "item_knn_bm25"):
        tuning = tune(
            frame, params, {"neighbours": NEIGHBOURS}, validation_start, items=items, generator=name
        )
        found.append(Tuned(name, tuning.params, float(tuning.table["ndcg_at_10"].max())))
        tables[name] = tuning.table.to_dict("records")
    return max(found, key=lambda tuned: tuned.ndcg), tables


def lists_of(recs, users: list[int]) -> dict[int, list[int]]:
    ordered = recs.sort_values(["user_id", "rank"])
    lists = {int(u): g["item_id"].astype(int).tolist() for u, g in ordered.groupby("user_id")}
    return {u: lists.get(u, []) for u in users}


def measure_lists(settings: Settings) -> tuple[dict, dict]:
    """({name: top-K lists}, facts about the split), and each fit's seconds in the facts."""
    from ecomm.ml.recommend import evaluate as ev
    from ecomm.ml.recommend import model as M
    from ecomm.ml.recommend.dataset import load_rec_data, require_recommendable
    from ecomm.ml.recommend.general.candidates import GENERATORS
    from ecomm.ml.recommend.general.log import build_log
    from ecomm.ml.recommend.general.recommender import GeneralRecommender
    from ecomm.ml.recommend.general.shop import from_rec_data
    from ecomm.ml.recommend.general.tune import tune
    from ecomm.ml.serving import RecommenderPyfunc

    seconds, lists = {}, {}
    with db.connection(settings) as conn:
        data = load_rec_data(conn)
        require_recommendable(data)
        users, relevant, countries = ev.holdout_users(data)
        frame, items = from_rec_data(conn, data)
        lists["oracle"] = ev.oracle_lists(conn, data, users, K)
        start = time.perf_counter()
        # what `ecomm train recommender` serves: Optuna-tuned on the 28 days before the holdout
        tuned, _ = M.tune(
            conn, data, M.RecParams(), n_trials=SERVED_TRIALS, seed=0, n_jobs=2, holdout_days=VALIDATION_DAYS
        )
        fitted = M.fit_recommender(data, tuned, seed=0, n_jobs=2)
        lists["served_algorithm_tuned"] = ev.model_lists(RecommenderPyfunc(fitted.state), users, countries, K)
        seconds["served_algorithm_tuned"] = time.perf_counter() - start
    lists["served_popularity_56d"] = ev.popularity_lists(data, users, K)
    start = time.perf_counter()
    served = M.fit_recommender(data, M.RecParams(), seed=0, n_jobs=2)
    lists["served_algorithm_default_params"] = ev.model_lists(
        RecommenderPyfunc(served.state), users, countries, K
    )
    seconds["served_algorithm_default_params"] = time.perf_counter() - start
    params = shop_params()
    validation_start = pd.Timestamp(data.train_end - timedelta(days=VALIDATION_DAYS))
    start = time.perf_counter()
    knn, tuning = tuned_item_knn(frame, items, params, validation_start)
    lists["item_knn_tuned"] = lists_of(
        GENERATORS[knn.name]().fit(build_log(frame, knn.params, items)).recommend(users, K), users
    )
    seconds["item_knn_tuned"] = time.perf_counter() - start
    windows = tune(frame, params, {"label_windows": [1, 2, 3]}, validation_start, items=items)
    params, tuning["reranked"] = windows.params, windows.table.to_dict("records")
    log = build_log(frame, params, items)
    for name, generator in GENERATORS.items():
        start = time.perf_counter()
        lists[name] = lists_of(generator().fit(log).recommend(users, K), users)
        seconds[name] = time.perf_counter() - start
    start = time.perf_counter()
    model = GeneralRecommender(params).fit(frame, items)
    lists["reranked"] = lists_of(model.recommend(users, K), users)
    seconds["reranked"] = time.perf_counter() - start
    facts = {
        "train_end": data.train_end.isoformat(),
        "holdout_end": data.holdout_end.isoformat(),
        "interaction_rows": len(frame),
        "catalog_size": len(data.catalog),
        "evaluated_customers": len(users),
        "warm_customers": int((log.user_codes(users) >= 0).sum()),
        "fit_and_recommend_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "validation_start": validation_start.isoformat(),
        "item_knn_tuned": {"generator": knn.name, "neighbours": knn.params.neighbours},
        "reranked_label_windows": params.label_windows,
        "validation_ndcg_at_10": tuning,
    }
    item_users = dict(zip(log.item_ids, log.item_users(), strict=True))
    return lists, {**facts, "relevant": relevant, "item_users": item_users, "n_users": len(log.users)}


def score(lists: dict, facts: dict) -> dict:
    from ecomm.ml.metrics import novelty, ranking_metrics

    out = {}
    for name, recs in lists.items():
        metrics = ranking_metrics(recs, facts["relevant"], K, facts["catalog_size"])
        metrics["novelty"] = novelty(recs, facts["item_users"], facts["n_users"], K)
        out[name] = {key: round(value, 4) for key, value in metrics.items()}
    return out


def one_seed(base: Settings, seed: int, args: argparse.Namespace) -> dict:
    """The seed's world (built, or reused with --keep), its lists and their metrics."""
    settings = base.model_copy(
        update={"warehouse_db": f"bench_recgen_{seed}_{args.customers}_{args.products}_{args.days}"}
    )
    marker = WORK / f"{settings.warehouse_db}.built"
    built = 0.0
    if not (args.keep and marker.exists()):
        built = build_world(settings, seed, args)
        marker.touch()
    started = time.perf_counter()
    lists, facts = measure_lists(settings)
    metrics = score(lists, facts)
    if not args.keep:
        db.drop_database(base, settings.warehouse_db)
        marker.unlink(missing_ok=True)
    for name in ("relevant", "item_users", "n_users"):
        facts.pop(name)
    for name, m in metrics.items():
        print(
            f"seed {seed} {name:34s} ndcg@10 {m['ndcg_at_10']:.4f}  map@10 {m['map_at_10']:.4f}  "
            f"coverage {m.get('coverage_at_10', 0):.3f}  novelty {m['novelty']:.2f}",
            flush=True,
        )
    seconds = {"world": round(built, 1), "measure": round(time.perf_counter() - started, 1)}
    return {"seed": seed, "split": facts, "metrics": metrics, "seconds": seconds}


def ratios(seeds: list[dict], of: str, to: tuple[str, ...]) -> dict:
    """NDCG@10 of `of` / each of `to`, per seed."""
    return {
        other: {
            str(run["seed"]): round(run["metrics"][of]["ndcg_at_10"] / run["metrics"][other]["ndcg_at_10"], 3)
            for run in seeds
        }
        for other in to
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--days", type=int, default=240)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) each world's warehouse")
    args = parser.parse_args()
    base = Settings(_env_file=None, home=WORK / "home")
    started = time.perf_counter()
    with stops_what_it_starts(base):
        db.start_embedded(base)
        seeds = [one_seed(base, seed, args) for seed in args.seeds]
    result = {
        "measured_on": date.today().isoformat(),
        "world": world_of(AS_OF, args),
        "seeds": seeds,
        "reranked_ndcg_ratio": ratios(
            seeds,
            "reranked",
            (
                "served_algorithm_tuned",
                "served_algorithm_default_params",
                "item_knn_tuned",
                "popular",
                "oracle",
            ),
        ),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(write_result("recommend_general", result))


if __name__ == "__main__":
    main()
