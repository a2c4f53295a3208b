"""Reconciliation: products, categories and the total made to add up (ecomm.ml.forecast.reconcile)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.forecast.backtest import BacktestSettings, rolling_forecasts
from ecomm.ml.forecast.future import forecast_ahead
from ecomm.ml.forecast.reconcile import Z_95, model_columns, reconcile, shop_aggregates

AGGREGATES = {"a": ["p1", "p2"], "b": ["p3"], "total": ["p1", "p2", "p3"]}
DAYS = pd.date_range("2024-01-01", periods=112)
WEEK = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 14.0, 12.0])


def stored(points: dict[str, float], sds: dict[str, float], date="2024-05-01") -> pd.DataFrame:
    """One day's stored-style rows: intervals symmetric around the point, 95% half-width 1.96 sd."""
    rows = []
    for series, point in points.items():
        half_95, half_80 = Z_95 * sds[series], 1.2815515655446004 * sds[series]
        rows.append(
            {
                "series_id": series,
                "date": pd.Timestamp(date),
                "point": point,
                "lo_80": point - half_80,
                "hi_80": point + half_80,
                "lo_95": point - half_95,
                "hi_95": point + half_95,
            }
        )
    return pd.DataFrame(rows)


def sums_hold(frame: pd.DataFrame, column: str, aggregates=AGGREGATES) -> None:
    for day, part in frame.groupby([c for c in ("cutoff", "date") if c in frame.columns]):
        values = part.set_index("series_id")[column]
        for aggregate, members in aggregates.items():
            assert values[aggregate] == pytest.approx(values[members].sum(), rel=1e-12, abs=1e-9), day


def test_one_aggregate_of_two_equal_products_splits_the_gap_by_variance():
    """total 30 (sd 1) over p1 = p2 = 10 (sd 2): the weighted fit moves each product by
    w_b / (w_a + 2 w_b) x (30 - 20) = 4 / 9 x 10, and the total to 20 + 80 / 9."""
    frame = stored({"total": 30.0, "p1": 10.0, "p2": 10.0}, {"total": 1.0, "p1": 2.0, "p2": 2.0})
    out = reconcile(frame, {"total": ["p1", "p2"]}).set_index("series_id")
    assert out.loc["p1", "point"] == pytest.approx(10 + 40 / 9)
    assert out.loc["p2", "point"] == pytest.approx(10 + 40 / 9)
    assert out.loc["total", "point"] == pytest.approx(20 + 80 / 9)
    # each interval is scaled with its point (its width relative to the point is kept)
    total = out.loc["total"]
    assert (total.hi_95 - total.lo_95) / total.point == pytest.approx(2 * Z_95 / 30)
    assert out.loc["p1", "hi_80"] / out.loc["p1", "point"] == pytest.approx(
        (10 + 1.2815515655446004 * 2) / 10
    )
    bottom_up = reconcile(frame, {"total": ["p1", "p2"]}, method="bottom_up").set_index("series_id")
    assert bottom_up.point.to_dict() == {"total": 20.0, "p1": 10.0, "p2": 10.0}


def test_a_three_level_hierarchy_adds_up_and_a_confident_aggregate_barely_moves():
    points = {"total": 100.0, "a": 50.0, "b": 30.0, "p1": 30.0, "p2": 10.0, "p3": 35.0}
    sds = {"total": 0.01, "a": 3.0, "b": 3.0, "p1": 5.0, "p2": 5.0, "p3": 5.0}
    out = reconcile(stored(points, sds), AGGREGATES)
    sums_hold(out, "point")
    got = out.set_index("series_id").point
    assert got["total"] == pytest.approx(100.0, abs=0.01)  # almost no variance: it holds
    assert got["p1"] - 30 == pytest.approx(got["p2"] - 10)  # equal variances, equal moves
    assert (
        (out.lo_95 <= out.lo_80).all() and (out.lo_80 <= out.point).all() and (out.hi_80 <= out.hi_95).all()
    )


def test_a_product_pushed_below_zero_is_cut_to_zero_and_the_sums_still_hold():
    frame = stored({"total": 1.0, "p1": 0.5, "p2": 20.0}, {"total": 0.1, "p1": 10.0, "p2": 1.0})
    out = reconcile(frame, {"total": ["p1", "p2"]})
    got = out.set_index("series_id")
    assert got.loc["p1", "point"] == 0.0 and got.loc["p1", "lo_95"] == 0.0
    sums_hold(out, "point", {"total": ["p1", "p2"]})
    assert (out[["point", "lo_80", "lo_95"]] >= 0).all().all()


def test_every_series_is_needed_on_every_day():
    frame = stored({"total": 1.0, "p1": 0.5}, {"total": 0.1, "p1": 1.0})
    with pytest.raises(ValueError, match=r"^aggregates: \['p2'\] are not bottom series"):
        reconcile(frame, {"total": ["p1", "p2"]})
    with pytest.raises(ValueError, match="^method: 'top_down' is not one of wls_var, bottom_up"):
        reconcile(frame, {"total": ["p1"]}, method="top_down")


def test_shop_aggregates_are_each_categorys_products_and_the_total():
    products = pd.DataFrame({"product_id": [3, 1, 2], "category": ["b", "a", "a"]})
    assert shop_aggregates(products, {"product", "category", "total"}) == {
        "a": ["1", "2"],
        "b": ["3"],
        "total": ["1", "2", "3"],
    }
    assert shop_aggregates(products, {"product", "total"}) == {"total": ["1", "2", "3"]}


@pytest.fixture(scope="module")
def hierarchy() -> pd.DataFrame:
    """Three noisy weekly products, their categories and the total (the sums of the same days)."""
    rng = np.random.default_rng(4)
    products = {
        p: scale * WEEK[DAYS.dayofweek] + rng.normal(0, 1.5, len(DAYS))
        for p, scale in (("p1", 1.0), ("p2", 0.5), ("p3", 2.0))
    }
    series = products | {
        agg: np.sum([products[m] for m in members], axis=0) for agg, members in AGGREGATES.items()
    }
    return pd.concat(pd.DataFrame({"series_id": k, "date": DAYS, "y": v}) for k, v in series.items())


def test_reconciled_forecasts_ahead_add_up_and_their_intervals_widen_with_the_horizon(hierarchy):
    ahead = forecast_ahead(hierarchy, ("auto_ets",), horizon=14)
    out = reconcile(ahead, AGGREGATES, columns=model_columns("auto_ets"))
    sums_hold(out, "auto_ets")
    assert not np.allclose(out.auto_ets, ahead.auto_ets)  # the levels did not add up before
    width = out["auto_ets-hi-95"] - out["auto_ets-lo-95"]
    base_width = ahead["auto_ets-hi-95"] - ahead["auto_ets-lo-95"]
    # each interval scaled with its point, so wider in the second week than in the first
    assert np.allclose(width / base_width, out.auto_ets / ahead.auto_ets)
    for series, part in width.groupby(out.series_id):
        assert part.iloc[7:].mean() > part.iloc[:7].mean(), series


def test_a_reconciled_backtest_adds_up_and_never_looks_ahead(hierarchy):
    """Moving a product's value after the first cutoff (and its sums) changes no reconciled forecast
    made at that cutoff."""
    settings = BacktestSettings(windows=2, horizons=(1, 7), step=7)
    columns = model_columns("auto_ets")
    base = reconcile(rolling_forecasts(hierarchy, ("auto_ets",), settings), AGGREGATES, columns=columns)
    sums_hold(base, "auto_ets")
    first = base.cutoff.min()
    moved = hierarchy.copy()
    later = (moved.date == first + pd.Timedelta(days=2)) & moved.series_id.isin(["p1", "a", "total"])
    moved.loc[later, "y"] += 500.0
    again = reconcile(rolling_forecasts(moved, ("auto_ets",), settings), AGGREGATES, columns=columns)
    keep = ["series_id", "date", "cutoff", "auto_ets", *columns[1][80], *columns[1][95]]
    at_first = again.cutoff == first
    pd.testing.assert_frame_equal(
        again.loc[at_first, keep].reset_index(drop=True),
        base.loc[base.cutoff == first, keep].reset_index(drop=True),
    )
    assert not np.allclose(again.loc[~at_first, "auto_ets"], base.loc[base.cutoff != first, "auto_ets"])


def test_the_stored_forecasts_are_reconciled_over_the_levels_the_model_has():
    from ecomm.ml.forecast.store import reconciled

    sales = pd.DataFrame({"product_id": [1, 2, 3, 4], "category": ["a", "a", "b", "b"]})  # 4: too new
    sds = {"total": 1.0, "a": 1.0, "b": 1.0, "1": 2.0, "2": 2.0, "3": 2.0}
    points = {"total": 40.0, "a": 20.0, "b": 12.0, "1": 8.0, "2": 9.0, "3": 10.0}
    levels = {"total": "total", "a": "category", "b": "category"}
    every = stored(points, sds).assign(series_level=lambda f: f.series_id.map(levels).fillna("product"))
    out = reconciled(every, sales).set_index("series_id").point
    assert out["a"] == pytest.approx(out["1"] + out["2"]) and out["b"] == pytest.approx(out["3"])
    assert out["total"] == pytest.approx(out[["1", "2", "3"]].sum())
    upper = every[every.series_level != "product"]
    out = reconciled(upper, sales).set_index("series_id").point
    assert out["total"] == pytest.approx(out["a"] + out["b"])
    products = every[every.series_level == "product"]
    pd.testing.assert_frame_equal(reconciled(products, sales), products)  # nothing to add up
