"""Imported data's daily pipeline: the files dropped into the inbox continue the imported log.

A thin caller of `ecomm.imports.inbox`; with the simulated shop it skips (the data pipeline runs).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import dag_args, task_settings

DOC = """
### Import inbox

With `ECOMM_SOURCE=imported` the daily simulation is paused (`ecommerce_data_pipeline` skips its
`generate`) and this DAG takes its place. Every hour it looks in the inbox (`ECOMM_IMPORT_INBOX`,
default `ECOMM_HOME/inbox/`) for CSV or Parquet files with the imported log's columns (the same
`ECOMM_IMPORT_MAP`) that **continue** it: every row of a file that is not an exact duplicate of a row
of the log so far must be dated after the log's last day.

| task | does |
|---|---|
| `import_files` | each new file, in name order, imported after the log so far by `ecomm import`'s own code (validation, quarantine, the one loader, quality checks, marts); accepted files move to `inbox/accepted/`, refused ones (nothing written) to `inbox/refused/` beside `<file>.why.txt`. A file modified in the last minute is left for the next run (still being copied). **Skipped** with the simulated shop or when no file is new; **fails** (no retry) when a batch was rejected or a quality check failed, naming them |
| `publish_warehouse` | publishes the `warehouse_marts` Asset (the training and forecast DAGs run on it) when a day was loaded; **skipped** otherwise |

Refused files are not retried: fix one and drop it in the inbox again.
"""


@dag(
    dag_id="import_inbox",
    description="Imported data: load the files dropped into the inbox that continue the log",
    schedule=CronTriggerTimetable("5 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    **dag_args(),
    tags=["ecomm", "data", "import"],
    doc_md=DOC,
)
def import_inbox():
    @task(multiple_outputs=False)
    def import_files() -> dict:
        from ecomm.imports.inbox import import_inbox as run_inbox

        settings = task_settings()
        if not settings.imported:
            raise AirflowSkipException(
                "ECOMM_SOURCE=simulated: the inbox continues an imported log only (the simulated shop "
                "is loaded by ecommerce_data_pipeline)"
            )
        run = run_inbox(settings)
        for name, why in run.refused.items():
            print(f"refused {name}: {why}")
        for path in run.accepted:
            print(f"accepted {path.name}")
        if run.problems:  # bad data: a retry cannot fix it
            raise AirflowFailException("; ".join(run.problems))
        if not run.accepted and not run.refused:
            raise AirflowSkipException(f"no new file in {settings.inbox_dir}")
        return {
            "accepted": [p.name for p in run.accepted],
            "refused": run.refused,
            "loaded_dates": [d.isoformat() for d in run.loaded_dates],
        }

    @task(outlets=[WAREHOUSE_MARTS], multiple_outputs=False)
    def publish_warehouse(imported: dict) -> dict:
        # Airflow records an outlet's Asset event only when the task succeeds: a skip publishes none
        if not imported["loaded_dates"]:
            raise AirflowSkipException("no day loaded: the warehouse did not change")
        return {"published": "warehouse_marts", "loaded_dates": imported["loaded_dates"]}

    publish_warehouse(import_files())


import_inbox()
