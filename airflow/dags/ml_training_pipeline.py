"""Model training, scheduled on the warehouse Asset and weekly: plan the point-in-time features ->
train churn -> train the recommender (each registers a challenger and runs the promotion gate) ->
evaluate champion against challenger on the same fresh holdout -> score today's customers with the
churn champion. A thin caller of `ecomm.ml`."""

from __future__ import annotations

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, get_current_context, task

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import (
    default_args,
    json_safe,
    no_training_data_fails_at_once,
    task_settings,
)

DOC = """
### ML training pipeline

Runs when `ecommerce_data_pipeline` publishes the `warehouse_marts` Asset, every Sunday 04:00 UTC,
and when `model_monitoring` sees drift past `ECOMM_DRIFT_RETRAIN_PSI`. One run at a time.

| task | does |
|---|---|
| `feature_plan` | the warehouse it trains on (batches, rows per table) and the point-in-time feature plan: the churn training cutoffs and the later evaluation cutoff (`ECOMM_CHURN_HORIZON_DAYS` label), the recommender's temporal split. Fails at once if the warehouse is too short to train |
| `train_churn` | features and labels (SQL, rows dated before each cutoff) → logistic baseline + Optuna-tuned XGBoost (`ECOMM_CHURN_TRIALS`) → logged to MLflow, registered as `churn_model` with alias `challenger` → **promotion gate**: challenger and champion scored on the same holdout; `champion` moves only when the challenger wins by `ECOMM_PROMOTION_MARGIN`, otherwise the champion is kept |
| `train_recommender` | the same for `recommender_model`: ALS + SVD blend (`ECOMM_RECOMMENDER_TRIALS`), 4-week temporal holdout, gate on NDCG@10 |
| `evaluate` | `ecomm evaluate --report`: champion and challenger of both models re-scored on the same fresh holdout beside the baselines and the oracle, the quality targets; report in `ECOMM_HOME/reports/` |
| `score_churn` | `ecomm predict churn`: every customer scored as of the day after the last load by the churn champion, into `marts.churn_scores` (the dashboard's Churn risk page); nothing to do when it holds that day and version already |

Each task's XCom is small JSON: registered version, gate decision (promoted or kept, scores, reason),
metrics. The first version of a model becomes champion without a contest; the API serves `@champion`.

Train by hand: `ecomm train churn`, `ecomm train recommender`, `ecomm evaluate --report`,
`ecomm predict churn`.
"""


def _train(model: str) -> dict:
    """Train one registered model; its result as the task's XCom: version, the gate's decision,
    metrics, the churn cutoffs or the recommender split (JSON-safe)."""
    from ecomm.ml.training_plan import train_model

    with no_training_data_fails_at_once():
        result = train_model(task_settings(), model)
    details = {"plan": result.plan} if model == "churn_model" else {"split": result.split}
    gate = result.gate
    decision = "promoted" if gate.promoted else "kept"
    print(f"{model} v{result.version}: {decision} - {gate.reason}")
    return json_safe(
        {
            "model": model,
            "version": result.version,
            "run_id": result.run_id,
            "seconds": result.seconds,
            **details,
            "metrics": result.metrics,
            "gate": {"decision": decision, **gate.to_dict()},
        }
    )


@dag(
    dag_id="ml_training_pipeline",
    description="Train churn and recommender, register challengers, promote or keep the champions",
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
    def feature_plan() -> dict:
        from ecomm.ml.training_plan import training_plan

        context = get_current_context()
        # the business dates whose load triggered this run (none for weekly or triggered runs)
        triggered_by = sorted(
            str(event.extra.get("business_date"))
            for events in context["triggering_asset_events"].values()
            for event in events
        )
        with no_training_data_fails_at_once():
            plan = training_plan(task_settings())
        plan |= {"triggered_by_business_dates": triggered_by, "conf": dict(context["dag_run"].conf or {})}
        print(f"training plan: {plan}")
        return json_safe(plan)

    @task(multiple_outputs=False)
    def train_churn(plan: dict) -> dict:
        return _train("churn_model")

    @task(multiple_outputs=False)
    def train_recommender(plan: dict) -> dict:
        return _train("recommender_model")

    @task(multiple_outputs=False)
    def evaluate(churn: dict, recommender: dict) -> dict:
        from ecomm.ml.report import evaluate as run
        from ecomm.ml.report import write_report

        settings = task_settings()
        result = run(settings)
        markdown, _ = write_report(result, settings.home / "reports")
        for comp in result.comparisons:
            print(f"{comp.model} on {comp.holdout}: {comp.rows}")
        for target in result.targets:
            print(f"target {target.name}: {target.observed} (required {target.required}, met {target.met})")
        return json_safe(
            {
                "decisions": {g["model"]: g["gate"]["decision"] for g in (churn, recommender)},
                "comparisons": [c.to_dict() for c in result.comparisons],
                "targets": [t.to_dict() for t in result.targets],
                "report": str(markdown),
            }
        )

    @task(multiple_outputs=False)
    def score_churn(evaluation: dict) -> dict:
        from ecomm.ml.churn.scoring import score_with_champion

        result = score_with_champion(task_settings())
        verb = "stored" if result.stored else "already stored"
        print(f"churn scores of {result.customers} customers as of {result.cutoff}: {verb}")
        return json_safe(result.to_dict())

    plan = feature_plan()
    churn = train_churn(plan)
    recommender = train_recommender(plan)
    churn >> recommender  # one training at a time: each uses both cores
    score_churn(evaluate(churn, recommender))


ml_training_pipeline()
