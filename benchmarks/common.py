"""Shared helpers: run a measured step in a child process (so its peak memory is its own), and stop
at the end the embedded PostgreSQL a run started, and the CPU seconds of a process tree and of the
embedded PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings

# worlds, the embedded server's home and scratch files; ECOMM_BENCH_WORK moves them (a trial run)
WORK = Path(os.environ.get("ECOMM_BENCH_WORK") or Path(__file__).parent / ".work").resolve()
RESULTS = Path(__file__).parent / "results"


@contextlib.contextmanager
def stops_what_it_starts(settings: Settings) -> Iterator[None]:
    """The embedded PostgreSQL of `settings` is stopped when the block ends (also on failure) if the
    block started it; a server that was already running, or DATABASE_URL's, is left running."""
    try:
        db.server_url(settings, start=False)
        was_running = True
    except db.DatabaseError:
        was_running = False
    try:
        yield
    finally:
        if not was_running:
            db.stop_embedded(settings)


# Peak RSS from VmHWM, the high-water mark of this process's own memory: ru_maxrss of a child that
# the parent started by vfork and exec keeps the parent's high-water mark (a parent that built a
# 1 GiB log made every child report 1 GiB, a bare COPY included). ru_maxrss where there is no /proc.
_CHILD_FOOTER = """
import json as _json, re as _re, resource as _resource
try:
    _peak = int(_re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024
except (OSError, AttributeError):
    _peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024
print("__RESULT__" + _json.dumps({**(result if isinstance(result, dict) else {}), "peak_rss_mib": _peak}))
"""


def measure(code: str, env: dict | None = None) -> dict:
    """Run `code` (which sets a dict `result`) in a fresh interpreter; add wall seconds and peak RSS."""
    import os

    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + _CHILD_FOOTER],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("__RESULT__"))
    return {"wall_seconds": round(seconds, 2), **json.loads(line.removeprefix("__RESULT__"))}


def write_result(name: str, payload: dict, directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def world_of(as_of, args) -> dict:
    """The generated world's size as results record it (args: an argparse namespace with days,
    customers and products)."""
    return {
        "as_of": as_of.isoformat(),
        "days": args.days,
        "customers": args.customers,
        "products": args.products,
    }


def by_target(seeds: list[dict]) -> list[dict]:
    """Each target (in the first seed's order) with its value and verdict on every seed, the seeds it
    is met in and those it was measured in (a verdict of None: not measurable there)."""
    out: dict[str, dict] = {}
    for run in seeds:
        for t in run["targets"]:
            row = out.setdefault(
                t["name"], {"name": t["name"], "required": t["required"], "observed": {}, "met": {}}
            )
            row["observed"][str(run["seed"])] = t["observed"]
            row["met"][str(run["seed"])] = t["met"]
    for row in out.values():
        row["met_in"] = sum(1 for met in row["met"].values() if met)
        row["measured_in"] = sum(1 for met in row["met"].values() if met is not None)
    return list(out.values())


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for p in (process, *process.children(recursive=True)):
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:  # ended since it was listed (a backend: its parent counts it now)
            continue
        total += times.user + times.system
    return total


def postgres_cpu_seconds(settings: Settings) -> float:
    """CPU seconds of the embedded PostgreSQL so far: the postmaster, its processes alive now, and
    the backends it has reaped (the kernel adds theirs to its children's times)."""
    import psutil

    postmaster = psutil.Process(int((settings.pgdata / "postmaster.pid").read_text().split()[0]))
    times = postmaster.cpu_times()
    return times.children_user + times.children_system + tree_cpu_seconds(postmaster.pid)
