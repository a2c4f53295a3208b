"""`make bench`: every benchmark, our path and its baseline in the same run; JSON in results/.

python -m benchmarks.run                 # full size: ~1M orders (about 1.9M order lines, 8.7M events)
python -m benchmarks.run --customers 20000 --products 800 --results /tmp/bench   # a quicker look
python -m benchmarks.run --only platform # `make up` from scratch vs the services' start alone
python -m benchmarks.run --only daily --load-only   # a daily DAG run on the last loaded world
python -m benchmarks.run --only big_day --load-only --big-day-orders 100000 --results /tmp/bench

Benchmarks: generate, load, platform (`make up`, at --platform-customers, default the Settings
default), daily (a daily `ecommerce_data_pipeline` run on the warehouse the load benchmark filled;
runs after `load`, or alone with the database of an earlier load run), daily_history (the same kind
of daily run on the load benchmark's warehouse vs on a warehouse of one month; after `load`),
big_day (one business date of --big-day-orders orders built from the world, validated and loaded vs a
bare COPY of the same files), dashboard (every page's
render time in headless chromium, cold and warm, on the load benchmark's warehouse), recommend_train
(`ecomm train recommender` on the load benchmark's warehouse, wall and CPU seconds per phase, beside
the tuned item-kNN alone; bench_recommend_train), api (wrk against
the prediction API and a bare FastAPI ceiling, on the same warehouse; runs last), forecast_seeds (the
demand forecasts' targets on --forecast-seeds worlds of --forecast-world customers, products, days,
and every product of a world of --customers/--products/--days forecast 30 days ahead, AutoETS beside
seasonal naive; needs no server), recommend_real (popularity over the whole training window and
over a tuned recent window, and a tuned item-kNN, on the MovieLens logs of `make realdata`, rolling
temporal windows; needs no server, about 3 minutes), drift (the recent-inputs drift monitor and the
retraining decision on --drift-seeds worlds of the shop `make up` builds, ECOMM_CUSTOMERS and
ECOMM_PRODUCTS (5,000 and 500 unless set): days to flag and to retrain on each planted drift, false
alarms and retrainings per 180 stable days; needs no server, about 3 minutes per seed),
drift_retrain (the churn champion after the retraining a planted young_deal_channel regime
triggers, against the oracle AUC on the regime's labels, on --drift-retrain-seeds worlds of 2,000
customers; about 5 minutes per seed), import
(`ecomm import transactions` of a synthetic --import-rows-line log, text keys, over --days days,
into an empty warehouse vs a bare COPY of the same CSV; about 2 minutes), import_interactions (the peak
memory of `ecomm import interactions`'s read, derive and write beside reading the log whole, on
synthetic event logs of --import-interactions-rows events, the whole read up to 16 million; about 20
minutes, and at 64 million events a 2.1 GiB log on disk and 4 GiB of memory), stream_ingest (events/s through POST /events beside a bare FastAPI
endpoint and a bare COPY of the same rows; --stream-events), stream_fanout (--stream-clients WebSocket
clients of /ws/live at 1 and 4 messages/s beside a bare `websockets.broadcast()`; --stream-seconds; then
--stream-visible-posts posts timed from their 202 to the first /ws/live frame counting them), stream_day
(the next business date of a 1M-order world of its own, built once, streamed through `ecomm stream` at
--stream-day-speed, then loaded and reconciled by the nightly checks), monitoring (one daily
model_monitoring run - the order trigger, every champion's drift against its training reference,
the recent inputs, the realised quality, the decision - on a world of --customers/--products/--days
of its own with its champions, built and trained once, beside the same reads alone; bench_monitoring).

python -m benchmarks.run --only stream_ingest --only stream_fanout   # about 3 minutes
python -m benchmarks.run --only stream_day   # the world's first build takes minutes; later runs about 2
python -m benchmarks.run --only monitoring   # the world's build and training take long; later runs minutes

python -m benchmarks.run --only api --dashboard-warehouse bench_api_5k --customers 5000 --products 500
python -m benchmarks.run --only forecast_seeds   # about 8 minutes on 2 cores
python -m benchmarks.run --only recommend_real   # the baselines on real rating logs
python -m benchmarks.run --only import   # a 1,000,000-line transaction log imported vs a bare COPY
python -m benchmarks.run --only dashboard   # reuse the 1M-order warehouse of an earlier load run
python -m benchmarks.run --only recommend_train   # `ecomm train recommender` on that warehouse
python -m benchmarks.run --only dashboard --dashboard-warehouse bench_dash_2k --customers 2000 \
    --products 200 --results /tmp/bench   # a small warehouse of its own (built once, then reused)
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

from ecomm.settings import Settings

from benchmarks import (
    bench_api,
    bench_bulk,
    bench_dashboard,
    bench_drift,
    bench_drift_retrain,
    bench_forecast_seeds,
    bench_generate,
    bench_import,
    bench_import_interactions,
    bench_load,
    bench_monitoring,
    bench_platform,
    bench_recommend_real,
    bench_recommend_train,
    bench_stream,
    bench_stream_day,
)
from benchmarks.common import RESULTS, WORK, stops_what_it_starts, write_result

BENCHMARKS = (
    "generate",
    "load",
    "platform",
    "forecast_seeds",
    "recommend_real",
    "drift",
    "drift_retrain",
    "monitoring",
    "import",
    "import_interactions",
    "stream_ingest",
    "stream_fanout",
    "stream_day",
    "daily",
    "daily_history",
    "big_day",
    "recommend_train",
    "dashboard",
    "api",
)


def main() -> None:
    """The benchmarks share the embedded PostgreSQL in WORK/home: stopped at the end if they started it."""
    with stops_what_it_starts(Settings(_env_file=None, home=WORK / "home")):
        _run()


def _run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=208_000)  # ~1M orders
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--baseline-rows", type=int, default=20_000, help="rows for the row-wise Faker baseline"
    )
    parser.add_argument(
        "--to-sql-batches", type=int, default=10, help="batches loaded with to_sql (a sample)"
    )
    parser.add_argument(
        "--big-day-orders",
        type=int,
        default=1_000_000,
        help="orders of the one business date of the big_day benchmark (from the generated world)",
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=1_000_000,
        help="lines of the synthetic transaction log of the import benchmark",
    )
    parser.add_argument(
        "--import-memory-rows",
        type=int,
        nargs="*",
        default=list(bench_import.MEMORY_ROWS),
        help="log sizes at which the import's read-derive-write peak memory is measured (none: skip)",
    )
    parser.add_argument(
        "--import-interactions-rows",
        type=int,
        nargs="+",
        default=list(bench_import_interactions.ROWS),
        help="event log sizes of import_interactions",
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="reuse the world of the last generation benchmark (results/generate.json)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        help="run only these benchmarks (repeatable; default: all)",
    )
    parser.add_argument(
        "--platform-customers",
        type=int,
        default=None,
        help="customers of the `make up` world (default: ECOMM_CUSTOMERS' default, 5000)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="where to write (and read generate.json from); a quick look should not overwrite results/",
    )
    parser.add_argument(
        "--dashboard-warehouse",
        default="bench_ours",
        help="warehouse database of the dashboard benchmark (default: the load benchmark's, reused); "
        "a name that holds no data gets a world of --customers/--products/--days",
    )
    parser.add_argument(
        "--train-warehouse",
        default="bench_ours",
        help="warehouse of recommend_train (default: the load benchmark's, reused); a name that holds "
        "no data gets a world of --customers/--products/--days",
    )
    parser.add_argument(
        "--dashboard-trials", type=int, default=2, help="tuning trials when champions must be trained"
    )
    parser.add_argument(
        "--forecast-seeds", type=int, nargs="+", default=[1, 2, 3], help="world seeds of forecast_seeds"
    )
    parser.add_argument(
        "--forecast-world",
        type=int,
        nargs=3,
        default=[2_000, 300, 365],
        metavar=("CUSTOMERS", "PRODUCTS", "DAYS"),
        help="each seed's world in forecast_seeds (its speed world is --customers/--products/--days)",
    )
    parser.add_argument("--stream-events", type=int, default=200_000, help="events POSTed in stream_ingest")
    parser.add_argument(
        "--stream-clients", type=int, default=2_000, help="WebSocket clients in stream_fanout"
    )
    parser.add_argument(
        "--stream-seconds", type=float, default=10, help="seconds measured per stream_fanout run"
    )
    parser.add_argument(
        "--stream-visible-posts",
        type=int,
        default=40,
        help="posts timed from their 202 to /ws/live per stream_fanout rate",
    )
    parser.add_argument(
        "--stream-day-speed",
        type=float,
        default=1440,
        help="replay speed of stream_day (1440: the 1M-order world's next day in a minute)",
    )
    parser.add_argument(
        "--drift-seeds", type=int, nargs="+", default=[1, 2, 3], help="world seeds of the drift benchmark"
    )
    parser.add_argument(
        "--drift-retrain-seeds", type=int, nargs="+", default=[1, 2, 3], help="world seeds of drift_retrain"
    )
    args = parser.parse_args()
    only = set(args.only or BENCHMARKS)
    if args.load_only:
        only.discard("generate")
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }

    if "platform" in only:
        result = bench_platform.run_make_up(args.platform_customers)
        _report("platform", meta | result, args.results)
    if "forecast_seeds" in only:
        _report("forecast_seeds", meta | bench_forecast_seeds.run(_forecast_options(args)), args.results)
    if "recommend_real" in only:
        _report("recommend_real", meta | bench_recommend_real.run(), args.results)
    if "drift" in only:
        _report("drift", meta | bench_drift.run_with_settings(args.drift_seeds), args.results)
    if "drift_retrain" in only:
        _report("drift_retrain", meta | bench_drift_retrain.run(args.drift_retrain_seeds), args.results)
    if "monitoring" in only:
        found = bench_monitoring.run(args.customers, args.products, args.days)
        _report("monitoring", meta | found, args.results)
    if "import" in only:
        _report(
            "import",
            meta | bench_import.run(args.import_rows, args.days, tuple(args.import_memory_rows)),
            args.results,
        )
    if "import_interactions" in only:
        found = bench_import_interactions.run(tuple(args.import_interactions_rows))
        _report("import_interactions", meta | found, args.results)
    _stream(args, only, meta)
    if not only & {"generate", "load", "daily", "daily_history", "big_day"}:
        _dashboard(args, only, meta)
        return
    if "generate" in only:
        generation = bench_generate.run(args.customers, args.products, args.days, args.baseline_rows)
        _report("generate", meta | generation, args.results)
    else:
        generation = json.loads((args.results / "generate.json").read_text())
    world = Path(generation["world_dir"])
    if "load" in only:
        loading = bench_load.run(world, args.to_sql_batches)
        _report("load", meta | {"config": generation["config"]} | loading, args.results)
    if "daily" in only:
        daily = bench_platform.run_daily(world)
        _report("daily", meta | {"config": generation["config"]} | daily, args.results)
    if "daily_history" in only:
        history = bench_bulk.run_daily_history(world)
        _report("daily_history", meta | {"config": generation["config"]} | history, args.results)
    if "big_day" in only:
        big = bench_bulk.run_big_day(world, args.big_day_orders)
        _report("big_day", meta | {"config": generation["config"]} | big, args.results)
    _dashboard(args, only, meta)


def _dashboard(args, only: set[str], meta: dict) -> None:
    """The recommender's training on the load benchmark's warehouse, then the serving benchmarks
    (dashboard, then API) on the same warehouse with champions."""
    if "recommend_train" in only:
        result = bench_recommend_train.run(args.train_warehouse, args.customers, args.products, args.days)
        _report("recommend_train", meta | result, args.results)
    if "dashboard" in only:
        result = bench_dashboard.run(
            args.dashboard_warehouse, args.customers, args.products, args.days, trials=args.dashboard_trials
        )
        _report("dashboard", meta | result, args.results)
    if "api" in only:
        result = bench_api.run_on_world(
            args.dashboard_warehouse, args.customers, args.products, args.days, trials=args.dashboard_trials
        )
        _report("api", meta | result, args.results)


def _stream(args, only: set[str], meta: dict) -> None:
    """The real-time path on a warehouse of its own; fan-out after ingestion (its KPIs, the payload)."""
    settings = Settings(_env_file=None, home=WORK / "home", warehouse_db="bench_stream")
    if "stream_ingest" in only:
        result = bench_stream.run_ingest(settings, events=args.stream_events)
        _report("stream_ingest", meta | result, args.results)
    if "stream_fanout" in only:
        result = bench_stream.run_fanout(
            settings,
            clients=args.stream_clients,
            seconds=args.stream_seconds,
            visible_posts=args.stream_visible_posts,
        )
        _report("stream_fanout", meta | result, args.results)
    if "stream_day" in only:
        _report(
            "stream_day",
            meta
            | bench_stream_day.run(
                speed=args.stream_day_speed, customers=args.customers, products=args.products, days=args.days
            ),
            args.results,
        )


def _forecast_options(args) -> bench_forecast_seeds.Options:
    customers, products, days = args.forecast_world
    return bench_forecast_seeds.Options(
        seeds=tuple(args.forecast_seeds),
        customers=customers,
        products=products,
        days=days,
        speed_customers=args.customers,
        speed_products=args.products,
        speed_days=args.days,
    )


def _report(name: str, payload: dict, directory: Path) -> None:
    print(json.dumps(payload, indent=2, default=str))
    write_result(name, payload, directory)


if __name__ == "__main__":
    main()
