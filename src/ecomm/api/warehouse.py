"""What the API reads from the warehouse: parameterised SQL on a small connection pool.

"Now" for a customer's churn features is the day after the last loaded business date, so the
features of a request equal the training features of a cutoff on that day (point in time).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ecomm import db
from ecomm.features.churn import churn_features, warehouse_span
from ecomm.features.purchase import purchase_features
from ecomm.settings import Settings

CATALOG_TTL_SECONDS = 300.0
SPAN_TTL_SECONDS = 30.0
TOP_CATEGORIES = 3


@dataclass(frozen=True)
class Product:
    name: str
    category: str | None  # None: unknown (an imported log's products)
    price: float | None


@dataclass(frozen=True)
class Customer:
    customer_id: int
    country: str
    categories: tuple[str, ...]  # most bought first


class CatalogStale(Exception):
    """products() on the event loop needs the warehouse: the caller retries on a worker thread."""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a worker thread: no loop runs here
        return False
    return True


class _Cached:
    """A value recomputed after `ttl` seconds (or on demand); readers never block on each other."""

    def __init__(self, compute, ttl: float) -> None:
        self.compute, self.ttl = compute, ttl
        self.value, self.at = None, -float("inf")
        self.lock = threading.Lock()

    def fresh(self) -> bool:
        """get() would answer without recomputing."""
        return time.monotonic() - self.at <= self.ttl

    def get(self, *, force: bool = False):
        if force or time.monotonic() - self.at > self.ttl:
            with self.lock:
                if force or time.monotonic() - self.at > self.ttl:
                    self.value, self.at = self.compute(), time.monotonic()
        return self.value


class WarehouseReader:
    def __init__(self, settings: Settings) -> None:
        self.engine = db.engine(settings).execution_options(postgresql_readonly=True)
        self._catalog = _Cached(self._read_catalog, CATALOG_TTL_SECONDS)
        self._last_loaded = _Cached(self._read_last_loaded, SPAN_TTL_SECONDS)
        self._first_day = _Cached(self._read_first_day, CATALOG_TTL_SECONDS)

    def _rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        conn = self.engine.raw_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            conn.rollback()  # read-only: end the transaction before the connection goes back
            return rows
        finally:
            conn.close()

    def read_statements(self, statements: list[str]) -> list[list[tuple]]:
        """Each statement's rows (none for a SET), in one read-only transaction."""
        conn = self.engine.raw_connection()
        try:
            results = []
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
                    results.append(cur.fetchall() if cur.description else [])
            conn.rollback()
            return results
        finally:
            conn.close()

    def ping(self) -> None:
        self._rows("SELECT 1")

    # ------------------------------------------------------------------------------ catalog
    def _read_catalog(self) -> dict[int, Product]:
        rows = self._rows("SELECT product_id, product_name, category, list_price FROM warehouse.dim_product")
        return {
            int(pid): Product(name, cat, None if price is None else float(price))
            for pid, name, cat, price in rows
        }

    def products(self, ids) -> dict[int, Product]:
        """The catalog, re-read when it lacks one of `ids` (launched since the last read); raises
        CatalogStale instead of reading on the event loop, where a query would stall every request."""
        catalog = self._catalog.get()
        if any(int(i) not in catalog for i in ids):
            if _on_event_loop():
                raise CatalogStale(f"{len(ids)} product(s) asked, some not in the cached catalog")
            catalog = self._catalog.get(force=True)
        return catalog

    def catalog_fresh(self) -> bool:
        """products() answers from memory (unless a product launched since the last read)."""
        return self._catalog.fresh()

    # ------------------------------------------------------------------------------ customers
    def customer(self, customer_id: int) -> Customer | None:
        rows = self._rows(
            """SELECT c.country, d.category
               FROM warehouse.dim_customer c
               LEFT JOIN warehouse.fact_order_items f
                      ON f.customer_id = c.customer_id AND f.status <> 'cancelled'
               LEFT JOIN warehouse.dim_product d ON d.product_id = f.product_id
               WHERE c.customer_id = %(id)s""",
            {"id": customer_id},
        )
        if not rows:
            return None
        counts = pd.Series([cat for _, cat in rows if cat is not None], dtype="object").value_counts()
        return Customer(customer_id, rows[0][0], tuple(counts.index[:TOP_CATEGORIES]))

    # ------------------------------------------------------------------------------ churn features
    def _read_last_loaded(self) -> date | None:
        return self._rows("SELECT max(batch_date) FROM audit.load_runs WHERE status = 'loaded'")[0][0]

    def _read_first_day(self) -> date:
        conn = self.engine.raw_connection()
        try:
            return warehouse_span(conn).first_day
        finally:
            conn.rollback()
            conn.close()

    def as_of(self) -> date | None:
        """The warehouse's "now": the day after its last loaded business date (None: nothing loaded)."""
        last = self._last_loaded.get()
        return None if last is None else last + timedelta(days=1)

    def churn_features(self, customer_id: int, cutoff: date) -> pd.DataFrame:
        """The customer's point-in-time features at `cutoff`: one row if the customer is in the churn
        population (signed up and with a completed order before it, as in training and batch scoring),
        none otherwise."""
        first_day = self._first_day.get()
        conn = self.engine.raw_connection()
        try:
            return churn_features(conn, cutoff, customer_ids=[customer_id], first_day=first_day)
        finally:
            conn.rollback()
            conn.close()

    def purchase_features(self, customer_id: int, cutoff: date) -> pd.DataFrame:
        """The customer's purchase features at `cutoff`: one row if signed up before it, else none."""
        first_day = self._first_day.get()
        conn = self.engine.raw_connection()
        try:
            return purchase_features(conn, cutoff, customer_ids=[customer_id], first_day=first_day)
        finally:
            conn.rollback()
            conn.close()

    # ------------------------------------------------------------------------------ segments
    def segment(self, customer_id: int) -> tuple | None:
        """The customer's latest stored segment (marts.customer_segments): as_of_date, segment_id,
        segment_name, model_name, model_version, profile; None if the customer has none."""
        rows = self._rows(
            """SELECT s.as_of_date, s.segment_id, p.segment_name, s.model_name, s.model_version, p.profile
               FROM marts.customer_segments s
               JOIN marts.segment_profiles p USING (model_version, segment_id)
               WHERE s.customer_id = %(id)s
               ORDER BY s.as_of_date DESC LIMIT 1""",
            {"id": customer_id},
        )
        return rows[0] if rows else None

    # ------------------------------------------------------------------------------ lifetime value
    CLV_COLUMNS = (
        "as_of_date",
        "horizon_days",
        "p_alive",
        "expected_orders",
        "expected_order_value",
        "expected_value",
        "frequency",
        "recency_days",
        "t_days",
        "monetary",
        "model_name",
        "model_version",
    )

    def customer_value(self, customer_id: int) -> dict | None:
        """The customer's latest stored lifetime value (marts.customer_value), None if none."""
        rows = self._rows(
            f"""SELECT {", ".join(self.CLV_COLUMNS)} FROM marts.customer_value
                WHERE customer_id = %(id)s ORDER BY as_of_date DESC LIMIT 1""",
            {"id": customer_id},
        )
        return dict(zip(self.CLV_COLUMNS, rows[0], strict=True)) if rows else None

    def purchased(self, customer_id: int) -> bool:
        """Whether the customer has a non-cancelled order line (a purchase, as lifetime value counts)."""
        rows = self._rows(
            "SELECT 1 FROM warehouse.fact_order_items WHERE customer_id = %(id)s AND status <> 'cancelled' LIMIT 1",
            {"id": customer_id},
        )
        return bool(rows)

    # ------------------------------------------------------------------------------ demand forecasts
    FORECAST_COLUMNS = ("target_date", "point", "lo_80", "hi_80", "lo_95", "hi_95")
    STOCK_COLUMNS = ("lead_time_days", "service_level", "lead_time_demand", "safety_stock", "reorder_point")

    def forecast(self, level: str, series_id: str, horizon: int) -> tuple[dict, list[dict]] | None:
        """The series' latest stored forecast (marts.demand_forecast), its first `horizon` days:
        ({forecast_date, method, model_name, model_version}, [{target_date, point, lo_80, ...}]);
        None if the series has none."""
        rows = self._rows(
            f"""SELECT forecast_date, method, model_name, model_version, {", ".join(self.FORECAST_COLUMNS)}
                FROM marts.demand_forecast
                WHERE series_level = %(level)s AND series_id = %(id)s
                  AND forecast_date = (SELECT max(forecast_date) FROM marts.demand_forecast
                                       WHERE series_level = %(level)s AND series_id = %(id)s)
                  AND target_date <= forecast_date + %(horizon)s
                ORDER BY target_date""",
            {"level": level, "id": series_id, "horizon": horizon},
        )
        if not rows:
            return None
        head = dict(zip(("forecast_date", "method", "model_name", "model_version"), rows[0][:4], strict=True))
        return head, [dict(zip(self.FORECAST_COLUMNS, r[4:], strict=True)) for r in rows]

    def stock(self, product_id: int, forecast_date: date) -> dict | None:
        """The product's reorder point stored with the forecast of `forecast_date` (marts.product_stock)."""
        rows = self._rows(
            f"""SELECT {", ".join(self.STOCK_COLUMNS)} FROM marts.product_stock
                WHERE product_id = %(id)s AND forecast_date = %(day)s""",
            {"id": product_id, "day": forecast_date},
        )
        return dict(zip(self.STOCK_COLUMNS, rows[0], strict=True)) if rows else None

    def product_category(self, product_id: int) -> str | None:
        rows = self._rows(
            "SELECT category FROM warehouse.dim_product WHERE product_id = %(id)s", {"id": product_id}
        )
        return rows[0][0] if rows else None

    def category_known(self, category: str) -> bool:
        return bool(
            self._rows("SELECT 1 FROM warehouse.dim_product WHERE category = %(c)s LIMIT 1", {"c": category})
        )

    def known(self, customer_id: int) -> bool:
        return bool(
            self._rows("SELECT 1 FROM warehouse.dim_customer WHERE customer_id = %(id)s", {"id": customer_id})
        )

    def signed_up(self, customer_id: int, before: date) -> bool:
        rows = self._rows(
            "SELECT 1 FROM warehouse.dim_customer WHERE customer_id = %(id)s AND signup_date < %(before)s",
            {"id": customer_id, "before": before},
        )
        return bool(rows)
