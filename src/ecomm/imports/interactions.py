"""An interaction log (user, item, event or rating, timestamp) as raw batches of the contract, read
whole: the reference that `bounded_interactions` (what `ecomm import interactions` runs) gives the
bytes of, a month of rows at a time.

Events become web events (view, add_to_cart, purchase; common spellings such as click or
transaction are read as those; any other value is written as it is and the loader quarantines it).
Ratings (whole stars 1-5) become reviews of no known order. Sessions are derived: a user's events
with less than 30 minutes between them. Users and items are the customers and products, known only
by their id (every other attribute is unknown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from ecomm.imports.source import ImportRefused, Log, as_log
from ecomm.imports.transactions import Derived, first_appearance_ids, numbered_ids
from ecomm.imports.values import parse_dates, parse_numbers

REQUIRED = ("user_id", "item_id", "date")
OPTIONAL = ("event", "rating")
SESSION_GAP = pd.Timedelta(minutes=30)
EVENT_SPELLINGS = {
    "view": "view",
    "click": "view",
    "pageview": "view",
    "detail": "view",
    "add_to_cart": "add_to_cart",
    "addtocart": "add_to_cart",
    "cart": "add_to_cart",
    "purchase": "purchase",
    "transaction": "purchase",
    "buy": "purchase",
}


def frame(
    source: Log | pa.Table, mapping: dict, date_format: str | None, today
) -> tuple[pd.DataFrame, Derived]:
    if ("event" in mapping) == ("rating" in mapping):
        raise ImportRefused("--map: map exactly one of event or rating")
    raw = pd.concat(block for _, block in as_log(source, mapping).blocks())
    derived = Derived(rows_read=len(raw))
    raw = raw.drop_duplicates()
    derived.duplicates = derived.rows_read - len(raw)
    col = {f: raw[c] for f, c in mapping.items()}
    rows = pd.DataFrame(index=raw.index)
    rows["ts"] = parse_dates(col["date"], mapping["date"], date_format)
    future = rows["ts"].dt.date > today
    if future.any():
        first = rows.loc[future, "ts"].min().date()
        raise ImportRefused(
            f"{mapping['date']}: {int(future.sum())} row(s) dated after today {today} (first {first})"
        )
    rows["customer_id"] = numbered_ids(col["user_id"].fillna(""), "customer", derived, rows["ts"])
    rows["product_id"] = numbered_ids(col["item_id"].fillna(""), "product", derived, rows["ts"])
    rows["product_name"] = col["item_id"]
    if "rating" in col:
        stars = parse_numbers(col["rating"], mapping["rating"], required=True)
        half_stars(stars, mapping["rating"])
        rows["rating"] = stars.astype("int64")
    else:
        rows["event_type"] = event_types(col["event"])
    return rows, derived


def half_stars(stars: pd.Series, column: str) -> None:
    """Refuses the first rating that is not a whole number of stars."""
    if (stars % 1 != 0).any():
        row = int(np.flatnonzero((stars % 1 != 0).to_numpy())[0])
        raise ImportRefused(
            f"{column}: row {stars.index[row] + 1}: {stars.iloc[row]} is not a whole number of stars"
        )


def event_types(events: pd.Series) -> pd.Series:
    """The contract's event type of each event (a known spelling), else the value as it is."""
    spelled = events.fillna("").str.strip().str.lower()
    return spelled.map(EVENT_SPELLINGS).fillna(events.fillna(""))


def tables(rows: pd.DataFrame, derived: Derived) -> dict[str, pd.DataFrame]:
    rows = rows.sort_values(["ts", "customer_id", "product_id"], kind="stable").reset_index(drop=True)
    first_seen = rows.groupby("customer_id")["ts"].min().dt.normalize()
    customers = pd.DataFrame({"customer_id": first_seen.index, "signup_date": first_seen.to_numpy()})
    products = (
        rows.groupby("product_id")
        .agg(launch_date=("ts", "min"), product_name=("product_name", "first"))
        .reset_index()
    )
    products["launch_date"] = products["launch_date"].dt.normalize()
    frames = {
        "customers": customers.assign(day=customers["signup_date"].dt.date),
        "products": products.assign(day=products["launch_date"].dt.date),
    }
    ids = np.arange(1, len(rows) + 1)
    if "rating" in rows:
        frames["reviews"] = rows.assign(
            review_id=ids, review_date=rows["ts"].dt.normalize(), day=rows["ts"].dt.date
        )
        derived.notes.append("ratings as reviews of no known order")
        derived.ratings = len(rows)
    else:
        frames["web_events"] = rows.assign(
            event_id=ids,
            session_id=_sessions(rows),
            event_ts=rows["ts"].dt.floor("s"),
            day=rows["ts"].dt.date,
        )
        derived.notes.append("sessions: a user's events less than 30 minutes apart")
        derived.events = len(rows)
    derived.customers, derived.products = len(customers), len(products)
    derived.first_day, derived.last_day = rows["ts"].min().date(), rows["ts"].max().date()
    return frames


def _sessions(rows: pd.DataFrame) -> np.ndarray:
    """Session ids 1..n in order of their start: a new session at a user's first event and after each
    gap of 30 minutes (numbered by start time, so a log continued by later rows keeps its ids)."""
    by_user = rows.sort_values(["customer_id", "ts"], kind="stable")
    starts = by_user["customer_id"].ne(by_user["customer_id"].shift()) | by_user["ts"].diff().gt(SESSION_GAP)
    per_user_run = pd.Series(starts.cumsum().to_numpy(), index=by_user.index).reindex(rows.index)
    return first_appearance_ids(per_user_run, rows["ts"]).to_numpy()
