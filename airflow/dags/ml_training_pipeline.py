"""Model training, scheduled on the warehouse Asset and weekly.

Today it records the warehouse state a training run would use; the trainers join when `ecomm.ml`
lands (see doc_md).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import default_args, task_settings

DOC = """
### ML training pipeline

Runs when `ecommerce_data_pipeline` publishes the `warehouse_marts` Asset, and every Sunday 04:00 UTC.

**Today** it holds one task, `warehouse_snapshot`: it records (as its XCom result and in its log)
the warehouse a training run would train on: the loaded batches (first, last, count) and the rows
of every dimension and fact table. It fails if no batch has been loaded.

**Not yet here**: the training tasks (build features → train churn → train recommender → evaluate
the challenger against the champion on the same holdout → promote or keep) join this DAG when
`ecomm.ml` lands. Until then this DAG trains nothing and registers nothing.
"""


@dag(
    dag_id="ml_training_pipeline",
    description="Train, evaluate and promote models (today: records the warehouse snapshot)",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 4 * * 0", timezone="UTC"), assets=WAREHOUSE_MARTS
    ),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["ecomm", "ml"],
    doc_md=DOC,
)
def ml_training_pipeline():
    @task(multiple_outputs=False)  # one JSON result, not one XCom per key
    def warehouse_snapshot() -> dict:
        from ecomm.status import warehouse_status

        context = get_current_context()
        # the business dates whose load triggered this run (none for the weekly run)
        triggered_by = sorted(
            str(event.extra.get("business_date"))
            for events in context["triggering_asset_events"].values()
            for event in events
        )
        info = warehouse_status(task_settings())
        batches = (info.get("batches") or [{}])[0]
        if not batches.get("loaded"):
            raise RuntimeError("the warehouse holds no loaded batch: nothing to train on")
        snapshot = {
            "schema_revision": info["warehouse"][0]["schema revision"],
            "batches_loaded": batches["loaded"],
            "first_batch": batches["first"].isoformat(),
            "last_batch": batches["last"].isoformat(),
            "rows": {t["table"]: int(t["rows"].replace(",", "")) for t in info["tables"]},
            "triggered_by_business_dates": triggered_by,
        }
        print(f"training data snapshot: {snapshot}")
        return snapshot

    warehouse_snapshot()


ml_training_pipeline()
