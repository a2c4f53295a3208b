"""Import benchmark (issue 20): a transaction log of --import-rows lines (default 1,000,000) through
`ecomm import transactions` (read, derive customers, products and orders, write the daily batches,
validate, load, check, build the marts) into an empty warehouse, vs a bare COPY of the same CSV into
one table of text columns. Target: <= 60 s on 2 cores.

The log is synthetic (numpy, seeded) in a real export's shape: text keys for customers, products and
invoices (so every id is derived), timestamps, quantities, unit prices, line totals, countries and
categories over a year; no returns (random ones would match no purchase and be quarantined).
Memory: the import reads the log in blocks (ECOMM_IMPORT_BLOCK_BYTES); `memory_by_rows` measures the
peak of reading, deriving and writing the batches at several log sizes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ecomm import db
from ecomm.settings import Settings

from benchmarks.bench_load import _fresh_database
from benchmarks.common import WORK, measure

SECONDS_MAX = 60
MAP = (
    "customer_id=Customer,timestamp=InvoiceDate,amount=LineTotal,quantity=Quantity,unit_price=Price,"
    "product_id=StockCode,category=Category,order_id=Invoice,country=Country"
)
COUNTRIES = np.array(["United Kingdom", "Germany", "France", "Spain", "Netherlands", "Ireland"])
CATEGORIES = np.array(["home", "garden", "kitchen", "toys", "gifts", "stationery", "lighting", "party"])


def make_log(path: Path, rows: int, days: int = 365, seed: int = 7) -> Path:
    """`rows` order lines in orders of 1..8 lines, ~rows/40 customers, rows/300 products."""
    rng = np.random.default_rng(seed)
    customers, products = max(rows // 40, 10), max(rows // 300, 10)
    lines_per_order = rng.integers(1, 9, size=rows)  # more than enough orders; cut at `rows`
    order_of_line = np.repeat(np.arange(len(lines_per_order)), lines_per_order)[:rows]
    orders = order_of_line[-1] + 1
    order_seconds = np.sort(rng.integers(0, days * 86_400, size=orders))
    order_customer = rng.integers(0, customers, size=orders)
    product = rng.zipf(1.3, size=rows) % products
    price_cents = 99 + (product * 7919) % 4_900
    quantity = rng.integers(1, 6, size=rows)
    when = np.datetime64("2025-01-01T00:00:00") + order_seconds[order_of_line].astype("timedelta64[s]")
    table = pa.table(
        {
            "Invoice": np.char.add("INV", order_of_line.astype(str)),
            "InvoiceDate": np.datetime_as_string(when, unit="s"),
            "Customer": np.char.add("C", order_customer[order_of_line].astype(str)),
            "StockCode": np.char.add("SKU", product.astype(str)),
            "Category": CATEGORIES[product % len(CATEGORIES)],
            "Quantity": quantity,
            "Price": np.char.mod("%.2f", price_cents / 100),
            "LineTotal": np.char.mod("%.2f", price_cents * quantity / 100),
            "Country": COUNTRIES[order_customer[order_of_line] % len(COUNTRIES)],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return path


OURS = """
import time
from pathlib import Path
from ecomm.imports.run import import_transactions
from ecomm.imports.values import parse_mapping
from ecomm.settings import Settings
from ecomm.warehouse.migrate import migrate
settings = Settings(_env_file=None, home=Path({home!r}), warehouse_db={db!r})
migrate(settings)
start = time.perf_counter()
report = import_transactions(settings, Path({log!r}), parse_mapping({map!r}), out=Path({out!r}))
seconds = time.perf_counter() - start
assert report.load.ok, [b.message for b in report.load.rejected] + [c.details for c in report.load.failed_checks]
phases = {{k: round(v, 2) for k, v in report.load.phase_seconds.items()}}
result = {{"seconds": seconds, "rows_read": report.derived.rows_read, "imported": report.imported,
          "quarantined": report.quarantined, "batches": len(report.load.batches),
          "phase_seconds": phases,
          "read_derive_write_seconds": round(seconds - sum(report.load.phase_seconds.values()), 2)}}
"""

BARE_COPY = """
import time
import psycopg2
conn = psycopg2.connect({dsn!r}); cur = conn.cursor()
cur.execute("CREATE TABLE bare_log (" + ", ".join(f'"{{c}}" text' for c in {columns!r}) + ")")
conn.commit()
start = time.perf_counter()
with open({log!r}, "rb") as fh:
    cur.copy_expert("COPY bare_log FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
rows = cur.rowcount
conn.commit()
result = {{"seconds": time.perf_counter() - start, "rows": rows}}
"""


WRITE_ONLY = """
import time
from datetime import date
from pathlib import Path
from ecomm.imports import transactions
from ecomm.imports.run import write_log
from ecomm.imports.values import parse_mapping
start = time.perf_counter()
_, first, last, derived = write_log([Path({log!r})], parse_mapping({map!r}), transactions, lambda: Path({out!r}),
    date_format=None, delimiter=",", encoding="utf-8", today=date.today(), block_bytes={block})
result = {{"seconds": time.perf_counter() - start, "order_lines": derived.purchase_lines}}
"""
MEMORY_ROWS = (250_000, 1_000_000, 4_000_000)


def memory_by_rows(sizes: tuple[int, ...] = MEMORY_ROWS, days: int = 365) -> list[dict]:
    """Peak memory of reading, deriving and writing the batches (loading goes batch by batch) in a
    fresh process per log size, at the default block size."""
    found = []
    for rows in sizes:
        log = make_log(WORK / "import" / f"log_{rows}_{days}.csv", rows, days)
        out = WORK / "import" / f"write_only_{rows}_{days}"
        step = measure(
            WRITE_ONLY.format(
                log=str(log), map=MAP, out=str(out), block=Settings(_env_file=None).import_block_bytes
            )
        )
        shutil.rmtree(out, ignore_errors=True)
        found.append(
            {
                "rows": rows,
                "log_mib": round(log.stat().st_size / 2**20, 1),
                "seconds": round(step["seconds"], 1),
                "peak_rss_mib": round(step["peak_rss_mib"]),
            }
        )
        log.unlink()
    return found


def run(rows: int = 1_000_000, days: int = 365, memory_rows: tuple[int, ...] = MEMORY_ROWS) -> dict:
    load_before = os.getloadavg()[0]  # the machine is shared: a busy one slows every step
    home = WORK / "home"
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(_env_file=None, home=home, warehouse_db="bench_import")
    db.start_embedded(settings)
    log = make_log(WORK / "import" / f"log_{rows}_{days}.csv", rows, days)
    columns = [c.strip('"') for c in log.open().readline().strip().split(",")]

    _fresh_database(settings, "bench_import")
    out = WORK / "import" / f"batches_{rows}_{days}"
    # a first import: no batches folder of an earlier run to replace (deleting it cost up to 8 s)
    shutil.rmtree(out, ignore_errors=True)
    ours = measure(OURS.format(home=str(home), db="bench_import", log=str(log), map=MAP, out=str(out)))

    _fresh_database(settings, "bench_import_copy")
    dsn = db.libpq_dsn(db.database_url(settings, "bench_import_copy"))
    copy = measure(BARE_COPY.format(dsn=dsn, columns=columns, log=str(log)))
    return {
        "rows": rows,
        "days": days,
        "log_mib": round(log.stat().st_size / 2**20, 1),
        "ours": ours,
        "bare_copy": copy,
        "ratio_ours_over_copy": round(ours["seconds"] / copy["seconds"], 1),
        "target_seconds": SECONDS_MAX,
        "target_met": ours["seconds"] <= SECONDS_MAX,
        "memory_by_rows": memory_by_rows(memory_rows, days) if memory_rows else [],
        "block_bytes": Settings(_env_file=None).import_block_bytes,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # 1 minute: start, end
    }
