"""CDNOW (tests/data/imports/cdnow_sample.csv, from the `lifetimes` wheel, MIT) cut into files by
date, as a shop's exports would arrive, customer keys made text ("c4") so the importer derives ids."""

from __future__ import annotations

import os
import time
from pathlib import Path

CDNOW = Path(__file__).parents[1] / "data" / "imports" / "cdnow_sample.csv"
MAP = "customer_id=customer,date=date,quantity=quantity,amount=amount"


def cdnow_part(path: Path, first: str, last: str, mtime_ago: float = 120.0) -> Path:
    """CDNOW's rows dated first..last (YYYYMMDD), customer keys as text, modified `mtime_ago` s ago."""
    lines = CDNOW.read_text().splitlines()[1:]
    rows = [line.split(",") for line in lines]
    kept = [f"c{c},{d},{q},{a}" for c, d, q, a in rows if first <= d <= last]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("customer,date,quantity,amount\n" + "\n".join(kept) + "\n")
    stamp = time.time() - mtime_ago
    os.utime(path, (stamp, stamp))
    return path


def source_rows(first: str, last: str) -> int:
    """Distinct lines dated first..last (the importer drops exact duplicates)."""
    return len({line for line in CDNOW.read_text().splitlines()[1:] if first <= line.split(",")[1] <= last})
