"""Daily monitoring: drift of the last 7 days' orders against the 28 days before (a drift episode
that lasts ECOMM_DRIFT_RETRAIN_DAYS triggers `ml_training_pipeline`), and of each served model
against the training reference stored with its version (see doc_md)."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import CronDataIntervalTimetable, TriggerRule, dag, get_current_context, task

from ecomm.orchestration.dag_support import business_date, dag_args, task_settings

DOC = """
### Model monitoring

One run per business date D (its logical date), at 06:00 UTC the day after, when
`ecommerce_data_pipeline` has loaded D.

**The retraining trigger**, `order_drift` (`ecomm.monitoring.orders`): the **order value** (before
discounts) and **basket size** of the orders of the 7 days ending on D (every weekday once) against the orders of
the 28 days before them, as PSI (quantile bins of the reference) and the two-sample KS test. A
feature is drifted when its KS p-value < `ECOMM_DRIFT_RETRAIN_ALPHA` (0.005) / 2 and its PSI >=
`ECOMM_DRIFT_RETRAIN_PSI` (0.1, a minimum effect); nothing is tested unless each sample holds
`ECOMM_DRIFT_RETRAIN_MIN_ORDERS` (100). A one-day PSI alone is not a trigger: at a few dozen orders a
day it reaches 0.8-1.7 on unchanged days. The task also compares the `ECOMM_DRIFT_RETRAIN_DAYS`
(2) days before D and retrains once per episode, on the day it has been drifted that many
consecutive days (the 7-day windows of consecutive days overlap, so one shift stays drifted for
days; a one-day blip retrains nothing). The result (D's windows, each feature's PSI, KS and flag,
the earlier days' drifted features, `retrain` and a one-line `reason`) is the task's XCom and is printed in its log; it fails when the warehouse has no
orders for D.

`drift_past_threshold` (after `model_drift`, whatever its outcome) retrains on the day an episode
of either calibrated detector (`ecomm.monitoring.retrain`) reaches `ECOMM_DRIFT_RETRAIN_DAYS`
consecutive drifted days: the order trigger's `retrain`, or the **recent inputs** drifted on each of
D and the days before it and not on the day before those (their flags as `model_drift` stored them
in `marts.model_monitoring`, computed when a date was not monitored). It prints the decision with its
reason. No, the run ends there (`trigger_retraining` is skipped); yes, `trigger_retraining` starts
`ml_training_pipeline` (run id `drift__D`, so re-running D triggers nothing twice; conf names the
business date, the reason `drift` and the drifted features), which retrains and lets the promotion
gate decide.
Measured in README "Model drift" (benchmarks/bench_drift.py): retrainings on a stable world, and
days from a planted shift's start to the trigger.

`model_drift` (beside them) takes the champion of each monitored model (`churn_model`,
`purchase_model`, `clv_model`, `segment_model`, `recommender_model`, `demand_forecast_model`), builds
the population its batch scoring would score the day after D (the same point-in-time features, scored
by that version; for the recommender, the customers who bought in the 28 days up to D and what it
recommends them; for the forecaster, the products whose forecasts of D `demand_forecast` stored and
their recent sales - a date without them is skipped with the reason) and
compares every input feature and the
prediction with the **training reference** stored with the version at registration
(`monitoring/reference.json` in its run): PSI over the reference's quantile bins (categories for
categorical inputs), the KS statistic (numeric, prediction) or the chi-squared p-value
(categorical), flagged as drifted when PSI > `ECOMM_DRIFT_PSI_THRESHOLD` (default 0.2) and the
KS/chi-squared p-value < `ECOMM_DRIFT_ALPHA` (0.005) / the model's features. The rows
replace D's rows of that model version in `marts.model_monitoring` (one row per model, version,
date and feature; `__prediction__` for the prediction), which `/metrics` and the dashboard read,
and it writes the day's self-contained **HTML report** per model (each feature's reference and
current distributions with its PSI, test and flag) to
`ECOMM_DRIFT_REPORTS/<model>/<model>-v<version>-<date>.html` (default `ECOMM_HOME/drift-reports`),
which the dashboard's Monitoring page offers for download.
A model without a champion, or registered before references existed, is reported and skipped.
Each model fails alone: an error while one is monitored or measured (its population, its rows, its
HTML report under an unwritable `ECOMM_DRIFT_REPORTS`) is printed as `failed` with a one-line reason,
the others are still monitored, and the task fails at the end naming every failed model.
The same task runs the **recent-inputs** view (`ecomm.monitoring.recent_inputs`): the last 7 days'
new customers (age, channel), late deliveries and each category's price index against the 90 days
before them, flagged when a p-value < `ECOMM_DRIFT_ALPHA` / the features and PSI >
`ECOMM_DRIFT_MIN_PSI` (0.1); its rows go to `marts.model_monitoring` as model `inputs`, version 0.

It then measures each champion's **realised quality** (`ecomm.monitoring.quality`): its
predictions as of the cutoff whose label window closed on D (D + 1 - the version's horizon),
recomputed point-in-time, against the labels now loaded, as ROC-AUC beside the planted truth's on
the same customers where the truth has that cutoff; one row per model, version and date in
`marts.model_quality`.

**Not yet here**: retraining decided by a served model's own drift (its population ages between the
reference and the day, so it flags features on unchanged worlds too) or by its realised quality.
"""


@dag(
    dag_id="model_monitoring",
    description="Daily drift of orders (a drift episode that lasts retrains), of each served model "
    "against its training reference and of the recent inputs (marts.model_monitoring)",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    **dag_args(),
    tags=["ecomm", "ml", "monitoring"],
    doc_md=DOC,
)
def model_monitoring():
    @task(multiple_outputs=False)  # one JSON result, not one XCom per key
    def order_drift() -> dict:
        from ecomm.monitoring import orders

        report = orders.order_drift(task_settings(), business_date(get_current_context()))
        window, reference = report["window"], report["reference_window"]
        print(
            f"{report['n_current']} orders in {window[0]} .. {window[1]} vs {report['n_reference']} in "
            f"{reference[0]} .. {reference[1]}"
        )
        for feature in orders.FEATURES if report["tested"] else ():
            d = report[feature]
            print(
                f"{feature}: PSI {d['psi']:.4f} ({d['level']}), KS {d['ks_statistic']:.4f} "
                f"(p={d['ks_pvalue']:.3g}){', drifted' if d['drifted'] else ''}"
            )
        return report

    @task.short_circuit(trigger_rule=TriggerRule.ALL_DONE)  # also when a model's monitoring failed
    def drift_past_threshold(report: dict) -> bool:
        from ecomm.monitoring.retrain import decision

        retrain, reason, drifted = decision(task_settings(), business_date(get_current_context()), report)
        print(f"{'retrain' if retrain else 'no retraining'}: {reason}")
        get_current_context()["ti"].xcom_push(key="drifted", value=",".join(drifted))
        return retrain

    retrain = TriggerDagRunOperator(
        task_id="trigger_retraining",
        trigger_dag_id="ml_training_pipeline",
        trigger_run_id="drift__{{ ds }}",
        conf={
            "triggered_by": "model_monitoring",
            "reason": "drift",
            "business_date": "{{ ds }}",
            "drifted": "{{ ti.xcom_pull(task_ids='drift_past_threshold', key='drifted') }}",
        },
        skip_when_already_exists=True,
    )
    decision = drift_past_threshold(order_drift())
    decision >> retrain

    @task(multiple_outputs=False)
    def model_drift() -> dict:
        from ecomm.monitoring.models import monitor_served_models, raise_for_failures
        from ecomm.monitoring.quality import measure_served_models

        settings, day = task_settings(), business_date(get_current_context())
        results = monitor_served_models(settings, day)
        for r in results:
            line = f"{r.model} v{r.version}: {r.status}"
            if r.status == "monitored":
                line += f", {len(r.rows)} rows, drifted: {', '.join(r.drifted) or 'none'} ({r.seconds:.1f}s)"
                line += f", report {r.report}" if r.report else ""
            if r.reason:
                line += f" ({r.reason})"
            print(line)
        quality = measure_served_models(settings, day)
        for q in quality:
            line = f"{q.model} v{q.version}: realised quality {q.status}"
            if q.status == "measured":
                truth = "no truth" if q.truth_value is None else f"truth {q.truth_value:.4f}"
                line += f", ROC-AUC {q.value:.4f} ({truth}) on the {q.rows} customers of {q.cutoff}"
            if q.reason:
                line += f" ({q.reason})"
            print(line)
        raise_for_failures([*results, *quality])  # every model was tried; the task fails naming the failed
        return {"drift": [r.to_dict() for r in results], "quality": [q.to_dict() for q in quality]}

    model_drift() >> decision  # the recent inputs' flags it stores are a trigger too


model_monitoring()
