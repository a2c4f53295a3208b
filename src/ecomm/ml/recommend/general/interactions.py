"""The interactions frame every part of the library reads, its validation and its temporal split.

Interactions frame (one row per event):
    user_id    str or int, required
    item_id    str or int, required
    timestamp  datetime64 (or anything pandas parses as a datetime), required
    event      str, optional: the event kind ("view", "purchase"...), weighted by Params.event_weights
    rating     float, optional: an explicit rating in Params.rating_range (inferred when None)
    weight     float >= 0, optional: a row's own weight, multiplied into the event/rating weight
Item attributes frame (optional, one row per item): item_id, category (optional), price (optional).
Nothing shop-specific lives here: every weight, window and scale is a Params field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

USER = "user_id"
ITEM = "item_id"
EVENT = "event"
RATING = "rating"
TIMESTAMP = "timestamp"
WEIGHT = "weight"
CATEGORY = "category"
PRICE = "price"
REQUIRED = (USER, ITEM, TIMESTAMP)

DAY = pd.Timedelta(days=1)


class InteractionsError(ValueError):
    """An interactions or item attributes frame the library cannot use; the message names the problem."""


@dataclass(frozen=True)
class Params:
    # weights of the implicit signal
    event_weights: Mapping[str, float] = field(default_factory=dict)  # empty: every event weighs 1
    half_life_days: float | None = None  # recency decay of a row's weight; None: no decay
    rating_range: tuple[float, float] | None = None  # (min, max); None: the log's own min and max
    # which events make an item "seen" (not recommended again to the user) and which are the
    # re-ranker's positives; None: every event (a shop may exclude bought items only, and learn
    # from purchases while viewed items stay recommendable)
    exclude_events: tuple[str, ...] | None = None
    target_events: tuple[str, ...] | None = None
    # candidate generators
    popularity_window_days: float = 28.0
    confidence_scale: float = 1.0  # ALS confidence = 1 + confidence_scale x weight
    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    neighbours: int = 50  # item-kNN: similar items kept per item
    candidates_per_generator: int = 50
    # re-ranker
    label_days: float = 14.0  # the re-ranker learns from label windows of label_days at the log's end
    label_windows: int = 1  # how many consecutive label windows (each with features before it)
    min_label_positives: int = 20  # fewer positives among the candidates: an error, not a silent fallback
    ranker_trees: int = 50  # on the simulated shop's validation split 50 ranked better than 100 or 200
    ranker_min_child_samples: int = 20
    ranker_max_users: int = 5_000  # label-window users per window the ranker learns from (a sample above)
    # LightGBM's threads for the re-ranker: on a 675k-row stack (2 label windows of a 12k-customer
    # shop) its lambdarank took 15-20 s CPU on 2 threads and 4.2-4.7 s on 1 (load 12-15 on 2 cores),
    # with the same predictions; its OpenMP threads wait on each other at every split
    ranker_threads: int = 1
    seed: int = 0
    num_threads: int = 2  # the generators' (ALS, item-kNN); the machines this runs on have 2 cores


def validate_interactions(frame: pd.DataFrame, params: Params | None = None) -> pd.DataFrame:
    """A copy with a datetime64 timestamp, or InteractionsError naming what is wrong."""
    if not isinstance(frame, pd.DataFrame):
        raise InteractionsError(f"interactions must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InteractionsError(f"interactions lack the column(s) {missing}; required are {list(REQUIRED)}")
    if frame.empty:
        raise InteractionsError("interactions hold no rows")
    for column in REQUIRED:
        nulls = int(frame[column].isna().sum())
        if nulls:
            raise InteractionsError(f"interactions: {nulls} row(s) have no {column}")
    out = frame.copy()
    out[TIMESTAMP] = _timestamps(out[TIMESTAMP])
    if RATING in out.columns:
        out[RATING] = _numeric(out[RATING], RATING)
    if WEIGHT in out.columns:
        out[WEIGHT] = _numeric(out[WEIGHT], WEIGHT)
        if (out[WEIGHT] < 0).any():
            raise InteractionsError("interactions: weight must be >= 0")
    if EVENT in out.columns and params is not None and params.event_weights:
        unknown = sorted(set(map(str, pd.unique(out[EVENT]))) - set(params.event_weights))
        if unknown:
            raise InteractionsError(
                f"interactions: event(s) {unknown} have no weight in Params.event_weights"
            )
    return out


def validate_items(items: pd.DataFrame | None) -> pd.DataFrame | None:
    """Item attributes with unique item ids, or InteractionsError."""
    if items is None:
        return None
    if ITEM not in items.columns:
        raise InteractionsError(f"item attributes lack the column {ITEM!r}")
    if items[ITEM].duplicated().any():
        raise InteractionsError("item attributes: item_id must be unique (one row per item)")
    out = items.copy()
    if PRICE in out.columns:
        out[PRICE] = _numeric(out[PRICE], PRICE)
    return out


def _timestamps(values: pd.Series) -> pd.Series:
    try:
        return pd.to_datetime(values)
    except (ValueError, TypeError) as error:
        raise InteractionsError(f"interactions: timestamp is not a datetime ({error})") from error


def _numeric(values: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = int(numbers.isna().sum() - values.isna().sum())
    if bad:
        raise InteractionsError(f"interactions: {bad} {name} value(s) are not numbers")
    return numbers.astype(float)


def rows_with_events(frame: pd.DataFrame, events: tuple[str, ...] | None) -> pd.DataFrame:
    """The rows whose event is one of `events` (all rows when events is None or the log has none)."""
    if events is None or EVENT not in frame.columns:
        return frame
    return frame[frame[EVENT].isin(_values_named(frame[EVENT], events))]


def _values_named(values: pd.Series, names) -> list:
    """The distinct values whose text is one of names (compared as text, like astype(str), found
    over the few distinct values instead of every row)."""
    wanted = set(names)
    return [v for v in pd.unique(values) if str(v) in wanted]


def rating_range(frame: pd.DataFrame, params: Params) -> tuple[float, float]:
    if params.rating_range is not None:
        return params.rating_range
    return float(frame[RATING].min()), float(frame[RATING].max())


def row_weights(frame: pd.DataFrame, params: Params, as_of: pd.Timestamp) -> np.ndarray:
    """Each row's implicit weight: event weight x rating weight x own weight x recency decay.

    A rating weighs from 0.5 at the bottom of the rating range to 1 at the top (a low rating is still
    evidence the user chose the item, but weaker). The decay halves a row's weight every
    half_life_days before `as_of`.
    """
    weight = np.ones(len(frame))
    if EVENT in frame.columns and params.event_weights:
        by_value = {v: params.event_weights.get(str(v), np.nan) for v in pd.unique(frame[EVENT])}
        weight *= frame[EVENT].map(by_value).to_numpy(float)
    if RATING in frame.columns:
        low, high = rating_range(frame, params)
        span = (frame[RATING].to_numpy(float) - low) / (high - low) if high > low else 1.0
        weight *= 0.5 + 0.5 * np.clip(span, 0.0, 1.0)
    if WEIGHT in frame.columns:
        weight *= frame[WEIGHT].to_numpy(float)
    if params.half_life_days:
        age_days = ((as_of - frame[TIMESTAMP]) / DAY).to_numpy(float)
        weight *= 0.5 ** (np.maximum(age_days, 0.0) / params.half_life_days)
    return weight


class Split(NamedTuple):
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def split_times(
    frame: pd.DataFrame, validation_fraction: float = 0.1, test_fraction: float = 0.1
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(validation_start, test_start): the times leaving the given fractions of rows after them."""
    if min(validation_fraction, test_fraction) <= 0 or validation_fraction + test_fraction >= 1:
        raise InteractionsError("split fractions must be > 0 and sum to less than 1")
    times = validate_interactions(frame)[TIMESTAMP]
    test_start = times.quantile(1 - test_fraction)
    validation_start = times.quantile(1 - test_fraction - validation_fraction)
    return pd.Timestamp(validation_start), pd.Timestamp(test_start)


def temporal_split(
    frame: pd.DataFrame,
    validation_start: pd.Timestamp | str | None = None,
    test_start: pd.Timestamp | str | None = None,
    *,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> Split:
    """train < validation_start <= validation < test_start <= test, by timestamp (no look-ahead).

    Without explicit starts, the cut times leave about the given fractions of rows to validation and
    test. Raises InteractionsError when a part would be empty or the starts are out of order.
    """
    frame = validate_interactions(frame)
    if validation_start is None or test_start is None:
        validation_start, test_start = split_times(frame, validation_fraction, test_fraction)
    validation_start, test_start = pd.Timestamp(validation_start), pd.Timestamp(test_start)
    if validation_start >= test_start:
        raise InteractionsError(f"validation_start {validation_start} must precede test_start {test_start}")
    times = frame[TIMESTAMP]
    split = Split(
        frame[times < validation_start],
        frame[(times >= validation_start) & (times < test_start)],
        frame[times >= test_start],
    )
    for name, part in zip(Split._fields, split, strict=True):
        if part.empty:
            raise InteractionsError(
                f"temporal split: the {name} part is empty (validation_start {validation_start}, "
                f"test_start {test_start}, log {times.min()} .. {times.max()})"
            )
    return split
