"""Bulk-mode benchmarks of the loader (issue 14), each with its baseline in the same run.

daily_history: a daily run (`run_for_date`, bare pipeline: validate, load, checks, marts) of the day
  after the world on the load benchmark's full warehouse vs the same day on a warehouse holding one
  month (the world's last 30 dates, its customer base, catalog and campaigns). Target <= 1.5x.
big_day: one business date holding --big-day-orders orders (the world's order lines, web events and
  reviews re-dated to one day: fresh dates, the world's unique keys; its customers, products and
  campaigns as that day's dimension files), validated and loaded into an empty warehouse vs a bare
  COPY of the same files. Targets <= 120 s and >= 0.5x COPY.
"""

from __future__ import annotations

import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ecomm import db
from ecomm.entities import ENTITIES, MANIFEST_FILE
from ecomm.settings import Settings

from benchmarks.bench_load import _fresh_database, bare_copy
from benchmarks.bench_platform import _orders_of, _world_copy
from benchmarks.common import WORK, measure

MONTH_DAYS = 30
DAILY_RATIO_MAX = 1.5
BIG_DAY_SECONDS_MAX = 120
BIG_DAY_RATIO_COPY_MIN = 0.5
DIMENSIONS = ("customers", "products", "campaigns")


def _dates(world: Path) -> list[Path]:
    return sorted(p for p in world.iterdir() if p.is_dir() and p.name[:2] == "20")


def _read(path: Path) -> pa.Table:
    """Every column as text, exactly as written (empty = NULL)."""
    names = [n.strip().strip('"') for n in path.open(encoding="utf-8").readline().strip().split(",")]
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=True
        ),
    )


def _write(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))


def _concat(paths: list[Path]) -> pa.Table:
    return pa.concat_tables([_read(p) for p in paths])


# ------------------------------------------------------------------------------ daily vs history
DAILY_RUN = """
import time
from datetime import date
from pathlib import Path
from ecomm.pipeline import run_for_date
from ecomm.settings import Settings
settings = Settings(_env_file=None, home=Path({home!r}), warehouse_db={db!r})
start = time.perf_counter()
report = run_for_date(settings, date.fromisoformat({day!r}), Path({raw!r}))
seconds = time.perf_counter() - start
batch = report.batches[-1]
assert batch.status == "loaded", batch.message
result = {{"seconds": seconds, "rows_read": batch.total("read"), "rows_loaded": batch.total("loaded"),
          "load_seconds": batch.seconds, "marts_seconds": sum(report.mart_seconds.values()),
          "failed_checks": [c.name for c in report.failed_checks]}}
"""

LOAD_MONTH = """
from pathlib import Path
from ecomm.settings import Settings
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.run import load_path
settings = Settings(_env_file=None, home=Path({home!r}), warehouse_db={db!r})
migrate(settings)
report = load_path(settings, Path({raw!r}))
assert not report.rejected, [b.message for b in report.rejected]
result = {{"batches": len(report.batches)}}
"""


def _month_world(world: Path, target: Path) -> Path:
    """The world's last MONTH_DAYS dates (hard links), the first of them also holding every earlier
    customer, product and campaign (the base a month-old warehouse would know)."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    dates = _dates(world)
    earlier, month = dates[:-MONTH_DAYS], dates[-MONTH_DAYS:]
    for day in month:
        shutil.copytree(day, target / day.name, copy_function=os.link)
    first = target / month[0].name
    for name in DIMENSIONS:
        path = first / f"{name}.csv"
        table = _concat([p / f"{name}.csv" for p in earlier] + [path])
        path.unlink()  # a hard link: never write through it
        _write(table, path)
    # the rewritten batch no longer matches its generator's manifest (a batch without one loads
    # without that check)
    (first / MANIFEST_FILE).unlink(missing_ok=True)
    return target


def run_daily_history(world: Path, loaded_db: str = "bench_ours") -> dict:
    """The day after the world, on the full warehouse and on a one-month warehouse (same raw files)."""
    from ecomm.datagen import generate_next_day

    home = WORK / "home"
    base = Settings(_env_file=None, home=home, warehouse_db=loaded_db)
    db.start_embedded(base)
    _world_copy(world, WORK / "daily-history" / "without-day")
    full_raw = _world_copy(world, WORK / "daily-history" / "full")
    day = generate_next_day(full_raw).last_date  # generated once, outside the timed runs
    month_raw = _month_world(full_raw.with_name("without-day"), WORK / "daily-history" / "month")

    full_db, month_db = "bench_daily_full", "bench_daily_month"
    db.drop_database(base, full_db)
    db.create_database(base, full_db, template=loaded_db)
    _fresh_database(base, month_db)
    month_load = measure(LOAD_MONTH.format(home=str(home), db=month_db, raw=str(month_raw)))
    shutil.copytree(full_raw / day.isoformat(), month_raw / day.isoformat(), copy_function=os.link)
    runs = {}
    for label, name, raw in (("full", full_db, full_raw), ("month", month_db, month_raw)):
        runs[label] = measure(DAILY_RUN.format(home=str(home), db=name, day=day.isoformat(), raw=str(raw)))
    settings = {
        k: base.model_copy(update={"warehouse_db": n}) for k, n in (("full", full_db), ("month", month_db))
    }
    orders = {k: _orders_of(s, day) for k, s in settings.items()}
    assert orders["full"] == orders["month"], f"the two runs loaded different days: {orders}"
    history = {}
    for label, s in settings.items():
        with db.connection(s) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT order_date) FROM warehouse.fact_order_items")
            lines, dates = cur.fetchone()
        history[label] = {"order_lines": lines, "dates": dates}
    ratio = runs["full"]["seconds"] / runs["month"]["seconds"]
    return {
        "business_date": day.isoformat(),
        "day_orders": orders["full"],
        "day_rows_read": runs["full"]["rows_read"],
        "month_load_seconds": month_load["wall_seconds"],
        **{
            f"{label}_warehouse": history[label]
            | {
                "seconds": round(runs[label]["seconds"], 2),
                # of which the load of the day's batch, and the marts (the rest: validate, checks)
                "load_seconds": round(runs[label]["load_seconds"], 2),
                "marts_seconds": round(runs[label]["marts_seconds"], 2),
                "failed_checks": runs[label]["failed_checks"],
                "peak_rss_mib": round(runs[label]["peak_rss_mib"]),
            }
            for label in ("full", "month")
        },
        "ratio_full_vs_month": round(ratio, 2),
        "target_ratio_max": DAILY_RATIO_MAX,
        "target_met": ratio <= DAILY_RATIO_MAX,
    }


# ------------------------------------------------------------------------------------- big day
BIG_DAY_LOAD = """
import resource, time
from pathlib import Path
from ecomm import db
from ecomm.settings import Settings
from ecomm.warehouse.load import load_directory
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.quality import batches_to_check, run_checks
settings = Settings(_env_file=None, home=Path({home!r}), warehouse_db={db!r})
migrate(settings)
phases = {{}}
with db.connection(settings) as conn:
    start = time.perf_counter()
    [batch] = load_directory(conn, Path({raw!r}), threshold=settings.bad_row_threshold, phases=phases)
    seconds = time.perf_counter() - start
    assert batch.status == "loaded", batch.message
    clock = time.perf_counter()
    checks = run_checks(conn, batches_to_check(conn))
    check_seconds = time.perf_counter() - clock
result = {{"seconds": seconds, "rows_read": batch.total("read"), "rows_loaded": batch.total("loaded"),
          "quarantined": batch.total("quarantined"), "phases": phases, "check_seconds": check_seconds,
          "failed_checks": [c.name for c in checks if not c.passed],
          "workers_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}
"""


def build_big_day(world: Path, target: Path, orders: int) -> dict:
    """One date after the world holding `orders` orders: the world's order lines (whole days, oldest
    first, until `orders`), their days' web events and reviews, re-dated to that date."""
    shutil.rmtree(target, ignore_errors=True)
    dates = _dates(world)
    day = date.fromisoformat(dates[-1].name) + timedelta(days=1)
    out = target / day.isoformat()
    out.mkdir(parents=True)
    taken, seen = [], 0
    for path in dates:
        taken.append(path)
        seen += len(pc.unique(_read(path / "order_items.csv")["order_id"]))
        if seen >= orders:
            break
    prefix = day.isoformat()
    for name, column in (("order_items", "order_ts"), ("web_events", "event_ts"), ("reviews", "review_date")):
        table = _concat([p / f"{name}.csv" for p in taken])
        redated = pc.binary_join_element_wise(
            pa.array([prefix] * len(table)), pc.utf8_slice_codeunits(table[column], 10), ""
        )
        table = table.set_column(table.schema.get_field_index(column), column, redated)
        _write(table, out / f"{name}.csv")
    for name in DIMENSIONS:  # every dimension row of the world: the day's orders reference them
        _write(_concat([p / f"{name}.csv" for p in dates]), out / f"{name}.csv")
    for name in ("campaign_exposure", "returns"):  # none on the day (a return comes after its order)
        header = next(e for e in ENTITIES if e.name == name).columns
        (out / f"{name}.csv").write_text(",".join(header) + "\n", encoding="utf-8")
    return {"business_date": day.isoformat(), "orders": seen, "source_dates": len(taken)}


def run_big_day(world: Path, orders: int) -> dict:
    home = WORK / "home"
    settings = Settings(_env_file=None, home=home, warehouse_db="bench_big_day")
    db.start_embedded(settings)
    raw = WORK / "big-day"
    built = build_big_day(world, raw, orders)
    _fresh_database(settings, "bench_big_day")
    ours = measure(BIG_DAY_LOAD.format(home=str(home), db="bench_big_day", raw=str(raw)))

    copy = bare_copy(settings, "bench_big_day", "bench_big_day_copy", raw)
    assert copy["rows"] == ours["rows_read"], (copy["rows"], ours["rows_read"])
    ratio = copy["seconds"] / ours["seconds"]
    return {
        **built,
        "rows": ours["rows_read"],
        "raw_mib": round(sum(p.stat().st_size for p in raw.rglob("*.csv")) / 2**20),
        "ours": {
            "seconds": round(ours["seconds"], 2),
            "rows_per_s": round(ours["rows_read"] / ours["seconds"]),
            "rows_loaded": ours["rows_loaded"],
            "quarantined": ours["quarantined"],
            "phase_seconds": {k: round(v, 1) for k, v in ours["phases"].items()},
            "checks_seconds_after": round(ours["check_seconds"], 1),
            "failed_checks": ours["failed_checks"],
            "peak_rss_mib": round(ours["peak_rss_mib"]),
            "workers_peak_rss_mib": round(ours["workers_peak_rss_mib"]),
        },
        "bare_copy": {
            "seconds": round(copy["seconds"], 2),
            "rows_per_s": round(copy["rows"] / copy["seconds"]),
        },
        "ratio_vs_bare_copy": round(ratio, 2),
        "target_seconds_max": BIG_DAY_SECONDS_MAX,
        "target_ratio_copy_min": BIG_DAY_RATIO_COPY_MIN,
        "target_met": ours["seconds"] <= BIG_DAY_SECONDS_MAX and ratio >= BIG_DAY_RATIO_COPY_MIN,
    }
