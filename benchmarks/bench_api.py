"""The prediction API under load: wrk against `ecomm serve api` and, in the same run, a bare FastAPI
hello-world (the ceiling) served by the same uvicorn settings; loopback, one worker each, and the
load generator on the same 2 cores.

Scenarios: POST /predict/churn with 1 and with 100 users, GET /recommendations/{id}?k=10 and
POST /recommendations with n_items 10 (a customer the model knows), our GET /health, and the
ceiling's GET /hello; each at concurrency 1 and 32 (wrk: 1 thread, keep-alive).
Targets (issue 5): churn-1 throughput >= 40% of the ceiling's; its p99 at 32 <= 2.5x the ceiling's;
at concurrency 1, p99 <= 10 ms for one user and <= 40 ms for 100. Issue 17: recommendations (k=10,
GET and POST) p99 <= 10 ms at concurrency 1 and >= 1,000 req/s at 32.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ecomm.api.schemas import CHURN_EXAMPLE

from benchmarks.common import WORK

HELLO = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello():
    return {"hello": "world"}
"""
TARGETS = {
    "throughput_ratio_min": 0.40,
    "p99_ratio_max": 2.5,
    "p99_c1_one_user_ms": 10.0,
    "p99_c1_100_users_ms": 40.0,
    "recommendations_p99_c1_ms": 10.0,
    "recommendations_rps_c32": 1000.0,
}
RECOMMENDATIONS = ("recommendations_k10", "recommendations_post_n10")
CONCURRENCY = (1, 32)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed: `apt-get install wrk` (make bench does it when root)")
    return path


def _wait(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not become ready")


def _post_script(path: Path, body: dict) -> Path:
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{json.dumps(body)}]]\n"
    )
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS[unit]


def parse_wrk(output: str) -> dict:
    """Requests/s, p50/p99 (ms) and error counts from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": round(rps, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def wrk(url: str, concurrency: int, seconds: int, script: Path | None = None) -> dict:
    command = [ensure_wrk(), "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    result = parse_wrk(done.stdout)
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError(f"{url}: errors under load: {result}")
    return result


def server_clock(pid: int) -> tuple[float, float] | None:
    """(CPU seconds the process has used, seconds its main thread has spent runnable but waiting for
    a CPU) from Linux's /proc; None where there is none. Beside a run's latencies they tell the
    server's own work from time the machine did not give it (other processes on the same cores)."""
    try:
        with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/task/{pid}/schedstat") as sched:
            fields = stat.read().rsplit(")", 1)[1].split()
            waited_ns = int(sched.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks, waited_ns / 1e9


def measured(pid: int, url: str, concurrency: int, seconds: int, script: Path | None = None) -> dict:
    """One wrk run, with the server's CPU per request and the share of the run its main thread
    waited for a CPU (when /proc has them)."""
    before, started = server_clock(pid), time.perf_counter()
    result = wrk(url, concurrency, seconds, script)
    after, elapsed = server_clock(pid), time.perf_counter() - started
    if before is not None and after is not None:
        requests = result["rps"] * seconds
        result["server_cpu_ms_per_request"] = round((after[0] - before[0]) * 1e3 / max(requests, 1), 3)
        result["server_waiting_for_cpu_share"] = round((after[1] - before[1]) / elapsed, 3)
    return result


def _serve(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def run(settings_env: dict, customer_id: int, port: int, ceiling_port: int, *, seconds: int = 10) -> dict:
    """Benchmark the API of the world `settings_env` points at (its champions must exist)."""
    work = WORK / "api"
    work.mkdir(parents=True, exist_ok=True)
    (work / "hello_app.py").write_text(HELLO)
    api = _serve(
        [sys.executable, "-m", "ecomm.cli", "serve", "api", "--port", str(port)],
        settings_env,
        work / "api.log",
    )
    ceiling = _serve(
        [
            sys.executable, "-m", "uvicorn", "hello_app:app", "--port", str(ceiling_port),
            "--no-access-log", "--app-dir", str(work),
        ],
        settings_env,
        work / "hello.log",
    )  # fmt: skip
    base, hello = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ceiling_port}"
    load_before = os.getloadavg()[0]  # the 2 cores may be shared: the figures' context
    try:
        _wait(f"{base}/ready")
        _wait(f"{hello}/hello")
        one = _post_script(work / "churn_1.lua", {"users": [CHURN_EXAMPLE]})
        hundred = _post_script(
            work / "churn_100.lua", {"users": [CHURN_EXAMPLE | {"user_id": i} for i in range(1, 101)]}
        )
        scenarios = {
            "ceiling_hello": (f"{hello}/hello", None),
            "health": (f"{base}/health", None),
            "churn_1_user": (f"{base}/predict/churn", one),
            "churn_100_users": (f"{base}/predict/churn", hundred),
            "recommendations_k10": (f"{base}/recommendations/{customer_id}?k=10", None),
            "recommendations_post_n10": (
                f"{base}/recommendations",
                _post_script(work / "recommendations.lua", {"user_id": customer_id, "n_items": 10}),
            ),
        }
        results: dict[str, dict] = {}
        for name, (url, script) in scenarios.items():
            pid = ceiling.pid if name == "ceiling_hello" else api.pid  # one worker: uvicorn runs in it
            wrk(url, 4, 2, script)  # warm-up
            results[name] = {f"c{c}": measured(pid, url, c, seconds, script) for c in CONCURRENCY}
    finally:
        for process in (api, ceiling):
            process.terminate()
            process.wait(timeout=20)
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    ceiling_c32, churn = results["ceiling_hello"]["c32"], results["churn_1_user"]
    ratios = {
        "churn_1_throughput_vs_ceiling_c32": round(churn["c32"]["rps"] / ceiling_c32["rps"], 3),
        "churn_1_p99_vs_ceiling_p99_c32": round(churn["c32"]["p99_ms"] / ceiling_c32["p99_ms"], 2),
        **{
            f"{name}_throughput_vs_ceiling_c32": round(results[name]["c32"]["rps"] / ceiling_c32["rps"], 3)
            for name in RECOMMENDATIONS
        },
    }
    met = {
        "throughput": ratios["churn_1_throughput_vs_ceiling_c32"] >= TARGETS["throughput_ratio_min"],
        "p99_c32": ratios["churn_1_p99_vs_ceiling_p99_c32"] <= TARGETS["p99_ratio_max"],
        "p99_c1_one_user": churn["c1"]["p99_ms"] <= TARGETS["p99_c1_one_user_ms"],
        "p99_c1_100_users": results["churn_100_users"]["c1"]["p99_ms"] <= TARGETS["p99_c1_100_users_ms"],
        **{
            f"{name}_p99_c1": results[name]["c1"]["p99_ms"] <= TARGETS["recommendations_p99_c1_ms"]
            for name in RECOMMENDATIONS
        },
        **{
            f"{name}_rps_c32": results[name]["c32"]["rps"] >= TARGETS["recommendations_rps_c32"]
            for name in RECOMMENDATIONS
        },
    }
    return {
        "seconds_per_run": seconds,
        "load_average_1min": load,
        "results": results,
        "ratios": ratios,
        "targets": TARGETS,
        "met": met,
    }


def run_on_world(warehouse_db: str, customers: int, products: int, days: int, *, trials: int = 2) -> dict:
    """The API benchmark on a benchmark warehouse with champions (built and trained when missing)."""
    from ecomm import db
    from ecomm.orchestration.config import child_env
    from ecomm.platform.supervisor import free_port

    from benchmarks.worlds import ensure_serving_world

    settings, setup = ensure_serving_world(warehouse_db, customers, products, days, trials=trials)

    with db.connection(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT min(customer_id) FROM warehouse.fact_order_items WHERE status = 'completed'"
        )  # a customer with history: the model path, not the cold-start fallback
        customer_id = cur.fetchone()[0]
    result = run(child_env(settings), customer_id, free_port(), free_port())
    return {"setup": setup, "customer_id": customer_id, **result}
