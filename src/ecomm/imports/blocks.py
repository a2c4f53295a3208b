"""What reading a log block by block needs to give the answer reading it whole would: exact
duplicates dropped across blocks, text keys as small integer codes, the date format settled over
every block, and the refusal a whole read would give (the first failing check at its first row)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomm.imports.source import ImportRefused, Log
from ecomm.imports.values import (
    DATE_FORMATS,
    FORMAT_SAMPLE,
    UNIX,
    UNIX_SECONDS,
    choose_date_format,
    parses_all,
)


class FirstSeen:
    """Which rows of a block are not a copy of an earlier row (of this block or an earlier one), by a
    64-bit hash of the row's text: what the log holds is 8 bytes per distinct row, not its text."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype=np.uint64)  # sorted

    def mask(self, raw: pd.DataFrame) -> np.ndarray:
        hashes = pd.util.hash_pandas_object(raw, index=False).to_numpy()
        if not len(hashes):
            return np.zeros(0, dtype=bool)
        order = np.argsort(hashes, kind="stable")  # a copy's first row by position comes first
        ordered = hashes[order]
        new = np.r_[True, ordered[1:] != ordered[:-1]]
        # sorted keys: each binary search starts where the last ended (a random order costs a cache
        # miss per step: 18 of 100 s at 16 million rows)
        at = np.searchsorted(self.hashes, ordered)
        if len(self.hashes):
            new &= self.hashes[np.minimum(at, len(self.hashes) - 1)] != ordered
        self.hashes = np.insert(self.hashes, at[new], ordered[new])  # stays sorted
        found = np.empty(len(hashes), dtype=bool)
        found[order] = new
        return found


class Codes:
    """The distinct values of a text column over every block, numbered by first appearance; a row
    holds its value's number (-1: empty)."""

    def __init__(self) -> None:
        self.number: dict[str, int] = {}

    def of(self, values: pd.Series) -> np.ndarray:
        local, uniques = pd.factorize(values)
        numbers = np.fromiter(
            (self.number.setdefault(u, len(self.number)) for u in uniques), dtype=np.int64, count=len(uniques)
        )
        found = np.append(numbers, -1)  # local -1 (empty) picks the appended -1
        return found[local].astype(np.int32)

    def values(self) -> np.ndarray:
        return np.array(list(self.number), dtype=object)


def categorical(codes: np.ndarray, values: np.ndarray) -> pd.Categorical:
    """Coded text as a Categorical whose categories are sorted: a smaller code is a smaller value."""
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(values) + 1, dtype=np.int32)
    rank[order] = np.arange(len(values), dtype=np.int32)
    rank[-1] = -1
    return pd.Categorical.from_codes(rank[codes], categories=values[order])


def numbered_codes(values: np.ndarray, codes: np.ndarray, ts: pd.Series) -> tuple[np.ndarray, bool]:
    """Per row, the source's id when every key is a positive integer (True), else 1..n over the
    distinct keys in order of first appearance in time, ties by key (False)."""
    as_int = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    if as_int.notna().all() and (as_int > 0).all() and (as_int < 2**63).all() and (as_int % 1 == 0).all():
        return as_int.to_numpy()[codes].astype("int64"), True
    return first_appearance_codes(values, codes, ts), False


def first_appearance_codes(values: np.ndarray, codes: np.ndarray, ts: pd.Series) -> np.ndarray:
    first = pd.Series(ts.to_numpy()).groupby(codes).min()
    order = pd.DataFrame({"key": values[first.index.to_numpy()], "ts": first.to_numpy()})
    order = order.sort_values(["ts", "key"], kind="stable")
    number = np.empty(len(values), dtype=np.int64)
    number[first.index.to_numpy()[order.index.to_numpy()]] = np.arange(1, len(order) + 1)
    return number[codes]


def with_empty_as(codes: np.ndarray, table: Codes, value: str = "") -> np.ndarray:
    """The codes with empty cells read as `value` (a key column's fillna(""))."""
    if (codes >= 0).all():
        return codes
    return np.where(codes < 0, table.number.setdefault(value, len(table.number)), codes).astype(np.int32)


class FirstRefusal:
    """The refusal a whole read would give: of the checks, in their order, the first that fails, at
    its first failing row. A block stops at its first failure, as no later check can outrank it, and
    a check that an earlier failure outranks is not run again."""

    def __init__(self) -> None:
        self.rank = 1 << 30
        self.error: ImportRefused | None = None
        self.current = 0

    def at(self, rank: int) -> None:
        if rank >= self.rank:
            raise Outranked
        self.current = rank

    def fail(self, error: ImportRefused | None, rank: int | None = None) -> None:
        rank = self.current if rank is None else rank
        if rank < self.rank:
            self.rank, self.error = rank, error


class Outranked(Exception):
    """A check that an earlier failure outranks: the block stops."""


def settle_date_format(log: Log, field: str, date_format: str | None) -> str | ImportRefused:
    """The format that reads every date of the log (as `values.parse_dates` chooses it for a column
    read whole), or the refusal saying why there is not one, settled over the blocks' distinct values."""
    if date_format:
        return date_format
    column = log.mapped[field]
    all_unix, any_value = True, False
    fitting = list(DATE_FORMATS)
    for _, raw in log.blocks([field]):
        distinct = pd.Series(raw[column].dropna().unique())
        any_value |= len(distinct) > 0
        all_unix &= bool(distinct.str.match(UNIX_SECONDS).all())
        sample = distinct.iloc[
            np.linspace(0, len(distinct) - 1, min(FORMAT_SAMPLE, len(distinct))).astype(int)
        ]
        fitting = [f for f in fitting if parses_all(sample, f)]
        fitting = [f for f in fitting if parses_all(distinct, f)]
    if all_unix and any_value:
        return UNIX
    if len(fitting) == 1:
        return fitting[0]
    # no format or several: the refusal names values, as a whole read would (the distinct dates)
    distinct = pd.unique(np.concatenate([raw[column].dropna().unique() for _, raw in log.blocks([field])]))
    try:
        return choose_date_format(pd.Series(distinct, dtype=object), column)
    except ImportRefused as exc:
        return exc
