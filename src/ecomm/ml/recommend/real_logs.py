"""Real public rating logs, installed from registry packages by `make realdata` (docs/real_logs.md).

`load_real_log(name)` returns the interactions frame of the recommender library: user_id, item_id,
rating (float), timestamp (datetime64[ns], UTC wall time without a zone), sorted by time. Nothing is
downloaded here: the MovieLens terms forbid redistributing the logs, so they are not in the repository
but in Settings.real_logs_dir (.tools/realdata/), which `make realdata` (a prerequisite of `make test`)
fills from the pinned packages that ship them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecomm.settings import get_settings

# name -> (file, what it is); both are MovieLens ratings (1-5 stars), collected years apart
REAL_LOGS: dict[str, tuple[str, str]] = {
    "movielens_100k": (
        "movielens_100k.csv.gz",
        "MovieLens 100K (1997-09..1998-04, whole stars), from the recbole 1.2.1 wheel on PyPI",
    ),
    "movielens_latest_small": (
        "movielens_latest_small.csv.gz",
        "MovieLens latest-small as of 2016 (1995..2016, half stars), from Debian's r-cran-dslabs 0.7.4",
    ),
}
COLUMNS = ("user_id", "item_id", "rating", "timestamp")


class UnknownLogError(KeyError):
    """A name that is not in REAL_LOGS."""


class RealLogNotInstalledError(FileNotFoundError):
    """A known log whose file `make realdata` has not written (yet)."""


def log_path(name: str, directory: Path | None = None) -> Path:
    """The log's file in `directory` (default: Settings.real_logs_dir); it need not exist."""
    try:
        file = REAL_LOGS[name][0]
    except KeyError:
        raise UnknownLogError(f"unknown log {name!r}; known: {', '.join(REAL_LOGS)}") from None
    return (directory or get_settings().real_logs_dir) / file


def load_real_log(name: str, directory: Path | None = None) -> pd.DataFrame:
    """The log's rows as (user_id int64, item_id int64, rating float64, timestamp datetime64[ns])."""
    path = log_path(name, directory)
    if not path.is_file():
        raise RealLogNotInstalledError(
            f"{path} is missing: run `make realdata` (it downloads the pinned packages that ship the "
            "MovieLens logs, which are never committed: their terms forbid redistribution)"
        )
    raw = pd.read_csv(
        path, dtype={"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"}
    )
    # the files store Unix seconds (UTC); the library's frames hold naive datetimes
    raw["timestamp"] = pd.to_datetime(raw["timestamp"], unit="s").astype("datetime64[ns]")
    return raw.loc[:, list(COLUMNS)].reset_index(drop=True)
