"""The daily data pipeline: generate -> load (validation first) -> quality checks -> build marts (dbt) -> publish.

A thin caller of `ecomm.pipeline`; every step is idempotent for its business date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import (
    bad_data_fails_at_once,
    business_date,
    dag_args,
    fails_at_once,
    task_settings,
)

DOC = """
### E-commerce data pipeline

One run per **business date** D = the run's logical date (UTC). A scheduled run starts when D has
closed (data interval D 00:00 → D+1 00:00).

| task | does |
|---|---|
| `generate` | the simulated shop's raw batch of D (`ECOMM_HOME/raw/D/`); continues the world day by day if it has not reached D, reuses the batch if it has. **Skipped** with `ECOMM_SOURCE=imported` (the warehouse holds a user's log: no day is simulated), and every task after it with it |
| `load` | validation first (each raw file parsed once: schema and rules; a batch whose share of bad rows exceeds `ECOMM_BAD_ROW_THRESHOLD` is rejected before any database work), then COPY into staging → SQL merge into the star schema, one transaction; bad rows go to `quarantine` with their reason |
| `quality_checks` | every batch up to D never checked (a run killed after its load) or whose checks failed (a failure stands until fixed): reconciliation of the raw files, counted by an independent parser, with warehouse + quarantine (rows, revenue), orphan events, inconsistent orders, duplicate e-mails, freshness; a date that was streamed (`ecomm stream`): the streamed events against the batch (order lines, orders, revenue; web events, sessions), then its `stream` rows pruned; recorded in `audit.quality_checks` |
| `build_marts` | `dbt build` of the marts (the dbt project in `dbt/`: models, unit test, key tests) for the batches this run loaded (`--vars batch_dates`) and any loaded batch not built yet; the incremental models reprocess only the order dates, customers and products those batches touched, so the cost follows the day, not the history. Fails naming the failing dbt test. The marts' docs and lineage: `dbt docs` on port 8081 |
| `publish_warehouse` | publishes the `warehouse_marts` Asset (`ml_training_pipeline` runs on it) when the run loaded a batch; **skipped** when it loaded none, so a re-run of a loaded date triggers nothing |

**Idempotent and backfill-safe**: re-running a date reuses its batch, skips a load of identical files,
changes no row and publishes no Asset event; it checks again only batches left unchecked (a run
killed after its load) or failed. One run at a time (`max_active_runs=1`): the loader holds a lock
anyway.

**Failures**: a failed quality check, a rejected batch or a failed dbt test fails at once (retrying cannot fix data), with
the reason in the task log; anything else (a lost connection) retries twice with exponential backoff.

Run one date by hand: `ecomm pipeline run --date YYYY-MM-DD`; the marts alone: `ecomm marts build`.

**Why one `build_marts` task and not astronomer-cosmos**: dbt runs in its own locked environment
(`.tools/dbt-venv`: dbt-common pins protobuf below 7, the platform's lock has 7.x), which this task
calls as a subprocess. Cosmos would render one Airflow task per model and test: nothing here needs
per-model retries, and the dag-processor would parse the dbt project on every DAG parse.
"""


@dag(
    dag_id="ecommerce_data_pipeline",
    description="Daily batch of the simulated shop: generate, load (validated), check, build marts (dbt)",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    **dag_args(),
    tags=["ecomm", "data", "warehouse"],
    doc_md=DOC,
)
def ecommerce_data_pipeline():
    @task(multiple_outputs=False)  # one JSON result, not one XCom per key
    def generate() -> dict:
        """The raw batch directory of the business date (generated if the world has not reached it)."""
        from ecomm.pipeline import ensure_batch

        day = business_date(get_current_context())
        settings = task_settings()
        if settings.imported:  # skipped, and so is every task after it: nothing new is simulated
            raise AirflowSkipException(
                f"ECOMM_SOURCE=imported: the daily simulation is paused (the warehouse holds "
                f"{settings.import_file}); nothing generated for {day}"
            )
        with bad_data_fails_at_once():
            batch_dir = ensure_batch(settings.raw_dir, day)
        print(f"batch of {day}: {batch_dir}")
        return {"business_date": day.isoformat(), "batch_dir": str(batch_dir)}

    @task(multiple_outputs=False)
    def load(batch: dict) -> dict:
        """Validation (each file parsed once; a hopeless batch is rejected at once) then the load."""
        from ecomm.pipeline import load_date

        with bad_data_fails_at_once():
            loaded = load_date(
                task_settings(), Path(batch["batch_dir"]), date.fromisoformat(batch["business_date"])
            )
        result = loaded.batch
        print(f"batch {result.batch_date}: {result.status} {result.message}".rstrip())
        return {
            "status": result.status,
            # every batch this run loaded (earlier days the platform missed too): empty = no change
            "loaded_dates": [d.isoformat() for d in loaded.loaded_dates],
            "rows_read": result.total("read"),
            "rows_loaded": result.total("loaded"),
            "rows_unchanged": result.total("unchanged"),
            "rows_quarantined": result.total("quarantined"),
            "by_entity": {name: vars(counts) for name, counts in result.counts.items()},
            "message": result.message,
        }

    @task(multiple_outputs=False)
    def quality_checks(batch: dict) -> dict:
        from ecomm.pipeline import check_date

        with bad_data_fails_at_once():
            checks = check_date(task_settings(), date.fromisoformat(batch["business_date"]))
        for check in checks:
            print(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.details}")
        return {
            "checks": len(checks),
            "passed": sum(c.passed for c in checks),
            "batches": sorted({c.batch_date.isoformat() for c in checks if c.batch_date}),
        }

    @task(multiple_outputs=False)
    def build_marts(batch: dict, loaded: dict) -> dict:
        # also on a re-run that loaded nothing: build_marts takes every loaded batch not built yet, so
        # it repairs marts a failed build left stale
        from ecomm.warehouse.marts import MartsTestFailed
        from ecomm.warehouse.marts import build_marts as dbt_build

        dates = [date.fromisoformat(d) for d in loaded["loaded_dates"]]
        with fails_at_once(MartsTestFailed):  # a failed dbt test is data: retrying cannot fix it
            seconds = dbt_build(task_settings(), dates)
        return {
            "business_date": batch["business_date"],
            "batch_dates": loaded["loaded_dates"],
            "mart_seconds": {k: round(v, 3) for k, v in seconds.items()},
        }

    @task(outlets=[WAREHOUSE_MARTS], multiple_outputs=False)
    def publish_warehouse(batch: dict, loaded: dict) -> dict:
        # Airflow records an outlet's Asset event only when the task succeeds: a skip publishes none
        if not loaded["loaded_dates"]:
            raise AirflowSkipException(
                f"no batch loaded ({loaded['status']}: {loaded['message']}): the warehouse did not "
                "change, no Asset event"
            )
        # the event says which business date made the warehouse new (the ML DAG records it)
        get_current_context()["outlet_events"][WAREHOUSE_MARTS].extra = {
            "business_date": batch["business_date"]
        }
        return {"business_date": batch["business_date"], "loaded_dates": loaded["loaded_dates"]}

    batch = generate()
    loaded = load(batch)
    checked = quality_checks(batch)
    loaded >> checked >> build_marts(batch, loaded) >> publish_warehouse(batch, loaded)


ecommerce_data_pipeline()
