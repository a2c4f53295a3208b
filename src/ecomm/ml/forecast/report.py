"""The demand forecasts' part of `ecomm evaluate --report`: the champion's backtest at 14 days beside
seasonal naive and the planted demand (the oracle), per level, and the issue's targets.

The rows are those of the champion's training run (its logged `evaluation/backtest_<level>.json`;
each level's model was chosen on earlier validation origins, `evaluation/validation_<level>.json`):
a rolling-origin backtest refits at every origin, so re-running it here would only repeat the
training's minutes on the same days. A warehouse without planted demand (imported data) has no
oracle row and its oracle target is unmeasured.
"""

from __future__ import annotations

import math

import pandas as pd

from ecomm.ml import registry
from ecomm.ml.comparison import Comparison, Target, entries, run_metrics, run_params
from ecomm.ml.forecast.models import BASELINE
from ecomm.ml.forecast.shop import ORACLE

HORIZON = 14
LEVELS = ("category", "product")
METRICS = ("mase", "mase_vs_naive", "mase_vs_oracle", "smape", "bias", "coverage_80", "coverage_95")
# the targets at 14 days: MASE over seasonal naive's, per level; category MASE over the oracle's
MAX_VS_NAIVE = {"category": 0.8, "product": 0.9}
MAX_VS_ORACLE = 1.15
COVERAGE = {80: (0.77, 0.83), 95: (0.92, 0.98)}
SERVICE_TOLERANCE = 0.02


def backtest_table(client, run_id: str, level: str) -> pd.DataFrame | None:
    """The training run's backtest table of `level` (None when it did not backtest that level)."""
    import mlflow

    paths = {a.path for a in client.list_artifacts(run_id, "evaluation")}
    path = f"evaluation/backtest_{level}.json"
    if path not in paths:
        return None
    return pd.DataFrame(mlflow.artifacts.load_dict(f"runs:/{run_id}/{path}"))


def _row(table: pd.DataFrame, model: str) -> dict[str, float] | None:
    rows = table[(table["model"] == model) & (table["horizon"] == HORIZON)]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return {m: float(row[m]) for m in METRICS if m in row and row[m] == row[m]}


def compare_forecast(client) -> Comparison:
    name = registry.DEMAND_FORECAST_MODEL
    versions = entries(client, name)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    comp = Comparison(name, "", METRICS, versions=registry.aliases(client, name))
    if champion is None:
        comp.message = f"no champion: run `ecomm train forecast` (labels: {', '.join(versions) or 'none'})"
        return comp
    run_id = client.get_model_version(name, champion).run_id
    params = run_params(client, name, champion)
    comp.holdout = (
        f"champion v{champion}'s rolling-origin backtest ({params.get('windows', '?')} origins "
        f"{params.get('step', '?')} days apart up to {params.get('last_day', '?')}), horizon {HORIZON} days"
    )
    chosen_on = [params[k] for k in sorted(params) if k.startswith("chosen_on_origins_")]
    if chosen_on:  # versions since the choice moved off the reported origins (train.choose_method)
        comp.holdout += f"; models chosen on {'/'.join(chosen_on)} earlier validation origins, not these"
    for level in LEVELS:
        table = backtest_table(client, run_id, level)
        if table is None:
            continue
        method = params.get(f"method_{level}", "")
        for label, model in ((f"champion v{champion} ({method})", method), ("seasonal naive", BASELINE)):
            if (row := _row(table, model)) is not None:
                comp.rows[f"{level}: {label}"] = row
        if (row := _row(table, ORACLE)) is not None:
            comp.rows[f"{level}: {ORACLE} (planted expected demand)"] = row
    return comp


def _within(value: float | None, low: float, high: float) -> bool | None:
    return None if value is None else low <= value <= high


def forecast_targets(comp: Comparison, client, settings) -> list[Target]:
    champion = comp.versions.get(registry.CHAMPION)
    chosen = {
        level: next((r for k, r in comp.rows.items() if k.startswith(f"{level}: champion v")), {})
        for level in LEVELS
    }
    out = []
    for level in LEVELS:
        ratio = chosen[level].get("mase_vs_naive")
        out.append(
            Target(
                f"forecast {level} MASE / seasonal naive's (h{HORIZON})",
                ratio,
                f"<= {MAX_VS_NAIVE[level]}",
                None if ratio is None else ratio <= MAX_VS_NAIVE[level],
                "" if ratio is not None else "not backtested (or no seasonal naive candidate)",
            )
        )
    to_oracle = chosen["category"].get("mase_vs_oracle")
    out.append(
        Target(
            f"forecast category MASE / oracle's (h{HORIZON})",
            to_oracle,
            f"<= {MAX_VS_ORACLE}",
            None if to_oracle is None else to_oracle <= MAX_VS_ORACLE,
            "" if to_oracle is not None else "no planted demand in this warehouse",
        )
    )
    for level in LEVELS:
        for interval, (low, high) in COVERAGE.items():
            coverage = chosen[level].get(f"coverage_{interval}")
            out.append(
                Target(
                    f"forecast {level} {interval}% interval coverage (h{HORIZON})",
                    coverage,
                    f"{low:.2f}-{high:.2f}",
                    _within(coverage, low, high),
                )
            )
    out.append(stock_target(run_metrics(client, registry.DEMAND_FORECAST_MODEL, champion), settings))
    return out


def stock_target(run: dict[str, float], settings) -> Target:
    """The reorder-point policy's replay (the champion's training run): the target service level
    within SERVICE_TOLERANCE, with less average stock than the naive policy."""
    name = "forecast stock policy: service level, less stock than naive"
    target = settings.forecast_service_level
    required = f"{target:.2f} ± {SERVICE_TOLERANCE}, stock < naive's"
    achieved = run.get("stock_service_level", math.nan)
    if math.isnan(achieved):
        # no product level, or one backtest origin: the replay runs from the first origin to the next
        return Target(name, None, required, None, "no stock replay in the champion's run (needs 2 origins)")
    less_stock = run["stock_average_stock"] < run["stock_naive_average_stock"]
    detail = (
        f"{run['stock_average_stock']:,.1f} units held vs naive {run['stock_naive_average_stock']:,.1f} "
        f"(naive service {run['stock_naive_service_level']:.3f})"
    )
    if "stock_matched_naive_average_stock" in run:  # runs since the like-for-like comparison
        detail += (
            f"; at equal service (stock.matched_naive) the naive forecast holds "
            f"{run['stock_matched_naive_average_stock']:,.1f}"
        )
    met = abs(achieved - target) <= SERVICE_TOLERANCE and less_stock
    return Target(name, achieved, required, met, detail)
