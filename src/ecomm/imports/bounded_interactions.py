"""An interaction log's daily batches in memory bounded by its keys and one month of rows, not by
its rows (issue 20: a 2 GB file), with the bytes reading it whole (`interactions.frame` + `tables`)
gives.

1. read: the blocks checked and typed as `interactions.frame` types them (a refusal is raised before
   anything is written); user, item and event as codes of their text, spilled with the time and the
   row number to a temporary Arrow file per month; what stays in memory is each key's text and
   earliest time, and the duplicate hashes (8 bytes a distinct row);
2. write: month by month in time order, the month's rows sorted as the whole read sorts them (time,
   customer, product, row) and numbered on from the months before, each user's session continued
   across the month's start from their last event, then each day's batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ecomm.datagen.writer import write_batch
from ecomm.imports.blocks import Codes, Outranked, numbered_codes, settle_date_format
from ecomm.imports.bounded import (
    FirstOfKey,
    Spill,
    numbered_slots,
    require_continuation,
    spill_folder,
    widen_span,
)
from ecomm.imports.days import day_slices
from ecomm.imports.interactions import SESSION_GAP, event_types, half_stars
from ecomm.imports.source import ImportRefused, Log
from ecomm.imports.transactions import FUTURE, Derived, Reading, dated, refuse_if_any
from ecomm.imports.values import parse_numbers

RATING, STARS = FUTURE + 1, FUTURE + 2  # the checks after the dates', in a whole read's order
_NONE = np.iinfo(np.int64).max  # no time yet
_GAP = SESSION_GAP.value  # nanoseconds


def typed_block(raw: pd.DataFrame, reading: Reading) -> pd.DataFrame | None:
    """The block's rows as (ts, user, item, row, rating or event), or None when a check failed
    (kept in reading.refusal)."""
    mapping, refusal = reading.mapping, reading.refusal
    col = {f: raw[c] for f, c in mapping.items()}
    try:
        ts = dated(col["date"], reading)
        if ts is None:
            return None
        rows = pd.DataFrame({"ts": ts.to_numpy()})
        if "rating" in col:
            refusal.at(RATING)
            stars = parse_numbers(col["rating"], mapping["rating"], required=True)
            refusal.at(STARS)
            half_stars(stars, mapping["rating"])
            rows["rating"] = stars.to_numpy().astype(np.int64)
    except Outranked:
        return None
    except ImportRefused as exc:
        refusal.fail(exc)
        return None
    if "event" in col:
        rows["event"] = reading.codes["event"].of(col["event"])
    rows["user"] = reading.codes["user_id"].of(col["user_id"])
    rows["item"] = reading.codes["item_id"].of(col["item_id"])
    rows["row"] = raw.index.to_numpy()
    return rows


class Keys:
    """What the read keeps in memory: each user's and item's earliest time, each file's span."""

    def __init__(self, files: int) -> None:
        self.users, self.items = FirstOfKey(), FirstOfKey()
        self.spans: list[tuple[date, date] | None] = [None] * files
        self.rows = 0

    def add(self, part: pd.DataFrame, file_no: int) -> None:
        ts, rows = part["ts"].to_numpy().view(np.int64), part["row"].to_numpy()
        self.users.add(part["user"].to_numpy(), ts, rows)
        self.items.add(part["item"].to_numpy(), ts, rows)
        self.rows += len(part)
        widen_span(self.spans, file_no, part["ts"])


def read(log: Log, mapping: dict[str, str], date_format: str | None, today: date, spill: Spill) -> tuple:
    """Step 1: (reading, keys, derived), or ImportRefused; the typed rows spilled by month."""
    if ("event" in mapping) == ("rating" in mapping):
        raise ImportRefused("--map: map exactly one of event or rating")
    reading = Reading(mapping, settle_date_format(log, "date", date_format), today)
    reading.codes = {f: Codes() for f in ("user_id", "item_id", "event") if f in mapping}
    keys, derived = Keys(max(len(log.paths), 1)), Derived()
    for file_no, raw in log.blocks():
        derived.rows_read += len(raw)
        raw = raw[reading.seen.mask(raw)]
        if len(raw) and (part := typed_block(raw, reading)) is not None and reading.refusal.rank == 1 << 30:
            keys.add(part, file_no)  # (after a failure only the refusal matters)
            spill.write_by_month(part, part["ts"])
    refuse_if_any(reading)
    spill.close()
    derived.duplicates = derived.rows_read - keys.rows
    return reading, keys, derived


class Months:
    """Step 2's state: the ids of every key, the customers and products, the rows and sessions
    numbered so far, and each user's last event time and session."""

    def __init__(self, reading: Reading, keys: Keys, derived: Derived) -> None:
        codes = reading.codes
        # the empty cell's product is named "" when a row's item is the text "" (a Parquet log's can
        # be), as the whole read names a product by its first item that is not null
        empty_name = "" if "" in codes["item_id"].number else None
        self.customer, self.customers = self._entity(codes["user_id"], keys.users, "customer", derived)
        self.product, self.products = self._entity(codes["item_id"], keys.items, "product", derived)
        self.item_text = np.append(empty_name, codes["item_id"].values())  # per item slot (0: the empty cell)
        self.events = "event" in codes
        if self.events:
            self.event_type = event_types(pd.Series(codes["event"].values(), dtype=object)).to_numpy()
            self.event_type = np.append(self.event_type, "")  # (code -1, the empty cell: last)
        self.rows = self.sessions = 0
        self.last_ts = np.full(len(self.customers), _NONE, dtype=np.int64)
        self.session = np.zeros(len(self.customers), dtype=np.int64)

    @staticmethod
    def _entity(table: Codes, first: FirstOfKey, what: str, derived: Derived) -> tuple:
        """(id per key slot, the entity's frame of id and first day), numbered as the whole read's
        `numbered_ids` numbers them."""
        ids, ts, given = numbered_slots(table, first, numbered_codes)
        seen = ts != _NONE
        if not given:
            derived.notes.append(
                f"{what} ids numbered 1..{ids[seen].max()} from the source's distinct {what} keys"
            )
        first_ts = pd.Series(ts[seen].view("datetime64[ns]")).groupby(ids[seen]).min().dt.normalize()
        frame = pd.DataFrame({f"{what}_id": first_ts.index.to_numpy(), "first": first_ts.to_numpy()})
        return ids, frame.assign(day=frame["first"].dt.date)

    def month(self, rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """A month's rows (as spilled) as the frames of their entity and of the products first seen."""
        customer = self.customer[rows["user"].to_numpy().astype(np.int64) + 1]
        product = self.product[rows["item"].to_numpy().astype(np.int64) + 1]
        ts = rows["ts"].to_numpy()
        order = np.lexsort((rows["row"].to_numpy(), product, customer, ts.view(np.int64)))
        rows, customer, product, ts = rows.iloc[order], customer[order], product[order], ts[order]
        ids = np.arange(self.rows + 1, self.rows + len(rows) + 1)
        self.rows += len(rows)
        days = pd.Series(ts).dt.date.to_numpy()
        if self.events:
            found = pd.DataFrame(
                {"event_id": ids, "session_id": self._sessions(customer, ts.view(np.int64)),
                 "customer_id": customer, "product_id": product,
                 "event_type": self.event_type[rows["event"].to_numpy()],
                 "event_ts": pd.Series(ts).dt.floor("s").to_numpy(), "day": days}
            )  # fmt: skip
            return {"web_events": found, "products": self._launched(product, rows["item"].to_numpy(), days)}
        found = pd.DataFrame(
            {"review_id": ids, "customer_id": customer, "product_id": product,
             "rating": rows["rating"].to_numpy(), "review_date": pd.Series(ts).dt.normalize().to_numpy(),
             "day": days}
        )  # fmt: skip
        return {"reviews": found, "products": self._launched(product, rows["item"].to_numpy(), days)}

    def _launched(self, product: np.ndarray, item: np.ndarray, days: np.ndarray) -> pd.DataFrame:
        """The products whose first row is in the month, named by the item text of that row (its
        first in the whole read's order)."""
        unique, first = np.unique(product, return_index=True)
        first_day = self.products["first"].to_numpy()  # (the rows are in time order: days too)
        launched = self.products[
            (first_day >= np.datetime64(days[0].replace(day=1))) & (first_day <= np.datetime64(days[-1]))
        ]
        names = pd.Series(self.item_text[item[first].astype(np.int64) + 1], index=unique)
        return launched.assign(
            launch_date=launched["first"], product_name=launched["product_id"].map(names).to_numpy()
        )

    def _sessions(self, customer: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Session ids of the month's events: a new session at a user's first event and after a gap
        of more than 30 minutes (from the user's last event of an earlier month too), numbered by
        start time, ties by customer id."""
        user = np.searchsorted(self.customers["customer_id"].to_numpy(), customer)
        by_user = np.lexsort((ts, user))
        u, t = user[by_user], ts[by_user]
        first = np.r_[True, u[1:] != u[:-1]]
        before = np.where(first, self.last_ts[u], np.r_[_NONE, t[:-1]])
        start = (before == _NONE) | (t - np.where(before == _NONE, 0, before) > _GAP)
        new = np.empty(int(start.sum()), dtype=np.int64)
        new[np.lexsort((u[start], t[start]))] = np.arange(self.sessions + 1, self.sessions + len(new) + 1)
        self.sessions += len(new)
        value = np.zeros(len(u), dtype=np.int64)
        value[start] = new
        carried = first & ~start
        value[carried] = self.session[u[carried]]
        session = value[np.maximum.accumulate(np.where(value > 0, np.arange(len(u)), 0))]
        last = np.r_[u[1:] != u[:-1], True]
        self.last_ts[u[last]], self.session[u[last]] = t[last], session[last]
        found = np.empty_like(session)
        found[by_user] = session
        return found


def write(spill: Spill, months: Months, folder: Path, first: date, last: date) -> None:
    """Step 2: month by month, each day's batch."""
    customers = day_slices("customers", months.customers.rename(columns={"first": "signup_date"}))
    month, by_day = None, {}
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        if (day.year, day.month) != month:
            month = (day.year, day.month)
            rows = spill.read(f"{day.year:04d}-{day.month:02d}")
            frames = months.month(rows) if rows is not None else {}
            by_day = {name: day_slices(name, frame) for name, frame in frames.items()}
        tables = {
            name: parts[day] for name, parts in {"customers": customers, **by_day}.items() if day in parts
        }
        write_batch(folder, day.isoformat(), tables)


def write_log(
    log: Log, mapping: dict[str, str], out: Callable[[], Path], date_format: str | None, today: date
) -> tuple[Path, date, date, Derived]:
    """The log's daily batches written to `out()` after every check passed (a refusal raises before
    anything is written); returns the folder, the first and last day, and what was derived."""
    folder = out()
    with spill_folder(folder) as work, Spill(work, "rows") as spill:
        reading, keys, derived = read(log, mapping, date_format, today, spill)
        require_continuation(log.paths, keys.spans)
        months = Months(reading, keys, derived)
        derived.customers, derived.products = len(months.customers), len(months.products)
        first = min(s[0] for s in keys.spans if s is not None)
        last = max(s[1] for s in keys.spans if s is not None)
        derived.first_day, derived.last_day = first, last
        if months.events:
            derived.notes.append("sessions: a user's events less than 30 minutes apart")
            derived.events = keys.rows
        else:
            derived.notes.append("ratings as reviews of no known order")
            derived.ratings = keys.rows
        del reading, keys
        write(spill, months, folder, first, last)
    return folder, first, last, derived
