"""Interaction-log import memory benchmark (issue 20: "a 2 GB file, streamed, bounded memory"): the
peak memory of reading, deriving and writing the daily batches of a synthetic event log at several
sizes, by the path `ecomm import interactions` runs (`imports.bounded_interactions`: blocks, spilled
by month, a month of rows at a time) and by reading the log whole (`interactions.frame` + `tables`,
the reference whose bytes it gives), each in a fresh process; the ratio of the peaks per size.

The log is synthetic (numpy, seeded) in a public event log's shape (RetailRocket's events.csv): unix
seconds, text visitor and item keys, view / addtocart / transaction, visits of several events.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ecomm.settings import Settings

from benchmarks.common import WORK, measure

ROWS = (1_000_000, 4_000_000, 16_000_000, 64_000_000)
WHOLE_MAX_ROWS = 16_000_000  # the whole read of 16 million events peaked at 4.5 GiB: 64 million would not fit
MAP = "user_id=visitorid,item_id=itemid,timestamp=timestamp,event=event"
EVENTS = np.array(["view", "addtocart", "transaction"])

_STEP = """
import time
from datetime import date
from pathlib import Path
from ecomm.imports import interactions
from ecomm.imports.days import write_whole
from ecomm.imports.run import write_log
from ecomm.imports.source import open_log
from ecomm.imports.values import parse_mapping
from ecomm.imports.interactions import OPTIONAL, REQUIRED
mapping, log, out = parse_mapping({map!r}, REQUIRED, OPTIONAL), Path({log!r}), Path({out!r})
start = time.perf_counter()
if {whole!r}:
    rows, derived = interactions.frame(open_log([log], mapping, block_bytes={block}), mapping, None, date.today())
    write_whole(interactions.tables(rows, derived), out)
else:
    _, _, _, derived = write_log([log], mapping, interactions, lambda: out, date_format=None, delimiter=",",
                                 encoding="utf-8", today=date.today(), block_bytes={block})
result = {{"seconds": time.perf_counter() - start, "events": derived.events, "duplicates": derived.duplicates,
          "customers": derived.customers,
          "products": derived.products}}
"""


def make_log(path: Path, rows: int, days: int = 365, seed: int = 11, chunk: int = 4_000_000) -> Path:
    """`rows` events of ~rows/8 visitors over ~rows/50 items: visits of 1..12 events a minute or two
    apart, in time order over a year, 90% views, 7% add-to-cart, 3% transactions; written `chunk`
    rows at a time (each chunk: its share of the year), so a 2 GB log is made in little memory."""
    rng = np.random.default_rng(seed)
    visitors, items = max(rows // 8, 10), max(rows // 50, 10)
    parts = -(-rows // chunk)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for part in range(parts):
        n = min(chunk, rows - part * chunk)
        per_visit = rng.integers(1, 13, size=n)
        visit = np.repeat(np.arange(len(per_visit)), per_visit)[:n]
        visits = visit[-1] + 1
        share = days * 86_400 // parts
        visit_start = part * share + np.sort(rng.integers(0, share, size=visits))
        step = np.concatenate([[0], rng.integers(20, 180, size=n - 1)])
        elapsed = np.cumsum(step)
        offset = elapsed - elapsed[np.r_[0, np.flatnonzero(np.diff(visit)) + 1]][visit]  # from its start
        table = pa.table(
            {
                "timestamp": 1_700_000_000 + visit_start[visit] + offset,
                "visitorid": _keys("v", rng.integers(0, visitors, size=visits)[visit]),
                "event": EVENTS[np.searchsorted([0.9, 0.97], rng.random(n), side="right")],
                "itemid": _keys("i", rng.zipf(1.2, size=n) % items),
            }
        )
        if writer is None:
            writer = pacsv.CSVWriter(
                path, table.schema, write_options=pacsv.WriteOptions(quoting_style="needed")
            )
        writer.write_table(table)
    writer.close()
    return path


def _keys(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), "")


def run(sizes: tuple[int, ...] = ROWS) -> dict:
    load_before = os.getloadavg()[0]
    block = Settings(_env_file=None).import_block_bytes
    found = []
    for rows in sizes:
        log = make_log(WORK / "import_interactions" / f"events_{rows}.csv", rows)
        peaks = {}
        for name, whole in (("ours", False), ("whole_read", True))[: 2 if rows <= WHOLE_MAX_ROWS else 1]:
            out = WORK / "import_interactions" / f"batches_{rows}_{name}"
            shutil.rmtree(out, ignore_errors=True)
            step = measure(_STEP.format(map=MAP, log=str(log), out=str(out), whole=whole, block=block))
            shutil.rmtree(out, ignore_errors=True)
            peaks[name] = {k: round(v, 1) if isinstance(v, float) else v for k, v in step.items()}
        found.append(
            {
                "rows": rows,
                "log_mib": round(log.stat().st_size / 2**20, 1),
                **peaks,
                "peak_ratio_ours_over_whole": round(
                    peaks["ours"]["peak_rss_mib"] / peaks["whole_read"]["peak_rss_mib"], 2
                )
                if "whole_read" in peaks
                else None,
            }
        )
        log.unlink()
    return {
        "by_rows": found,
        "block_bytes": block,
        "whole_max_rows": WHOLE_MAX_ROWS,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # 1 minute: start, end
    }
