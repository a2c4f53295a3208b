"""Building the marts: the dbt project in dbt/ (docs/architecture.md#marts), run as a subprocess.

dbt lives in its own locked environment (requirements-dbt.lock, `.tools/dbt-venv`, Settings.dbt_executable):
dbt-common pins protobuf below 7 and the platform's lock has 7.x. `build_marts` runs `dbt build`
(models, unit tests and the key tests) for the batches loaded since the last build; the incremental
models reprocess only what those batches touched. profiles.yml is written at run time from Settings
under ECOMM_HOME/dbt/<database>/ (the password travels in the environment, never in a file).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ecomm import db
from ecomm.settings import Settings

MARTS = ("daily_sales", "customer_360", "cohort_retention", "product_performance")
# the source tests scan whole warehouse tables (PostgreSQL enforces those keys anyway): not daily
SOURCE_TESTS_TAG = "warehouse_keys"


class MartsError(RuntimeError):
    """dbt is missing or a model or test of the marts failed; the message says which, in one line."""


class MartsTestFailed(MartsError):
    """A dbt test (a key, accepted values) or unit test failed: the data is wrong, a retry cannot help."""


def dbt_run_dir(settings: Settings) -> Path:
    """profiles.yml, target/ (manifest, docs, run results) and logs/ of this warehouse database."""
    return settings.home / "dbt" / settings.warehouse_db


def _profile(settings: Settings) -> tuple[str, dict[str, str]]:
    """profiles.yml text and the environment with the password (libpq: a socket directory as host)."""
    url = db.database_url(settings)
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):  # a repeated ?host= parameter
        host = host[0]
    output = {
        "type": "postgres",
        "host": host,
        "port": url.port or int(url.query.get("port", 5432)),
        "user": url.username or "postgres",
        "password": "{{ env_var('ECOMM_DBT_PASSWORD', '') }}",
        "dbname": url.database,
        "schema": "marts",
        "threads": 1,
        "connect_timeout": 10,
    }
    sslmode = url.query.get("sslmode")
    if sslmode:
        output["sslmode"] = sslmode
    profile = {"ecomm": {"target": "warehouse", "outputs": {"warehouse": output}}}
    return json.dumps(profile, indent=2) + "\n", {"ECOMM_DBT_PASSWORD": url.password or ""}


def dbt_command(settings: Settings, args: list[str]) -> list[str]:
    """The dbt command line for this warehouse (profiles written; the executable checked)."""
    executable = Path(settings.dbt_executable)
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        raise MartsError(
            f"dbt is not installed at {executable}: run `make setup` (it installs requirements-dbt.lock "
            "into .tools/dbt-venv) or set ECOMM_DBT_EXECUTABLE"
        )
    run_dir = dbt_run_dir(settings)
    run_dir.mkdir(parents=True, exist_ok=True)
    text, _ = _profile(settings)
    (run_dir / "profiles.yml").write_text(text, encoding="utf-8")  # YAML accepts JSON
    return [
        str(executable),
        "--no-use-colors",
        "--log-path",
        str(run_dir / "logs"),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(run_dir),
        "--target-path",
        str(run_dir / "target"),
    ]


def dbt_env(settings: Settings) -> dict[str, str]:
    _, secret = _profile(settings)
    return {
        **os.environ,
        **secret,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PARTIAL_PARSE": "true",
        "DO_NOT_TRACK": "1",
    }


def run_dbt(settings: Settings, args: list[str]) -> subprocess.CompletedProcess:
    """Run dbt; raises MartsError naming the first failing node (model, test or unit test)."""
    command = dbt_command(settings, args)
    results = dbt_run_dir(settings) / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    proc = subprocess.run(command, env=dbt_env(settings), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        line = _failure_line(args[0], proc, results)
        raise (MartsTestFailed if re.search(r": (test|unit_test) \S+ failed:", line) else MartsError)(line)
    return proc


def _failure_line(verb: str, proc: subprocess.CompletedProcess, results: Path) -> str:
    failed = []
    if results.exists():
        for node in json.loads(results.read_text())["results"]:
            if node["status"] in ("fail", "error"):
                kind = node["unique_id"].split(".")[0]
                name = node["unique_id"].split(".")[2]
                message = " ".join((node.get("message") or "").split())
                failed.append(f"{kind} {name} {node['status']}ed: {message}")
    if not failed:  # dbt stopped before running a node (parse or connection error)
        lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        # dbt's detail lines (the compiler's message) are the ones without a timestamp
        details = [line for line in lines if not re.match(r"\d\d:\d\d:\d\d ", line)]
        errors = [re.sub(r"^\d\d:\d\d:\d\d\s+", "", line) for line in lines if "error" in line.lower()]
        failed = ["; ".join(details) if details else (errors or [f"exit status {proc.returncode}"])[-1]]
    more = f" (and {len(failed) - 1} more; see the dbt log)" if len(failed) > 1 else ""
    return f"dbt {verb} failed: {failed[0]}{more}"


def pending_dates(conn) -> list[date]:
    """Loaded batches no successful build has processed yet (a day the build failed or was skipped),
    and re-delivered batches that inserted or corrected rows since their last build."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT batch_date FROM audit.load_runs r WHERE status = 'loaded' "
            "AND NOT EXISTS (SELECT 1 FROM audit.mart_builds b WHERE b.batch_date = r.batch_date "
            "AND (b.built_at >= r.finished_at OR (r.rows_loaded = 0 AND r.rows_corrected = 0)))"
        )
        return sorted(d for (d,) in cur.fetchall())


def _corrected_since_built(conn, dates: list[date]) -> bool:
    """A batch to build corrected rows since its last build. A corrected row can move an order line to
    another customer or product, or a customer to another country: the incremental models only know
    the lines each batch loads, so the marts are rebuilt from all of history (corrections are rare)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM audit.load_runs r WHERE r.status = 'loaded' "
            "AND r.rows_corrected > 0 AND r.batch_date = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "
            "audit.mart_builds b WHERE b.batch_date = r.batch_date AND b.built_at >= r.finished_at))",
            (dates,),
        )
        return cur.fetchone()[0]


def _marts_exist(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'marts' AND c.relname = ANY(%s) AND c.relkind = 'r'",
            (list(MARTS),),
        )
        return cur.fetchone()[0] == len(MARTS)


def marts_pending(settings: Settings) -> bool:
    """The marts are missing or a loaded batch is not in them yet."""
    with db.connection(settings) as conn:
        return not _marts_exist(conn) or bool(pending_dates(conn))


def build_marts(
    settings: Settings, batch_dates: Iterable[date] = (), *, full_refresh: bool = False
) -> dict[str, float]:
    """`dbt build` of the marts for `batch_dates` and every loaded batch not built yet; the first build,
    one after a corrected re-delivery (or `full_refresh`) rebuilds from all of history. Returns seconds per mart, for the intermediate
    models, for the tests and for dbt's own start-up and parse ('dbt'); they add up to the wall time."""
    start = time.perf_counter()
    with db.connection(settings) as conn:
        dates = sorted(set(batch_dates) | set(pending_dates(conn)))
        full_refresh = full_refresh or not _marts_exist(conn) or _corrected_since_built(conn, dates)
    args = ["build", "--exclude", f"tag:{SOURCE_TESTS_TAG}"]
    if full_refresh:
        args.append("--full-refresh")
    args += ["--vars", json.dumps({"batch_dates": [d.isoformat() for d in dates]})]
    run_dbt(settings, args)
    with db.connection(settings) as conn, conn.cursor() as cur:
        if full_refresh:  # everything loaded is in the marts now
            cur.execute(
                "INSERT INTO audit.mart_builds (batch_date) SELECT DISTINCT batch_date FROM audit.load_runs "
                "WHERE status = 'loaded' ON CONFLICT (batch_date) DO UPDATE SET built_at = now()"
            )
        elif dates:
            cur.execute(
                "INSERT INTO audit.mart_builds (batch_date) SELECT unnest(%s::date[]) "
                "ON CONFLICT (batch_date) DO UPDATE SET built_at = now()",
                (dates,),
            )
        conn.commit()
    return _seconds(settings, time.perf_counter() - start)


def _seconds(settings: Settings, wall: float) -> dict[str, float]:
    results = json.loads((dbt_run_dir(settings) / "target" / "run_results.json").read_text())["results"]
    seconds = {mart: 0.0 for mart in MARTS} | {"intermediate": 0.0, "tests": 0.0}
    for node in results:
        kind, _, name = node["unique_id"].split(".")[:3]
        key = name if kind == "model" and name in MARTS else "intermediate" if kind == "model" else "tests"
        seconds[key] += node["execution_time"]
    # one thread: the rest of the wall time is dbt start-up, parse and compilation
    seconds["dbt"] = max(wall - sum(seconds.values()), 0.0)
    return seconds


def generate_docs(settings: Settings) -> Path:
    """`dbt docs generate` (catalog and lineage); returns the target directory `dbt docs serve` reads."""
    run_dbt(settings, ["docs", "generate"])
    return dbt_run_dir(settings) / "target"


def docs_serve_command(settings: Settings, port: int | None = None, *, host: str = "127.0.0.1") -> list[str]:
    """The command serving the generated docs on the dbt docs port (without opening a browser)."""
    return dbt_command(
        settings,
        ["docs", "serve", "--port", str(port or settings.dbt_docs_port), "--host", host, "--no-browser"],
    )
