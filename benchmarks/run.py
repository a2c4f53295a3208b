"""`make bench`: every benchmark, our path and its baseline in the same run; JSON in results/.

python -m benchmarks.run                 # full size: ~1M orders (about 1.9M order lines, 8.7M events)
python -m benchmarks.run --customers 20000 --products 800   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime

from benchmarks import bench_generate, bench_load
from benchmarks.common import RESULTS, write_result


def main() -> None:
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
        "--load-only",
        action="store_true",
        help="reuse the world of the last generation benchmark (results/generate.json)",
    )
    args = parser.parse_args()
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }

    if args.load_only:
        generation = json.loads((RESULTS / "generate.json").read_text())
    else:
        generation = bench_generate.run(args.customers, args.products, args.days, args.baseline_rows)
        print(json.dumps(generation, indent=2))
        write_result("generate", meta | generation)

    from pathlib import Path

    loading = bench_load.run(Path(generation["world_dir"]), args.to_sql_batches)
    print(json.dumps(loading, indent=2))
    write_result("load", meta | {"config": generation["config"]} | loading)


if __name__ == "__main__":
    main()
