"""Coherent forecasts: product x day, category x day and total x day made to add up.

Each level is forecast on its own (its own model, chosen by backtest), so the products' forecasts
of a day need not sum to their category's, nor the categories' to the total's. Reconciliation
replaces them with forecasts that do, taking from each level what it knows best.

Method: weighted least squares with variance scaling (MinT with a diagonal covariance;
hierarchicalforecast calls it MinTrace `wls_var`), our own numpy, for every forecast day (and
origin) separately. Bottom series b (products) with base forecasts y_b and variances w_b,
aggregates a = A b (A: 0/1, one row per category and the total) with base forecasts y_a and
variances w_a; the reconciled bottom forecasts are the weighted least-squares fit of every level,

    b~ = y_b + W_b A' (W_a + A W_b A')^-1 (y_a - A y_b),     a~ = A b~,

so a product moves in proportion to its own uncertainty, and a confident aggregate stays near its
own forecast. Only a k x k system is solved (k = categories + 1), so 2,000 products cost nothing.
Why not full MinT-shrink: it needs the in-sample one-step residuals of every series and a
(n + k)^2 covariance, which the models that serve do not keep; the diagonal needs only each
series' forecast variance, read off its own 95% interval ((hi_95 - point) / 1.96)^2, per day, so
the weights grow with the horizon as the intervals do. Why not plain bottom-up (also offered:
`method="bottom_up"`): sparse product series lose the weekly pattern the category and total
models see clearly.

Sales cannot be negative: a product pushed below 0 is set to 0 and the aggregates re-summed (still
coherent). Intervals: each series' base interval is scaled with its point (bounds x reconciled /
base point: it keeps its width relative to the forecast, as the models' errors may be multiplicative,
AutoETS's, so it still widens with the horizon relative to the forecast; a point from or to 0 moves
its interval instead, the lower bound cut at 0). An interval of a sum is not the sum of the
intervals, so they are not made to add up. Everything a reconciled forecast uses was in the base forecasts made at their origin:
reconciling adds no look-ahead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METHODS = ("wls_var", "bottom_up")
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile: a 95% interval's half-width in sd
MIN_VARIANCE = 1e-9  # a series forecast with no uncertainty (all zeros) still has a weight


def stored_columns() -> tuple[str, dict[int, tuple[str, str]]]:
    """(point, {level: (lo, hi)}) of marts.demand_forecast's rows."""
    return "point", {80: ("lo_80", "hi_80"), 95: ("lo_95", "hi_95")}


def model_columns(model: str, levels=(80, 95)) -> tuple[str, dict[int, tuple[str, str]]]:
    """(point, {level: (lo, hi)}) of a model's columns in a backtest's or forecast_ahead's rows."""
    return model, {lv: (f"{model}-lo-{lv}", f"{model}-hi-{lv}") for lv in levels}


def aggregation_matrix(aggregates: dict[str, list[str]], bottom: list[str]) -> np.ndarray:
    """A (k x n): A[i, j] = 1 when bottom series j is part of aggregate i."""
    index = {series: j for j, series in enumerate(bottom)}
    unknown = sorted({s for members in aggregates.values() for s in members} - set(index))
    if unknown:
        raise ValueError(f"aggregates: {unknown[:5]} are not bottom series of the forecasts")
    matrix = np.zeros((len(aggregates), len(bottom)))
    for i, members in enumerate(aggregates.values()):
        matrix[i, [index[s] for s in members]] = 1.0
    return matrix


def reconcile_bottom(y_b, w_b, y_a, w_a, matrix: np.ndarray, method: str = "wls_var") -> np.ndarray:
    """The reconciled bottom forecasts of one day (the module docstring's formula), cut at 0."""
    if method == "bottom_up":
        return np.clip(y_b, 0.0, None)
    if method != "wls_var":
        raise ValueError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    spread = matrix * w_b  # A W_b
    system = np.diag(w_a) + spread @ matrix.T  # W_a + A W_b A'
    gain = np.linalg.solve(system, y_a - matrix @ y_b)
    return np.clip(y_b + spread.T @ gain, 0.0, None)


def reconcile(
    forecasts: pd.DataFrame,
    aggregates: dict[str, list[str]],
    method: str = "wls_var",
    columns: tuple[str, dict[int, tuple[str, str]]] | None = None,
) -> pd.DataFrame:
    """The forecasts with point and interval columns reconciled.

    forecasts: one row per series_id and date (and cutoff, for a backtest) with every bottom series
    and every aggregate on each day; aggregates: aggregate series_id -> its bottom series_ids (a
    series named in no aggregate's list and not an aggregate is a bottom series); columns:
    stored_columns() (default) or model_columns(name)."""
    point, bounds = columns or stored_columns()
    if 95 not in bounds:
        raise ValueError("columns: the 95% interval is needed (it gives each forecast's variance)")
    out = forecasts.copy()
    out["series_id"] = out["series_id"].astype(str)
    names = {str(k): [str(s) for s in v] for k, v in aggregates.items()}
    bottom = sorted(set(out["series_id"]) - set(names))
    matrix = aggregation_matrix(names, bottom)
    order = [*names, *bottom]
    days = [c for c in ("cutoff", "date") if c in out.columns]
    sd = (out[bounds[95][1]] - out[point]).clip(lower=0.0) / Z_95
    frame = out.assign(_variance=np.maximum(sd**2, MIN_VARIANCE))
    values = frame.pivot_table(index=days, columns="series_id", values=[point, "_variance"], aggfunc="first")
    missing = [s for s in order if s not in values[point].columns]
    if missing or values.isna().any().any():
        raise ValueError(
            f"forecasts: every series is needed on every day; missing {missing[:5] or 'some days'}"
        )
    y, w = values[point][order].to_numpy(), values["_variance"][order].to_numpy()
    k = len(names)
    reconciled = np.empty_like(y)
    for row in range(len(y)):
        b = reconcile_bottom(y[row, k:], w[row, k:], y[row, :k], w[row, :k], matrix, method)
        reconciled[row] = np.concatenate([matrix @ b, b])
    shifts = pd.DataFrame(reconciled - y, index=values.index, columns=pd.Index(order, name="series_id"))
    moved = shifts.stack().rename("_shift")
    out = out.merge(moved.reset_index(), on=[*days, "series_id"], how="left")
    base, new = out[point], out[point] + out["_shift"]
    scaled = (base > 0) & (new > 0)
    ratio = (new / base.where(scaled, 1.0)).where(scaled, 1.0)
    for lo, hi in bounds.values():
        for bound in (lo, hi):  # scaled with the point; a point from or to 0 moves its interval
            out[bound] = (out[bound] * ratio).where(scaled, out[bound] + out["_shift"]).clip(lower=0.0)
    out[point] = new
    return out.drop(columns="_shift")


def shop_aggregates(products: pd.DataFrame, levels) -> dict[str, list[str]]:
    """Aggregates of the shop's product ids (products: product_id, category): each category's
    products and, if 'total' is among the levels, every product."""
    ids = products.assign(product_id=products["product_id"].astype(str))
    out: dict[str, list[str]] = {}
    if "category" in levels:
        out |= {str(c): sorted(g["product_id"]) for c, g in ids.groupby("category", sort=True)}
    if "total" in levels:
        out["total"] = sorted(ids["product_id"])
    return out
