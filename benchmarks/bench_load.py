"""Load throughput, raw CSV -> star schema: our path vs pandas `to_sql` (the templates' way) and
vs the ceiling of a bare `COPY` of the same files into tables without keys or checks."""

from __future__ import annotations

import os
from pathlib import Path

from ecomm import db
from ecomm.entities import ENTITIES
from ecomm.settings import Settings

from benchmarks.common import WORK, measure

OURS = """
from pathlib import Path
from ecomm.settings import Settings
from ecomm.warehouse.migrate import migrate
from ecomm.warehouse.run import load_path
import time
settings = Settings(_env_file=None, home=Path({home!r}), warehouse_db="bench_ours")
migrate(settings)
start = time.perf_counter()
report = load_path(settings, Path({world!r}))
seconds = time.perf_counter() - start
assert report.ok, [c for c in report.failed_checks] + [b.message for b in report.rejected]
import resource
result = {{"seconds": seconds, "rows_read": sum(b.total("read") for b in report.batches),
          "rows_loaded": sum(b.total("loaded") for b in report.batches),
          "batches": len(report.batches), "mart_seconds": report.mart_seconds,
          "phase_seconds": report.phase_seconds, "load_phases": report.load_phases,
          "workers_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}
"""

BARE_COPY = """
import time
from pathlib import Path
import psycopg2
conn = psycopg2.connect({dsn!r}); cur = conn.cursor()
for ddl in {ddl!r}:
    cur.execute(ddl)
conn.commit()
rows = 0
start = time.perf_counter()
for batch in sorted(p for p in Path({world!r}).iterdir() if p.name[:2] == "20"):
    for name in {names!r}:
        with open(batch / (name + ".csv"), "rb") as fh:
            cur.copy_expert(f"COPY bare_{{name}} FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
            rows += cur.rowcount
    conn.commit()
result = {{"seconds": time.perf_counter() - start, "rows": rows}}
"""

TO_SQL = """
import time
from pathlib import Path
import pandas as pd
import sqlalchemy as sa
engine = sa.create_engine({url!r})
batches = sorted(p for p in Path({world!r}).iterdir() if p.name[:2] == "20")
sample = batches[len(batches) // 2: len(batches) // 2 + {n_batches}]
rows = 0
start = time.perf_counter()
for batch in sample:
    for name in {names!r}:
        frame = pd.read_csv(batch / (name + ".csv"))
        frame.to_sql(name, engine, if_exists="append", index=False)
        rows += len(frame)
result = {{"seconds": time.perf_counter() - start, "rows": rows, "batches": len(sample)}}
"""


def _bare_tables_ddl() -> list[str]:
    """Same columns and types as staging, no keys or checks (the COPY ceiling)."""
    return [f"CREATE TABLE bare_{e.name} (LIKE staging.{e.name})" for e in ENTITIES] + [
        f"ALTER TABLE bare_{e.name} DROP COLUMN row_no, DROP COLUMN batch_date" for e in ENTITIES
    ]


def _fresh_database(settings: Settings, name: str, template: str | None = None) -> None:
    db.drop_database(settings, name)
    db.create_database(settings, name, template=template)


def bare_copy(settings: Settings, migrated_db: str, copy_db: str, world: Path) -> dict:
    """COPY of every raw file under `world` into bare tables of a fresh database `copy_db`. The
    ceiling gets the staging column types (from `migrated_db`), so it parses exactly what we parse."""
    _fresh_database(settings, copy_db, template=migrated_db)
    with db.connection(settings, copy_db) as conn, conn.cursor() as cur:
        for schema in ("warehouse", "marts", "quarantine", "truth"):
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.commit()
    dsn = db.libpq_dsn(db.database_url(settings, copy_db))
    names = [e.name for e in ENTITIES]
    return measure(BARE_COPY.format(dsn=dsn, ddl=_bare_tables_ddl(), world=str(world), names=names))


def run(world: Path, to_sql_batches: int) -> dict:
    home = WORK / "home"
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(_env_file=None, home=home, warehouse_db="bench_ours")
    db.start_embedded(settings)
    names = [e.name for e in ENTITIES]

    _fresh_database(settings, "bench_ours")
    ours = measure(OURS.format(home=str(home), world=str(world)))

    copy = bare_copy(settings, "bench_ours", "bench_copy", world)

    _fresh_database(settings, "bench_to_sql")
    url = db.database_url(settings, "bench_to_sql").render_as_string(hide_password=False)
    to_sql = measure(TO_SQL.format(url=url, world=str(world), names=names, n_batches=to_sql_batches))

    ours_rps = ours["rows_read"] / ours["seconds"]
    copy_rps = copy["rows"] / copy["seconds"]
    to_sql_rps = to_sql["rows"] / to_sql["seconds"]
    return {
        "ours": {
            "seconds": round(ours["seconds"], 2),
            "rows": ours["rows_read"],
            "batches": ours["batches"],
            "rows_per_s": round(ours_rps),
            "phase_seconds": {k: round(v, 1) for k, v in ours["phase_seconds"].items()},
            "batches_phases": {k: round(v, 1) for k, v in ours["load_phases"].items()},
            "peak_rss_mib": round(ours["peak_rss_mib"]),
            # the largest worker process (read + validate); the load holds at most this many at once
            "workers_peak_rss_mib": round(ours["workers_peak_rss_mib"]),
            "workers": os.cpu_count(),
        },
        "bare_copy": {
            "seconds": round(copy["seconds"], 2),
            "rows": copy["rows"],
            "rows_per_s": round(copy_rps),
        },
        "to_sql_sample": {
            "seconds": round(to_sql["seconds"], 2),
            "rows": to_sql["rows"],
            "batches": to_sql["batches"],
            "rows_per_s": round(to_sql_rps),
            "peak_rss_mib": round(to_sql["peak_rss_mib"]),
        },
        "ratio_vs_to_sql": round(ours_rps / to_sql_rps, 1),
        "ratio_vs_bare_copy": round(ours_rps / copy_rps, 2),
        # raw CSV -> star schema alone (the batches phase), against the same COPY
        "ratio_batches_vs_bare_copy": round(copy["seconds"] / ours["phase_seconds"]["batches"], 2),
        # every process of the load at once: the main one and each worker at its peak
        "peak_total_mib": round(ours["peak_rss_mib"] + (os.cpu_count() or 1) * ours["workers_peak_rss_mib"]),
    }
