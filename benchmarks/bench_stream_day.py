"""A whole business date of the 1M-order world streamed through the API, then reconciled with its
nightly batch (issue 18: "a full simulated day at the 1M-order world's rate, streamed accelerated,
reconciles exactly with the nightly batch").

The world (seed 7, 208,000 customers, 2,000 products, 365 days to 2025-06-30, about 1M orders) is
built and loaded once into its own warehouse (`bench_stream_day_208000`), then reused. Each run:
`ecomm stream --speed N` replays the next business date into `ecomm serve api` (one uvicorn worker),
exactly as the `stream` service of `make up` does; then the nightly path loads that date's batch
(`pipeline.load_date`) and runs its quality checks (`pipeline.check_date`), whose `stream_order_items`
and `stream_web_events` compare what streamed with what loaded (counts, orders, sessions, exact
revenue) and prune the landing area when they pass. Reported: the date, its events, the replay's wall
time against the time the speed asks for (whether the API kept up), the checks' own words, and the
stream rows left after the prune. A run streams the date after the previous run's, so the world grows
by one day per run.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time

from ecomm import db
from ecomm.orchestration.config import child_env
from ecomm.pipeline import QualityCheckFailed, check_date, load_date
from ecomm.platform.supervisor import free_port
from ecomm.settings import Settings
from ecomm.stream.replay import next_stream_date

from benchmarks.bench_api import _serve, _wait
from benchmarks.common import WORK
from benchmarks.worlds import _build_world, _reusable

SECONDS_PER_DAY = 86_400
STREAMED = re.compile(
    r"streamed (?P<date>\S+): (?P<sent>[\d,]+) events sent, (?P<stored>[\d,]+) stored, "
    r"(?P<again>[\d,]+) already stored, (?P<rejected>[\d,]+) rejected"
)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _stream_rows(settings: Settings) -> dict[str, int]:
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM stream.order_items), (SELECT count(*) FROM stream.web_events)"
        )
        lines, events = cur.fetchone()
    return {"order_items": lines, "web_events": events}


def _reconciliation(settings: Settings, day) -> dict:
    """The stream checks of `day` as recorded in audit.quality_checks (the latest of each)."""
    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (check_name) check_name, passed, details FROM audit.quality_checks
               WHERE batch_date = %s AND check_name LIKE 'stream%%' ORDER BY check_name, check_id DESC""",
            (day,),
        )
        return {name: {"passed": passed, "details": details} for name, passed, details in cur.fetchall()}


def _replay(settings: Settings, raw, base: str, speed: float) -> dict:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecomm.cli",
            "stream",
            "--raw-dir",
            str(raw),
            "--api-url",
            base,
            "--speed",
            str(speed),
        ],
        env=child_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    found = STREAMED.search(result.stdout)
    if result.returncode != 0 or found is None:
        raise RuntimeError(
            f"ecomm stream failed ({result.returncode}): {result.stderr[-2000:] or result.stdout[-2000:]}"
        )
    counts = {k: _number(v) for k, v in found.groupdict().items() if k != "date"}
    return {
        "date": found["date"],
        "seconds": round(seconds, 1),
        "paced_seconds": round(SECONDS_PER_DAY / speed, 1),  # the day's span at this speed (lower bound)
        "events_per_second": round(counts["sent"] / seconds),
        **counts,
    }


def run(*, speed: float = 1440.0, customers: int = 208_000, products: int = 2_000, days: int = 365) -> dict:
    """Stream the next date of the world of `customers`, `products`, `days` (by default the 1M-order
    world, benchmarks.run's full size) at `speed` (1440: the day in a minute) and reconcile it with
    its nightly batch."""
    warehouse = f"bench_stream_day_{customers}"
    world = {"customers": customers, "products": products, "days": days}
    settings = Settings(
        _env_file=None, home=WORK / "home", warehouse_db=warehouse, mlflow_db=f"{warehouse}_mlflow"
    )
    db.start_embedded(settings)
    setup = {"reused": _reusable(settings)}
    if not setup["reused"]:
        setup |= _build_world(settings, customers, products, days)
    raw = WORK / f"world-{warehouse}"
    with db.connection(settings) as conn:
        day = next_stream_date(conn, raw)
    port = free_port()
    log = WORK / "stream_day" / "api.log"
    api = _serve(
        [sys.executable, "-m", "ecomm.cli", "serve", "api", "--port", str(port)], child_env(settings), log
    )
    load_before = os.getloadavg()[0]
    try:
        _wait(f"http://127.0.0.1:{port}/health")
        replay = _replay(settings, raw, f"http://127.0.0.1:{port}", speed)
    finally:
        api.terminate()
        api.wait(timeout=60)
    load_after_replay = os.getloadavg()[0]
    streamed_rows = _stream_rows(settings)
    started = time.perf_counter()
    loaded = load_date(settings, raw / day.isoformat(), day)
    load_seconds = time.perf_counter() - started
    with contextlib.suppress(QualityCheckFailed):  # recorded with its numbers: read below like a pass
        check_date(settings, day)
    reconciliation = _reconciliation(settings, day)
    return {
        "world": world | {"seed": 7},
        "setup": setup,
        "speed": speed,
        "business_date": day.isoformat(),
        "replay": replay,
        "streamed_rows": streamed_rows,
        "nightly_load_seconds": round(load_seconds, 1),
        "loaded_dates": [d.isoformat() for d in loaded.loaded_dates],
        "reconciliation": reconciliation,
        "stream_rows_after_prune": _stream_rows(settings),
        "load_average": [round(load_before, 2), round(load_after_replay, 2), round(os.getloadavg()[0], 2)],
        "reconciled": len(reconciliation) == 2
        and all(r["passed"] for r in reconciliation.values())
        and replay["rejected"] == 0
        and sum(streamed_rows.values()) == replay["sent"],
    }
