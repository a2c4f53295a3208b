"""The long frame every forecaster takes: one row per series and date, y the quantity to forecast.

Sales frames leave out the days without a sale, so each series is put on a complete daily grid from
its first date to the frame's last date, the missing days filled (0 by default: no sale). Extra
numeric columns are exogenous regressors; a filled day gets them from the previous known day of its
series (a price or a promotion flag lasts until it changes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ("series_id", "date")
TARGET = "y"


class FrameError(ValueError):
    """The frame is not a long (series_id, date, y) frame; the message names the column."""


def check_frame(frame: pd.DataFrame) -> list[str]:
    """The exogenous columns of a valid long frame (raises FrameError naming the first problem)."""
    for column in (*KEYS, TARGET):
        if column not in frame.columns:
            raise FrameError(f"{column}: missing column (a long frame has series_id, date, y)")
    if not pd.api.types.is_numeric_dtype(frame[TARGET]):
        raise FrameError(f"y: must be numeric, got {frame[TARGET].dtype}")
    if frame[TARGET].isna().any():
        raise FrameError(f"y: {int(frame[TARGET].isna().sum())} missing values")
    dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
    if dates.isna().any():
        raise FrameError(f"date: {int(dates.isna().sum())} values are not dates")
    if (dates != dates.dt.normalize()).any():
        raise FrameError("date: must be whole days (the forecasts are daily)")
    if frame.duplicated(list(KEYS)).any():
        raise FrameError("series_id, date: duplicated rows (one value per series and day)")
    exogenous = [c for c in frame.columns if c not in (*KEYS, TARGET)]
    for column in exogenous:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise FrameError(f"{column}: exogenous columns must be numeric, got {frame[column].dtype}")
    return exogenous


def daily_grid(frame: pd.DataFrame, fill: float = 0.0) -> pd.DataFrame:
    """The frame on a complete daily grid, sorted by series and date (see the module docstring)."""
    exogenous = check_frame(frame)
    frame = frame.assign(date=pd.to_datetime(frame["date"]))
    last = frame["date"].max()
    firsts = frame.groupby("series_id", sort=True)["date"].min()
    lengths = ((last - firsts).dt.days + 1).to_numpy()
    grid = pd.DataFrame(
        {
            "series_id": np.repeat(firsts.index.to_numpy(), lengths),
            "date": np.concatenate([pd.date_range(first, last).to_numpy() for first in firsts]),
        }
    )
    out = grid.merge(frame, on=list(KEYS), how="left")
    out[TARGET] = out[TARGET].fillna(fill).astype(float)
    if exogenous:
        out[exogenous] = out.groupby("series_id", sort=False)[exogenous].ffill()
    return out.reset_index(drop=True)


def to_nixtla(frame: pd.DataFrame) -> pd.DataFrame:
    """Nixtla's column names (unique_id, ds, y) for a frame already on its grid."""
    return frame.rename(columns={"series_id": "unique_id", "date": "ds"})


def from_nixtla(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"unique_id": "series_id", "ds": "date"})
