"""The model catalogue: name -> a statsforecast model, plus the global LightGBM model.

Prediction intervals: seasonal naive and AutoETS have their own (Gaussian) ones; Croston, ADIDA and
IMAPA have none, so theirs are conformal (statsforecast's ConformalIntervals: the quantiles of the
absolute errors of `conformal_windows` earlier backtests of the same series, by step ahead), and so
are LightGBM's (mlforecast's PredictionIntervals, the same method). statsforecast's conformal
intervals use as many of the `conformal_windows` as the history holds, and at least 2 (2 x horizon
+ 1 days): a series shorter than that (a recent launch) gets the seasonal naive's forecast and
intervals in that model's columns instead (statsforecast's fallback model).

AutoETS's search space is set per level (ModelSettings.ets_models; a level not named there, and a
frame forecast outside the shop's levels, gets ModelSettings.ets_model). Products, the many series,
search the models without a trend ("ZNZ": additive or multiplicative error, no trend, no, additive
or multiplicative weekly season; chosen by AICc). Why: the full search ("ZZZ") also fits additive,
damped and (for series without zeros) multiplicative trends, 2-3x as many models and the slowest ones (a damped trend with a season costs ~3x a level
with a season): forecasting 2,000 products 30 days ahead took 60 s on 2 cores, the issue's limit.
On the shop AICc chose a trend for few series, and no trend it chose improved the backtests
(seed 7's world, 14 days ahead: MASE 1.085 either way for 100 products, 1.06 for the categories);
an undamped trend carried 30 days ahead is also the riskiest forecast a level model can make.
The category and total levels, a few series that cost nothing to fit, search the full space ("ZZZ":
trends too, damped or not), as the shop's November-December rise is a trend over a 14-30 day
horizon. Measured on development worlds (2,000 customers, 300 products, 2025; seeds 4-8, not the
benchmark's 1-3), category level, 14 days, MASE over seasonal naive's, no trend / full search /
additive trend only ("ZAZ"): 0.732 / 0.724 / 0.721, 0.749 / 0.745 / 0.737, 0.756 / 0.753 / 0.748,
0.784 / 0.785 / 0.781, 0.802 / 0.797 / 0.789 (2026-12-07). The full search beat no trend on 4 of 5;
forcing a trend did a little better still on these origins, which all lie in the same rise, so the
full search, where AICc may also choose none, is the default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

STATISTICAL = ("seasonal_naive", "auto_ets", "auto_theta", "croston", "adida", "imapa")
# the library backtest's default (backtest.backtest): AutoTheta only when asked
DEFAULT_STATISTICAL = ("seasonal_naive", "auto_ets", "croston", "adida", "imapa")
GLOBAL = ("lightgbm",)
MODELS = STATISTICAL + GLOBAL
BASELINE = "seasonal_naive"
ETS_COMPONENTS = ("AMZ", "NAMZ", "NAMZ")  # error, trend, season: statsforecast's letters
# AutoETS's search space per level (module docstring); the others: ModelSettings.ets_model
ETS_MODELS = (("category", "ZZZ"), ("total", "ZZZ"))


@dataclass(frozen=True)
class ModelSettings:
    season_length: int = 7  # daily data: the weekly cycle
    horizon: int = 30  # the longest forecast; conformal intervals are calibrated up to it
    conformal_windows: int = 3
    lags: tuple[int, ...] = (1, 7, 14, 28)  # LightGBM's lagged targets (days)
    lightgbm_rounds: int = 200
    seed: int = 0
    n_jobs: int = 1  # statsforecast's processes (each series is fitted alone: any number, same results)
    ets_model: str = "ZNZ"  # AutoETS's search space (error, trend, season; Z: chosen by AICc); why: above
    ets_models: tuple[tuple[str, str], ...] = ETS_MODELS  # (level, search space): overrides ets_model

    def __post_init__(self) -> None:
        for where, model in (("ets_model", self.ets_model), *self.ets_models):
            check_ets_model(model, where)

    def for_level(self, level: str) -> ModelSettings:
        """These settings with ets_model the level's search space (ets_models, else ets_model)."""
        return replace(self, ets_model=dict(self.ets_models).get(level, self.ets_model))


def check_ets_model(model: str, where: str = "ets_model") -> str:
    """ValueError unless `model` is an AutoETS search space: 3 letters, error in A/M/Z, trend and
    season in N/A/M/Z (Z: chosen by AICc)."""
    ok = isinstance(model, str) and len(model) == 3
    if not ok or any(c not in allowed for c, allowed in zip(model, ETS_COMPONENTS, strict=True)):
        raise ValueError(
            f"{where}: AutoETS search space {model!r} is not 3 letters of error (A, M, Z), "
            "trend (N, A, M, Z) and season (N, A, M, Z)"
        )
    return model


def check_models(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        raise ValueError(f"models: unknown {unknown or 'none given'}; choose from {', '.join(MODELS)}")
    return names


def statistical_models(names: tuple[str, ...], settings: ModelSettings) -> list:
    """statsforecast model objects, aliased with our names (the forecast columns are named so)."""
    from statsforecast.models import ADIDA, IMAPA, AutoETS, AutoTheta, CrostonOptimized, SeasonalNaive
    from statsforecast.utils import ConformalIntervals

    def conformal() -> ConformalIntervals:
        return ConformalIntervals(h=settings.horizon, n_windows=settings.conformal_windows)

    m = settings.season_length
    build = {
        "seasonal_naive": lambda: SeasonalNaive(season_length=m, alias="seasonal_naive"),
        "auto_ets": lambda: AutoETS(season_length=m, model=settings.ets_model, alias="auto_ets"),
        "auto_theta": lambda: AutoTheta(season_length=m, alias="auto_theta"),
        "croston": lambda: CrostonOptimized(alias="croston", prediction_intervals=conformal()),
        "adida": lambda: ADIDA(alias="adida", prediction_intervals=conformal()),
        "imapa": lambda: IMAPA(alias="imapa", prediction_intervals=conformal()),
    }
    return [build[n]() for n in names if n in STATISTICAL]


def lightgbm_forecaster(settings: ModelSettings, exogenous: list[str]):
    """mlforecast over every series at once: lags, rolling means of lag 1 and 7, calendar features.

    Exogenous columns are used as they are on each target date (known in advance: prices, promotions).
    """
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    model = lgb.LGBMRegressor(
        n_estimators=settings.lightgbm_rounds,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        random_state=settings.seed,
        deterministic=True,
        n_jobs=1,
        verbosity=-1,
    )
    return MLForecast(
        models={"lightgbm": model},
        freq="D",
        lags=list(settings.lags),
        lag_transforms={1: [RollingMean(window_size=7)], 7: [RollingMean(window_size=4)]},
        date_features=["dayofweek", "month", "day"],
    ), exogenous


def statistical_engine(names: tuple[str, ...], settings: ModelSettings):
    """A StatsForecast over the named statistical models (None if there are none), daily, the series
    fitted in `settings.n_jobs` processes, seasonal naive standing in for a model that cannot fit a
    series."""
    models = statistical_models(names, settings)
    if not models:
        return None
    from statsforecast.models import SeasonalNaive

    from ecomm.ml.serving import clean_statsforecast

    fallback = SeasonalNaive(season_length=settings.season_length)
    return clean_statsforecast(models=models, freq="D", n_jobs=settings.n_jobs, fallback_model=fallback)
