"""The quality checks' cost follows the day, not the history: the check phase of one day on a
1-month and on a 1-year warehouse of the same world, the plans of the per-batch checks (index use),
and the independent raw count's throughput on a day of 2,000,000 order lines.

    ECOMM_BENCH_WORK=/tmp/bench-x python -m benchmarks.bench_checks --customers 20000 --products 800 \
        --results /tmp/bench-x

Not part of `benchmarks.run` (yet): a standalone measurement, written to RESULTS/checks.json.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from datetime import date
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings

from benchmarks.common import RESULTS, WORK, stops_what_it_starts, write_result

AS_OF = date(2025, 6, 30)


def _world(customers: int, products: int) -> Path:
    from ecomm.datagen import GeneratorConfig, generate_history

    world = WORK / f"checks-world-{customers}-{products}"
    if not (world / ".done").exists():
        shutil.rmtree(world, ignore_errors=True)
        generate_history(
            GeneratorConfig(seed=7, as_of=AS_OF, days=365, customers=customers, products=products), world
        )
        (world / ".done").touch()
    return world


def _warehouse(base: Settings, world: Path, label: str, days: int) -> dict:
    """Load the first `days` batches of the world (the last one is the day), time the day's checks."""
    from ecomm.warehouse.load import load_directory
    from ecomm.warehouse.migrate import migrate
    from ecomm.warehouse.quality import _ZERO_CHECKS, batches_to_check, run_checks

    batches = sorted(p for p in world.iterdir() if p.name[:2] == "20")[:days]
    subset = WORK / f"checks-{label}"
    shutil.rmtree(subset, ignore_errors=True)
    subset.mkdir(parents=True)
    for path in batches:
        (subset / path.name).symlink_to(path)
    settings = base.model_copy(update={"warehouse_db": f"bench_checks_{label}"})
    db.drop_database(base, settings.warehouse_db)
    migrate(settings)
    day = date.fromisoformat(batches[-1].name)
    with db.connection(settings) as conn:
        start = time.perf_counter()
        history = load_directory(conn, subset, threshold=0.05)
        load_seconds = time.perf_counter() - start
        start = time.perf_counter()
        checks = run_checks(conn, batches_to_check(conn))  # what a bootstrap checks: every batch
        history_check_seconds = time.perf_counter() - start
        assert all(c.passed for c in checks), [c for c in checks if not c.passed][:5]
        seconds = []
        for _ in range(5):  # the day checked again, as a re-run after a failure would
            with conn.cursor() as cur:
                cur.execute("UPDATE audit.load_runs SET checks_passed = NULL WHERE batch_date = %s", (day,))
            conn.commit()
            start = time.perf_counter()
            todo = batches_to_check(conn)
            day_checks = run_checks(conn, todo)
            seconds.append(time.perf_counter() - start)
            assert [b.batch_date for b in todo] == [day] and all(c.passed for c in day_checks)
        plans = {}
        with conn.cursor() as cur:
            for name, sql in _ZERO_CHECKS.items():
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, {"dates": [day]})
                lines = [r[0] for r in cur.fetchall()]
                plans[name] = {
                    "scans": sorted(
                        {ln.strip().split(" (")[0].removeprefix("->  ") for ln in lines if "Scan" in ln}
                    ),
                    "execution": lines[-1],
                }
            cur.execute(
                "SELECT (SELECT count(*) FROM warehouse.dim_customer), "
                "(SELECT count(*) FROM warehouse.fact_order_items), (SELECT count(*) FROM warehouse.fact_web_events)"
            )
            customers, lines, events = cur.fetchone()
        conn.rollback()
    return {
        "batches": days,
        "day": day.isoformat(),
        "day_rows_read": history[-1].total("read"),
        "warehouse_rows": {"dim_customer": customers, "fact_order_items": lines, "fact_web_events": events},
        "load_seconds": round(load_seconds, 1),
        "check_seconds_every_batch": round(history_check_seconds, 2),
        "check_seconds_one_day_median_of_5": round(statistics.median(seconds), 4),
        "plans": plans,
    }


def _raw_count(world: Path, lines: int = 2_000_000) -> dict:
    """The independent count of one order_items file of `lines` rows (the world's lines repeated)."""
    from ecomm.warehouse.quality import count_raw_file

    source = sorted(world.glob("20*/order_items.csv"))
    header = source[0].read_text().splitlines()[0]
    body = [ln for path in source for ln in path.read_text().splitlines()[1:]]
    big = WORK / "checks-bigday" / "order_items.csv"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("w") as fh:
        fh.write(header + "\n")
        for i in range(lines):
            fh.write(body[i % len(body)] + "\n")
    start = time.perf_counter()
    counted = count_raw_file(big, "revenue", frozenset())
    seconds = time.perf_counter() - start
    assert counted.rows == lines
    return {
        "lines": lines,
        "mib": round(big.stat().st_size / 2**20),
        "seconds_rows_and_revenue": round(seconds, 2),
    }


def run(customers: int, products: int) -> dict:
    base = Settings(_env_file=None, home=WORK / "home")
    with stops_what_it_starts(base):
        db.start_embedded(base)
        world = _world(customers, products)
        month = _warehouse(base, world, "month", 31)
        year = _warehouse(base, world, "year", 365)
    return {
        "customers": customers,
        "products": products,
        "month": month,
        "year": year,
        "one_day_year_over_month": round(
            year["check_seconds_one_day_median_of_5"] / month["check_seconds_one_day_median_of_5"], 2
        ),
        "raw_count": _raw_count(world),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=800)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    print(write_result("checks", run(args.customers, args.products), args.results))


if __name__ == "__main__":
    main()
