"""Demand forecasts, scheduled on the warehouse Asset: train `demand_forecast_model` (challenger and
champion gate) unless nothing changed -> store the champion's forecasts and reorder points of the
latest forecast date. A thin caller of `ecomm.ml`."""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from ecomm.orchestration.assets import WAREHOUSE_MARTS
from ecomm.orchestration.dag_support import (
    dag_args,
    fails_at_once,
    json_safe,
    task_settings,
    train_task,
)

DOC = """
### Demand forecast

Runs when `ecommerce_data_pipeline` publishes the `warehouse_marts` Asset (a run that loaded a
batch). One run at a time, no catch-up (`ecomm pipeline bootstrap` trains the first champion and
stores its forecasts).

| task | does |
|---|---|
| `train_forecast` | `ecomm train forecast`: per level (product, category, total × day) a rolling-origin backtest of the candidates (`ECOMM_FORECAST_MODELS`, `ECOMM_FORECAST_BACKTEST_WINDOWS` origins a week apart, product level on the `ECOMM_FORECAST_PRODUCTS` best sellers), the lowest MASE at 14 days chosen, registered as `demand_forecast_model` with alias `challenger` → **promotion gate** on the latest backtest window's MASE (lower is better, `ECOMM_PROMOTION_MARGIN`) → the champion's forecasts stored. **Skipped** when the model's latest version learnt from the very same warehouse and settings (tags `trained_on.*`, as in `ml_training_pipeline`); trigger with conf `{"force": true}` to retrain anyway |
| `store_forecasts` | the champion's forecasts of every series (30 days after the warehouse's last order date, 80%/95% intervals) into `marts.demand_forecast`, each product's reorder point and safety stock (`ECOMM_FORECAST_LEAD_TIME_DAYS`, `ECOMM_FORECAST_SERVICE_LEVEL`) into `marts.product_stock`: what `GET /forecast/...` and `POST /forecast/batch` answer. **Skipped** when the champion's forecasts of that date are stored already (after a training, which stores them) |

Each task's XCom is small JSON: the registered version, the gate's decision, the chosen model and
MASE at 14 days per level; the forecast date, version, rows and products stored.

By hand: `ecomm train forecast` (always trains).
"""


@dag(
    dag_id="demand_forecast",
    description="Train demand_forecast_model (gated) and store the champion's forecasts and reorder points",
    schedule=WAREHOUSE_MARTS,
    **dag_args(),
    tags=["ecomm", "ml", "forecast"],
    doc_md=DOC,
)
def demand_forecast():
    @task(multiple_outputs=False)  # one JSON result, not one XCom per key
    def train_forecast() -> dict:
        from ecomm.ml.registry import DEMAND_FORECAST_MODEL

        return train_task(DEMAND_FORECAST_MODEL)

    @task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)  # also after training skipped
    def store_forecasts(training: dict | None) -> dict:
        from ecomm.ml import tracking
        from ecomm.ml.forecast.store import store_champion_forecasts, store_state

        settings = task_settings()
        state = store_state(settings, tracking.configure(settings))
        if state.up_to_date:
            raise AirflowSkipException(
                f"the forecasts of {state.forecast_date} by champion v{state.champion} are stored already"
            )
        with fails_at_once(ValueError):  # no champion (never trained) or no order yet
            stored = store_champion_forecasts(settings)
        print(
            f"stored {stored.forecast_rows} forecasts and {stored.products} reorder points of "
            f"v{stored.model_version} as of {stored.forecast_date}"
        )
        return json_safe(vars(stored))

    store_forecasts(train_forecast())


demand_forecast()
