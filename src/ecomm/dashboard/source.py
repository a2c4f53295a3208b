"""Where the dashboard reads: one pooled engine per warehouse, parameterised SQL, cached results.

Every cached query takes a `Warehouse` (its URL and its last load), so a new load gives new cache
keys at once; the TTL only bounds how long an unused entry lives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import psycopg2
import sqlalchemy as sa
import streamlit as st

from ecomm import db
from ecomm.settings import Settings

CACHE_TTL_SECONDS = 600
FILL_COMMANDS = "`make up` (simulates and loads a year of history) or `ecomm pipeline run --date YYYY-MM-DD`"


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read; the message says what fixes it."""


@dataclass(frozen=True)
class Warehouse:
    url: str  # identifies the database in cache keys and opens its pool
    batches: int  # business dates loaded
    loaded_at: dt.datetime | None  # end of the last successful load
    # first and last business date with orders (an imported rating or event log: with ratings or events)
    first_day: dt.date | None
    last_day: dt.date | None
    has_orders: bool = True  # False: an imported rating or event log (ecomm.dashboard.interactions)

    @property
    def empty(self) -> bool:
        return self.batches == 0 or self.last_day is None


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> sa.Engine:
    # the URL comes from db.database_url, so this is db.engine(settings), shared by every session
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


@contextlib.contextmanager
def connection(url: str) -> Iterator:
    """A psycopg2 connection from the pool (read only: rolled back before it goes back)."""
    conn = _engine(url).raw_connection()
    try:
        yield conn
        conn.rollback()
    finally:
        conn.close()


def read(url: str, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Rows of a parameterised query; numeric (Decimal) columns as floats."""
    with connection(url) as conn:
        frame = db.query_frame(conn, sql, params)
    for name in frame.columns:
        first = frame[name].dropna()
        if len(first) and isinstance(first.iloc[0], Decimal):
            frame[name] = frame[name].astype("float64")
    return frame


LAST_LOAD_SQL = """
SELECT (SELECT count(DISTINCT batch_date) FROM audit.load_runs WHERE status = 'loaded') AS batches,
       (SELECT max(finished_at) FROM audit.load_runs WHERE status = 'loaded') AS loaded_at,
       COALESCE((SELECT min(order_date) FROM warehouse.fact_order_items),
                least((SELECT min(review_date) FROM warehouse.fact_reviews),
                      (SELECT min(event_date) FROM warehouse.fact_web_events))) AS first_day,
       COALESCE((SELECT max(order_date) FROM warehouse.fact_order_items),
                greatest((SELECT max(review_date) FROM warehouse.fact_reviews),
                         (SELECT max(event_date) FROM warehouse.fact_web_events))) AS last_day,
       EXISTS (SELECT 1 FROM warehouse.fact_order_items) AS has_orders
"""


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of these settings and its last load (read on every run: it is the cache key)."""
    try:
        url = db.database_url(settings, start=False).render_as_string(hide_password=False)
        row = read(url, LAST_LOAD_SQL).iloc[0]
    except db.DatabaseError as exc:
        raise WarehouseUnavailable(f"{exc}. Start the platform with `make up`.") from exc
    except (psycopg2.OperationalError, sa.exc.OperationalError) as exc:
        raise WarehouseUnavailable(
            f"{db.connection_error(settings, exc)}. Start the platform with `make up`."
        ) from exc
    except psycopg2.errors.UndefinedTable as exc:
        raise WarehouseUnavailable(
            "the warehouse has no tables yet: run `ecomm db migrate`, then load data with " + FILL_COMMANDS
        ) from exc
    return Warehouse(
        url=url,
        batches=int(row["batches"]),
        loaded_at=None if pd.isna(row["loaded_at"]) else row["loaded_at"].to_pydatetime(),
        first_day=None if pd.isna(row["first_day"]) else row["first_day"],
        last_day=None if pd.isna(row["last_day"]) else row["last_day"],
        has_orders=bool(row["has_orders"]),
    )


# Results of the queries, per warehouse and last load (see the module docstring).
cached = st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
