"""`ecomm train forecast`: backtest each level, choose its model, register `demand_forecast_model`,
gate it, and store the champion's forecasts (ecomm.ml.forecast.store); a promoted version's drift
reference is the population of those forecasts (monitoring.forecast).

Per level (product, category, total; a warehouse without product categories, an imported log
without a category column, is forecast at the product and total levels only): the rolling-origin backtest of the candidate models
(ecomm.ml.forecast.shop); the level's model is the statistical one with the lowest MASE at
`choose_horizon` (14 days) on the validation origins (backtest.validation_table: the calibration
origins before the reported ones whose 14 days end by the first reported origin), not on the
reported origins, whose figures (the logged backtest table, `ecomm evaluate --report`, the
benchmark) would otherwise flatter the chosen model (LightGBM is backtested when asked but not
registered: the pyfunc holds statsforecast models only). The registered pyfunc
(ecomm.ml.serving.ForecastPyfunc) holds the chosen model of each level, unfitted: it fits on the
history it is given. Gate (registry.promotion_gate, lower is better): each version forecasts the
latest backtest window (from the last origin, `choose_horizon` days) of every level the challenger
has, from the history up to that origin; score = the mean over levels of MASE. A champion that
cannot forecast one of the levels scores infinity (the challenger covers more).
A version the gate does not promote gets no reference: its forecasts are never stored, and computing
them only for a reference would be a second fit of every series. Nor does one without the product
level (the monitored rows are products): model_drift reports it as no_reference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from ecomm.ml import registry, tracking
from ecomm.ml.forecast.backtest import SPREAD_DAYS, BacktestSettings, seasonal_scales
from ecomm.ml.forecast.conformal import HALF_LIVES, INTERVAL_SCALES, Calibration
from ecomm.ml.forecast.frame import daily_grid
from ecomm.ml.forecast.models import GLOBAL, ModelSettings, check_models, statistical_models
from ecomm.ml.forecast.shop import (
    LEVELS,
    ORACLE,
    ShopBacktest,
    at_level,
    level_series,
    shop_backtest,
    shop_data,
    supported_levels,
)
from ecomm.ml.forecast.stock import compare_policies
from ecomm.ml.forecast.store import MIN_HISTORY_DAYS, Stored, model_input, store_champion_forecasts
from ecomm.ml.metrics import forecast_metrics
from ecomm.ml.serving import SERIES_ID, ForecastPyfunc

GATE_METRIC = "latest_window_mase"


@dataclass(frozen=True)
class ForecastConfig:
    levels: tuple[str, ...] = LEVELS
    models: tuple[str, ...] = ("seasonal_naive", "auto_ets")
    # recency-weighted conformal intervals at the levels of many series (conformal.HALF_LIVES)
    backtest: BacktestSettings = field(
        default_factory=lambda: BacktestSettings(half_lives=HALF_LIVES, interval_scales=INTERVAL_SCALES)
    )
    products: int | None = 100  # product level backtest: the best sellers before the first origin
    choose_horizon: int = 14
    margin: float = 0.005

    @classmethod
    def from_settings(cls, settings, **overrides) -> ForecastConfig:
        """What `ecomm train forecast` defaults to, the DAG and the bootstrap train with: the
        ECOMM_FORECAST_* candidates, backtest windows, products and processes, the promotion margin."""
        models = check_models(tuple(m.strip() for m in settings.forecast_models.split(",") if m.strip()))
        values = {
            "models": models,
            "backtest": BacktestSettings(
                windows=settings.forecast_backtest_windows,
                models=ModelSettings(n_jobs=settings.forecast_jobs),
                half_lives=HALF_LIVES,
                interval_scales=INTERVAL_SCALES,
            ),
            "products": settings.forecast_products or None,
            "margin": settings.promotion_margin,
        }
        return cls(**(values | overrides))


@dataclass
class ForecastResult:
    run_id: str
    version: str
    backtests: dict[str, ShopBacktest]
    methods: dict[str, str]
    gate: registry.GateDecision
    stored: Stored
    seconds: float
    stock: dict[str, float] | None = None  # stock.compare_policies on the product backtest

    @property
    def metrics(self) -> dict[str, float]:
        """The chosen model's MASE at the choosing horizon per level (what the DAG's XCom shows)."""
        out = {}
        for level, b in self.backtests.items():
            rows = b.table[(b.table["model"] == self.methods[level]) & (b.table["horizon"] == 14)]
            out |= {f"{level}_mase_h14": float(rows["mase"].iloc[0])} if len(rows) else {}
        return out


def check_history(sales: pd.DataFrame, backtest: BacktestSettings, choose_horizon: int = 14) -> None:
    """FeatureError (a warehouse too short to train on, as the other trainers say it) unless the
    first backtest origin has MIN_HISTORY_DAYS of history before it and, with calibration origins,
    room before it for the validation origin(s) the model is chosen on (choose_method: `choose_horizon`
    days ending by the first origin, `step` days apart, each with two seasons of history before it,
    as backtest._calibration_forecasts needs)."""
    from ecomm.features.churn import FeatureError

    days = (sales["date"].max() - sales["date"].min()).days + 1
    before = MIN_HISTORY_DAYS
    if backtest.calibration_windows:
        validation = backtest.step * math.ceil(choose_horizon / backtest.step)
        before = max(before, validation + 2 * backtest.models.season_length + 1)
    needed = backtest.horizon + (backtest.windows - 1) * backtest.step + before
    if days < needed:
        raise FeatureError(
            f"the warehouse's {days} days are too short for {backtest.windows} backtest origin(s) "
            f"{backtest.step} days apart with {before} days of history before the first (its own and "
            f"the validation origins' the model is chosen on) and {backtest.horizon} after the last "
            f"({needed} days)"
        )


def choose_method(validation: pd.DataFrame, horizon: int) -> str:
    """The registrable model with the lowest MASE at `horizon` on the validation origins
    (ShopBacktest.validation: before the reported ones; ties: the first in the table)."""
    rows = validation[(validation["horizon"] == horizon) & ~validation["model"].isin((ORACLE, *GLOBAL))]
    if rows.empty:
        raise ValueError(
            f"no validation origin before the backtest's first with {horizon} days ending by it: "
            "the model is chosen there (a longer history, or calibration_windows > 0)"
        )
    return str(rows.loc[rows["mase"].astype(float).idxmin(), "model"])


def chosen_on(backtest: ShopBacktest, horizon: int) -> int:
    """How many validation origins the level's model was chosen on."""
    rows = backtest.validation[backtest.validation["horizon"] == horizon]
    return int(rows["origins"].iloc[0]) if len(rows) else 0


def build_pyfunc(
    methods: dict[str, str], config: ForecastConfig, backtests: dict[str, ShopBacktest] | None = None
) -> ForecastPyfunc:
    """The pyfunc of the chosen models (AutoETS with its level's search space, ModelSettings.for_level);
    with the backtests, each level's conformal calibration from every error of its chosen model (the
    intervals and reorder points of the stored forecasts)."""
    settings = replace(config.backtest.models, horizon=config.backtest.horizon)
    models = {
        level: statistical_models((method,), settings.for_level(level))[0]
        for level, method in methods.items()
    }
    info = {"season_length": settings.season_length, "horizon": settings.horizon}
    calibrations = {}
    for level, b in (backtests or {}).items():
        errors = b.errors if b.errors is not None else pd.DataFrame()
        own = errors[errors["model"] == methods[level]] if len(errors) else errors
        if len(own):
            at_level = config.backtest.for_level(level)
            calibration = Calibration.from_errors(
                own, settings.horizon, at_level.half_life, at_level.interval_scale
            )
            calibrations[level] = calibration.to_dict(SPREAD_DAYS)
    return ForecastPyfunc(models, methods, info, calibrations)


def window_mase(
    pyfunc: ForecastPyfunc, sales: pd.DataFrame, level: str, cutoff, horizon: int, n_jobs: int = 1
) -> float:
    """MASE of the pyfunc's forecasts of the `horizon` days after `cutoff` from the history up to it."""
    history = model_input(sales[sales["date"] <= cutoff], [level])
    forecasts = pyfunc.predict(None, history, params={"horizon": horizon, "n_jobs": n_jobs})
    grid = daily_grid(at_level(sales, level)).assign(series_id=lambda g: g["series_id"].astype(str))
    scales = seasonal_scales(grid, int(pyfunc.info["season_length"]))
    scales = scales[scales["date"] == cutoff].drop(columns="date")
    scored = forecasts.merge(grid[["series_id", "date", "y"]], on=[SERIES_ID, "date"]).merge(
        scales, on=SERIES_ID
    )
    return forecast_metrics(scored, "point", group=SERIES_ID)["mase"]


def gate_score(
    pyfunc: ForecastPyfunc, data: dict[str, pd.DataFrame], cutoff, horizon: int, n_jobs: int = 1
) -> float:
    """The mean over the levels in `data` (product rows kept per level) of window_mase."""
    if not set(data) <= set(pyfunc.models):
        return math.inf
    scores = [window_mase(pyfunc, sales, level, cutoff, horizon, n_jobs) for level, sales in data.items()]
    return float(np.mean(scores))


def store_forecast_reference(settings, client, version: str, stored: Stored) -> None:
    """The version's drift reference (in the active run): the products it forecast on its training
    end, the forecast date of `stored`, and their recent sales (monitoring.forecast), the population
    model_drift compares daily. From the stored forecasts: no second fit."""
    from ecomm import db
    from ecomm.monitoring.forecast import CATEGORICAL, forecast_population
    from ecomm.monitoring.models import store_reference
    from ecomm.monitoring.reference import training_reference

    with db.connection(settings) as conn:
        features, forecast = forecast_population(conn, date.fromisoformat(stored.forecast_date), version)
    reference = training_reference(features, CATEGORICAL, forecast)
    store_reference(client, registry.DEMAND_FORECAST_MODEL, version, reference)


def train_forecast(settings, config: ForecastConfig) -> ForecastResult:
    import mlflow

    started = time.perf_counter()
    if set(check_models(config.models)) <= set(GLOBAL):
        raise ValueError("models: no statistical model to register (LightGBM alone is not registered)")
    sales, truth = shop_data(settings)
    check_history(sales, config.backtest, config.choose_horizon)
    levels = supported_levels(sales, config.levels)
    backtests = {
        level: shop_backtest(settings, level, config.models, config.backtest, config.products, (sales, truth))
        for level in levels
    }
    methods = {level: choose_method(b.validation, config.choose_horizon) for level, b in backtests.items()}
    pyfunc = build_pyfunc(methods, config, backtests)
    stock = None
    if "product" in backtests:  # the reorder-point policy replayed on the backtest's origins
        b = backtests["product"]
        lead, service = settings.forecast_lead_time_days, settings.forecast_service_level
        stock = compare_policies(
            b.forecasts, methods["product"], b.frame, lead, service, config.backtest.step, b.errors
        )
    last = sales["date"].max()
    cutoff = last - pd.Timedelta(days=config.backtest.horizon)  # the backtest's latest origin
    scored = {level: level_series(sales, level, config.backtest, config.products)[0] for level in methods}

    client = tracking.configure(settings)
    experiment_id = tracking.ensure_experiment(client, settings, tracking.FORECAST_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"forecast-{last.date()}") as run:
        mlflow.log_params(
            {
                "levels": ",".join(levels),
                "models": ",".join(config.models),
                "windows": config.backtest.windows,
                "step": config.backtest.step,
                "products": config.products or "all",
                "choose_horizon": config.choose_horizon,
                "last_day": last.date().isoformat(),
            }
            | {f"method_{level}": method for level, method in methods.items()}
            | {f"chosen_on_origins_{lv}": chosen_on(b, config.choose_horizon) for lv, b in backtests.items()}
        )
        for level, b in backtests.items():
            chosen = b.table[(b.table["model"] == methods[level])].set_index("horizon")
            for horizon, row in chosen.iterrows():
                mlflow.log_metrics(
                    {
                        f"{level}_{m}_h{horizon}": float(row[m])
                        for m in ("mase", "smape", "bias")
                        if row[m] == row[m]
                    }
                )
            mlflow.log_dict(b.table.to_dict(orient="records"), f"evaluation/backtest_{level}.json")
            mlflow.log_dict(b.validation.to_dict(orient="records"), f"evaluation/validation_{level}.json")
        example = model_input(sales, list(methods)[-1:])  # one series' last weeks: the signature's example
        example = example[example[SERIES_ID] == example[SERIES_ID].iloc[0]].tail(4 * MIN_HISTORY_DAYS)
        info = {"methods": methods, "last_day": last.date().isoformat(), **pyfunc.info}
        logged = registry.log_pyfunc(
            pyfunc,
            name=registry.DEMAND_FORECAST_MODEL,
            signature=mlflow.models.infer_signature(
                example, pyfunc.predict(None, example, params={"horizon": 1}), params={"horizon": 1}
            ),
            input_example=example,
            requirements=registry.pip_requirements("statsforecast", "scipy"),
            metadata=info,
        )
        version = str(logged.registered_model_version)

        def score(uri: str) -> float:
            loaded = mlflow.pyfunc.load_model(uri).unwrap_python_model()
            return gate_score(loaded, scored, cutoff, config.choose_horizon, config.backtest.models.n_jobs)

        gate = registry.promotion_gate(
            client,
            registry.DEMAND_FORECAST_MODEL,
            version,
            metric=f"{GATE_METRIC}_h{config.choose_horizon}",
            score=score,
            margin=config.margin,
            higher_is_better=False,
        )
        mlflow.log_metric(GATE_METRIC, gate.challenger_score)
        if stock is not None:
            mlflow.log_metrics({f"stock_{k}": v for k, v in stock.items()})
        mlflow.set_tags({"registered_version": version, "promoted": str(gate.promoted).lower()})
    stored = store_champion_forecasts(settings, client, gate.champion_after)
    if gate.champion_after == version and "product" in methods:  # it just stored its product forecasts
        with mlflow.start_run(run_id=run.info.run_id):
            store_forecast_reference(settings, client, version, stored)
    seconds = time.perf_counter() - started
    return ForecastResult(run.info.run_id, version, backtests, methods, gate, stored, seconds, stock)
