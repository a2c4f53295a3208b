"""The forecasting library on a real retailer's daily sales: CDNOW, units per day, 1997-01-01 .. 1998-06-30.

tests/data/forecast/cdnow_master_daily.csv: the daily sums (orders, CDs, dollars) of CDNOW_master.txt
as shipped in the `lifetimes` 0.11.3 wheel on PyPI (lifetimes/datasets/, MIT licence; the CDNOW data
set of Fader & Hardie: every purchase of the 23,570 customers who first bought at the online CD
retailer CDNOW in the first quarter of 1997, 69,659 orders), days without an order 0. Nothing is
downloaded when this runs. The series is the total x day level of one real shop: a cohort's demand,
so it peaks in the acquisition quarter and decays after (no new customers arrive), with a weekly
cycle; there is no planted truth, so no oracle row.

Rolling-origin backtest (ecomm.ml.forecast.backtest) from `windows` origins a week apart, the last
one 30 days before the end; horizons 1, 7, 14 and 30; every model of the catalogue that suits the
series (intermittent-demand models included: on a series with no zero days Croston, ADIDA and IMAPA
reduce to exponential smoothing of the level, and their intervals are conformal).

python -m benchmarks.bench_forecast_real [--windows 8]   -> benchmarks/results/forecast_real.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import pandas as pd

from benchmarks.common import RESULTS, write_result

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "forecast" / "cdnow_master_daily.csv"
SOURCE = "CDNOW_master.txt in the lifetimes 0.11.3 wheel (PyPI, MIT licence), summed per day"
MODELS = ("seasonal_naive", "auto_ets", "croston", "lightgbm")
WINDOWS, STEP = 8, 7


def cdnow_units() -> pd.DataFrame:
    """The long frame (series_id 'cdnow_units', date, y = CDs sold that day)."""
    daily = pd.read_csv(DATA, parse_dates=["date"])
    return pd.DataFrame(
        {"series_id": "cdnow_units", "date": daily["date"], "y": daily["units"].astype(float)}
    )


def run(windows: int = WINDOWS, models: tuple[str, ...] = MODELS) -> dict:
    from ecomm.ml.forecast.backtest import BacktestSettings, backtest

    frame = cdnow_units()
    started = time.perf_counter()
    forecasts, table = backtest(frame, models, BacktestSettings(windows=windows, step=STEP))
    return {
        "measured_on": dt.date.today().isoformat(),
        "source": SOURCE,
        "series": "cdnow_units",
        "days": len(frame),
        "first_day": frame["date"].min().date().isoformat(),
        "last_day": frame["date"].max().date().isoformat(),
        "mean_units_per_day": round(float(frame["y"].mean()), 1),
        "windows": windows,
        "step_days": STEP,
        "cutoffs": sorted(c.date().isoformat() for c in forecasts["cutoff"].unique()),
        "models": list(models),
        "seconds": round(time.perf_counter() - started, 1),
        "table": table.round(4).to_dict(orient="records"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--windows", type=int, default=WINDOWS)
    args = parser.parse_args()
    result = run(args.windows)
    print(pd.DataFrame(result["table"]).to_string(index=False))
    print(f"wrote {write_result('forecast_real', result, RESULTS)}")


if __name__ == "__main__":
    main()
