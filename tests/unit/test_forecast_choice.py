"""Each level's model is chosen on validation origins before the reported ones (train.choose_method,
backtest.validation_table): the reported origins' actuals never take part in the choice, so the
chosen model's reported error is not flattered by having been picked on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecomm.ml.forecast.backtest import BacktestSettings, error_table, rolling_backtest
from ecomm.ml.forecast.train import choose_method

DAYS = pd.date_range("2024-01-01", periods=140)
WEEK = np.array([5.0, 6.0, 7.0, 8.0, 9.0, 14.0, 12.0])
SETTINGS = BacktestSettings(windows=4, step=7)  # 8 calibration origins before the 4 reported ones
FIRST = DAYS[-1] - pd.Timedelta(days=SETTINGS.horizon + 3 * SETTINGS.step)  # the first reported origin
MODELS = ("seasonal_naive", "croston")


def weekly_then_flat() -> pd.DataFrame:
    """A weekly pattern with a little noise up to the first reported origin (seasonal naive's), a
    flat 16 a day after it (a flat forecast's, Croston's)."""
    rng = np.random.default_rng(3)
    y = 2 * WEEK[DAYS.dayofweek] + rng.normal(0, 0.3, len(DAYS))
    y = np.where(DAYS > FIRST, 16.0, y)
    return pd.concat(pd.DataFrame({"series_id": s, "date": DAYS, "y": y + i}) for i, s in enumerate("ab"))


def run(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the reported origins' error table, the validation table)."""
    forecasts, _, validation = rolling_backtest(frame, MODELS, SETTINGS)
    assert forecasts["cutoff"].min() == FIRST and forecasts["cutoff"].nunique() == 4
    return error_table(forecasts, SETTINGS.horizons, SETTINGS.levels), validation


@pytest.fixture(scope="module")
def base():
    frame = weekly_then_flat()
    return (frame, *run(frame))


def test_the_choice_is_made_on_the_origins_whose_days_end_by_the_first_reported_one(base):
    _, reported, validation = base
    # origins 7 days apart before FIRST; at horizon H only those with H days ending by FIRST
    origins = validation.drop_duplicates("horizon").set_index("horizon")["origins"].to_dict()
    assert origins == {1: 8, 7: 8, 14: 7, 30: 4}
    # the reported origins favour the flat forecast (what choosing on them would register) ...
    at_14 = reported[reported.horizon == 14].set_index("model")["mase"]
    assert at_14["croston"] < at_14["seasonal_naive"] / 2
    # ... the validation origins, before the change, the seasonal naive: it is the one chosen
    assert choose_method(validation, 14) == "seasonal_naive"


@pytest.mark.parametrize("day", [FIRST + pd.Timedelta(days=1), FIRST + pd.Timedelta(days=10), DAYS[-1]])
def test_changing_a_reported_origins_actual_cannot_change_the_choice(base, day):
    frame, reported, validation = base
    changed = frame.assign(y=frame["y"].where(frame["date"] != day, 1_000.0))
    reported_after, validation_after = run(changed)
    assert not reported_after.equals(reported)  # the reported figures see the change ...
    pd.testing.assert_frame_equal(validation_after, validation)  # ... the choice's do not
    assert choose_method(validation_after, 14) == choose_method(validation, 14)


def test_a_validation_actual_does_change_what_the_choice_is_made_on(base):
    """The check above is not vacuous: the last day before the first reported origin is a target of
    the validation origins (7 and 14 days before it), and changing it moves their MASE."""
    frame, _, validation = base
    changed = frame.assign(y=frame["y"].where(frame["date"] != FIRST, 1_000.0))
    _, validation_after = run(changed)
    moved = (
        validation_after.set_index(["model", "horizon"])["mase"]
        != validation.set_index(["model", "horizon"])["mase"]
    )
    assert moved[("seasonal_naive", 14)] and moved[("seasonal_naive", 7)]


def test_without_a_validation_origin_the_choice_is_refused_saying_why():
    no_rows = pd.DataFrame(columns=["model", "horizon", "mase", "origins"])
    with pytest.raises(ValueError, match="no validation origin before the backtest's first with 14 days"):
        choose_method(no_rows, 14)


def test_a_history_without_room_for_a_validation_origin_is_too_short_to_train():
    """check_history: 4 origins 7 days apart, 30 days after the last, and before the first 14 days
    for the validation origin and two weeks of history before it (80 days in all)."""
    from ecomm.features.churn import FeatureError
    from ecomm.ml.forecast.train import check_history

    def sales(days: int) -> pd.DataFrame:
        return pd.DataFrame({"date": pd.date_range("2024-01-01", periods=days), "y": 1.0})

    check_history(sales(80), SETTINGS)
    with pytest.raises(FeatureError, match="79 days are too short for 4 backtest origin.* \\(80 days\\)"):
        check_history(sales(79), SETTINGS)
    # the shortest history passing the check has its validation origin: the choice is made
    frame = sales(80).assign(series_id="a", y=lambda f: 2 * WEEK[f["date"].dt.dayofweek] + f.index % 3)
    forecasts, _, validation = rolling_backtest(frame[["series_id", "date", "y"]], MODELS, SETTINGS)
    assert validation[validation.horizon == 14]["origins"].tolist() == [1, 1]
    assert choose_method(validation, 14) in MODELS
