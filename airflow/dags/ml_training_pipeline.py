"""Model training, scheduled on the warehouse Asset and weekly: plan the point-in-time features ->
train churn -> the recommender -> the segments -> purchase propensity -> lifetime value (each
registers a challenger and runs its promotion gate) -> evaluate champion against challenger on the same fresh holdout ->
score today's customers with the churn and purchase champions. A thin caller of `ecomm.ml`."""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, TriggerRule, dag, get_current_context, task

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import (
    dag_args,
    every_sunday,
    json_safe,
    no_training_data_fails_at_once,
    task_settings,
    train_task,
)

DOC = """
### ML training pipeline

Runs when `ecommerce_data_pipeline` publishes the `warehouse_marts` Asset (a run that loaded a batch),
every Sunday 04:00 UTC (the next Sunday after the DAG appears, never one already past: no start
date, no catch-up), and when `model_monitoring` decides to retrain: a drift episode of the recent
orders or of the recent inputs reaching `ECOMM_DRIFT_RETRAIN_DAYS` consecutive drifted days (run id
`drift__<date>`, conf `reason: drift` and the drifted features). One run at a time.

**Nothing changed, nothing trained**: each version records what it learnt from (tags
`trained_on.warehouse`, a fingerprint of the loaded batches' files; `trained_on.settings`, of the
trainer's configuration; `trained_on.last_batch`). A training task whose model's latest version
learnt from the very same warehouse and settings is **skipped**, whatever triggered the run (so the
first weekly run after `make up` does not retrain what the bootstrap trained); `evaluate` and
the scoring tasks are skipped when every training is. Trigger with conf `{"force": true}` to retrain
anyway.

| task | does |
|---|---|
| `feature_plan` | the warehouse it trains on (batches, rows per table) and the point-in-time feature plan: the churn training cutoffs and the later evaluation cutoff (`ECOMM_CHURN_HORIZON_DAYS` label), the recommender's temporal split. Fails at once if the warehouse is too short to train |
| `train_churn` | features and labels (SQL, rows dated before each cutoff) → logistic baseline + Optuna-tuned XGBoost (`ECOMM_CHURN_TRIALS`) → logged to MLflow, registered as `churn_model` with alias `challenger` → **promotion gate**: challenger and champion scored on the same holdout; `champion` moves only when the challenger wins by `ECOMM_PROMOTION_MARGIN`, otherwise the champion is kept |
| `train_recommender` | the same for `recommender_model`: candidate generators re-ranked by LightGBM (`ECOMM_RECOMMENDER_TRIALS` label-window settings), 4-week temporal holdout, gate on NDCG@10 |
| `train_segments` | the same for `segment_model`: K-Means on the point-in-time behavioural features of the latest month start, k by three indices and stability; gate: silhouette and stability not worse on the same customers; the champion's segments of every month start into `marts.customer_segments` |
| `train_purchase` | the same for `purchase_model`: P(at least one completed order in the next 30 days); logistic, monotone XGBoost and an MLP compared on a time-ordered validation, the best registered; gate on ROC-AUC at the evaluation cutoff like churn |
| `train_clv` | the same for `clv_model`: BG/NBD + Gamma-Gamma by maximum likelihood; gate on the Spearman of value with the holdout's realised value; the champion's values into `marts.customer_value` |
| `evaluate` | `ecomm evaluate --report`: champion and challenger of every model re-scored on the same fresh holdout beside the baselines and the planted truth, the quality targets; report in `ECOMM_HOME/reports/` |
| `score_churn` | `ecomm predict churn`: every customer scored as of the day after the last load by the churn champion, into `marts.churn_scores` (the dashboard's Churn risk page); nothing to do when it holds that day and version already |
| `score_purchase` | `ecomm predict purchase`: the same for the purchase champion, into `marts.purchase_scores` (beside churn on the Churn risk page) |

Each task's XCom is small JSON: registered version, gate decision (promoted or kept, scores, reason),
metrics. The first version of a model becomes champion without a contest; the API serves `@champion`.

Train by hand: `ecomm train churn`, `ecomm train recommender`, `ecomm train segments`, `ecomm train purchase`, `ecomm train clv`, `ecomm evaluate --report`,
`ecomm predict churn`, `ecomm predict purchase`.
"""


@dag(
    dag_id="ml_training_pipeline",
    description="Train churn, recommender, segments, purchase propensity and lifetime value; gate each",
    schedule=AssetOrTimeSchedule(
        timetable=every_sunday(4),
        assets=WAREHOUSE_MARTS,
    ),
    **dag_args(),
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
        return train_task("churn_model")

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)  # also after churn skipped
    def train_recommender(plan: dict) -> dict:
        return train_task("recommender_model")

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)
    def train_segments(plan: dict) -> dict:
        return train_task("segment_model")

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)
    def train_purchase(plan: dict) -> dict:
        return train_task("purchase_model")

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)
    def train_clv(plan: dict) -> dict:
        return train_task("clv_model")

    # runs when at least one model trained; a skipped training's XCom arrives as None
    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def evaluate(
        churn: dict | None,
        recommender: dict | None,
        segments: dict | None,
        purchase: dict | None,
        clv: dict | None,
    ) -> dict:
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
                "decisions": {
                    g["model"]: g["gate"]["decision"]
                    for g in (churn, recommender, segments, purchase, clv)
                    if g
                },
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

    @task(multiple_outputs=False)
    def score_purchase(evaluation: dict) -> dict:
        from ecomm.ml.purchase.scoring import score_with_champion

        result = score_with_champion(task_settings())
        verb = "stored" if result.stored else "already stored"
        print(f"purchase scores of {result.customers} customers as of {result.cutoff}: {verb}")
        return json_safe(result.to_dict())

    plan = feature_plan()
    churn = train_churn(plan)
    recommender = train_recommender(plan)
    segments = train_segments(plan)
    purchase = train_purchase(plan)
    clv = train_clv(plan)
    churn >> recommender >> segments >> purchase >> clv  # one training at a time: each uses both cores
    evaluation = evaluate(churn, recommender, segments, purchase, clv)
    score_churn(evaluation)
    score_purchase(evaluation)


ml_training_pipeline()
