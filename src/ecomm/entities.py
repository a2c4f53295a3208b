"""The raw batch contract: which CSV files a business date has, and each column declared once.

The generator writes these files and the loader reads them. One directory per business date
(``OUT/YYYY-MM-DD/``), one ``<entity>.csv`` per entity. Files are UTF-8, comma separated, with a
header row; empty cells are NULL.

Each entity declares its columns (SQL type, nullability, range, accepted values, pattern, the date
rule relative to the batch date, the warehouse column it references) and its row rules. Everything
else derives from these declarations (`ecomm.warehouse.contract`): the pyarrow read types, the
parser, the pandera schema and its quarantine reasons, the staging DDL, the README's contract table.
Bounds of the SQL types are part of the type: a value that passes validation fits its column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

CUSTOMER_AGES = (16, 110)  # the youngest and oldest age a customer row may have (inclusive)
ORDER_STATUSES = ("completed", "cancelled")  # "returned" is set later by a returns row
# A returns row comes at most this many days after its order date: an order line's status is final
# (matured) once its order is this old.
RETURN_WINDOW_DAYS = 30
EVENT_TYPES = ("view", "add_to_cart", "purchase")
CAMPAIGN_TYPES = ("targeted", "regional", "sitewide")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate")


# Start of the warehouse calendar: no raw date may be earlier. The generator's shop starts in 2000;
# an imported log may be older (migration 0020 grew dim_date back to here).
EARLIEST_DATE = "1900-01-01"
# Spellings of a boolean cell (exact, case as written); both read paths accept exactly these.
TRUE_VALUES = ("true", "True", "TRUE", "t", "1")
FALSE_VALUES = ("false", "False", "FALSE", "f", "0")
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CAMPAIGN_LEAD_DAYS = 366  # a campaign may be announced up to this long before it starts


INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_NUMERIC = re.compile(r"numeric\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class SqlType:
    """A declared SQL type and what it admits."""

    sql: str  # as PostgreSQL spells it: bigint, numeric(12, 2), timestamp without time zone...
    kind: str  # integer | numeric | date | timestamp | boolean | text
    low: int | None = None  # integer range (inclusive)
    high: int | None = None
    precision: int | None = None  # numeric(precision, scale): |x| < 10^(precision - scale)
    scale: int | None = None

    @property
    def limit(self) -> int:
        """Numerics: the absolute value every stored value is below."""
        return 10 ** (self.precision - self.scale)


@cache
def sql_type(declared: str) -> SqlType:
    if declared in INTEGER_RANGES:
        return SqlType(declared, "integer", *INTEGER_RANGES[declared])
    if m := _NUMERIC.fullmatch(declared):
        precision, scale = int(m.group(1)), int(m.group(2))
        return SqlType(f"numeric({precision}, {scale})", "numeric", precision=precision, scale=scale)
    if declared in ("date", "boolean", "text"):
        return SqlType(declared, declared)
    if declared == "timestamp":
        return SqlType("timestamp without time zone", "timestamp")
    raise ValueError(f"unknown SQL type in the raw contract: {declared!r}")


@dataclass(frozen=True)
class Column:
    """One raw column. `type` is its SQL type (bigint, integer, smallint, numeric(p,s), date,
    timestamp, boolean, text); the type's own bounds (integer range, numeric precision and scale)
    apply on top of the declared range."""

    name: str
    type: str
    nullable: bool = False
    gt: int | None = None  # value > gt
    ge: int | None = None  # value >= ge
    le: int | None = None  # value <= le
    one_of: tuple[str, ...] | None = None
    pattern: str | None = None  # a regular expression the whole value matches
    pattern_name: str = ""  # what a value that does not match is not ("an email address")
    # "on": the date (of a timestamp: its day) is the batch date; "not_after": between
    # EARLIEST_DATE and the batch date plus `lead_days`
    batch_date: str | None = None
    lead_days: int = 0
    references: str | None = None  # "schema.table.column" the value must exist in (NULL exempt)


@dataclass(frozen=True)
class Reference:
    """Columns of a raw row that must match a row of a warehouse table (checked in SQL at the merge)."""

    columns: tuple[str, ...]
    table: str  # schema.table
    target: tuple[str, ...]
    nullable: bool = False  # a NULL value references nothing (and is allowed)
    cast: str | None = None  # SQL type the columns are cast to first: a timestamp's day is "date"

    def __str__(self) -> str:
        cast = f"::{self.cast}" if self.cast else ""
        return f"({', '.join(c + cast for c in self.columns)}) -> {self.table} ({', '.join(self.target)})"


@dataclass(frozen=True)
class RowRule:
    """A rule between columns of one row: `left op right`, where each side is a column, a sum or
    difference of products of columns (`quantity * unit_price - discount`) or a number. Numbers are
    compared at the columns' precision (money in whole cents), as the database will store them."""

    left: str
    op: str  # "=", "<=", ">=", "<"
    right: str
    message: str  # the quarantine reason of a row that breaks it

    def __str__(self) -> str:
        return f"{self.left} {self.op} {self.right}"


_col = Column


def _ref(table_column: str, nullable: bool = False) -> dict:
    return {"references": table_column, "nullable": nullable}


@dataclass(frozen=True)
class Entity:
    name: str
    fields: tuple[Column, ...]
    key: tuple[str, ...]
    grain: str
    loads_into: str  # the warehouse table its rows go to (schema.table)
    rules: tuple[RowRule, ...] = ()
    row_references: tuple[Reference, ...] = ()  # references of several columns at once

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, in file order."""
        return tuple(c.name for c in self.fields)

    def column(self, name: str) -> Column:
        for c in self.fields:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def references(self) -> tuple[Reference, ...]:
        """Every reference to the warehouse: each column's, then the multi-column ones."""
        own = tuple(
            Reference(
                (c.name,),
                c.references.rsplit(".", 1)[0],
                (c.references.rsplit(".", 1)[1],),
                c.nullable,
                "date" if c.type == "timestamp" else None,  # a timestamp references its day
            )
            for c in self.fields
            if c.references
        )
        return own + self.row_references


_ID = {"gt": 0}  # a natural id of the shop: a positive integer
_MONEY = "numeric(12,2)"
_CUSTOMER = "warehouse.dim_customer.customer_id"
_PRODUCT = "warehouse.dim_product.product_id"
_CAMPAIGN = "warehouse.dim_campaign.campaign_id"
_CALENDAR = "warehouse.dim_date.date_day"  # a date the warehouse calendar holds
# An attribute an imported log may not have: NULL = unknown (never invented); the generator fills it.
_UNKNOWN = {"nullable": True}

CUSTOMERS = Entity(
    "customers",
    (
        _col("customer_id", "bigint", **_ID),
        _col("first_name", "text", **_UNKNOWN),
        _col("last_name", "text", **_UNKNOWN),
        _col("email", "text", **_UNKNOWN, pattern=EMAIL_PATTERN, pattern_name="an email address"),
        _col("age", "smallint", **_UNKNOWN, ge=CUSTOMER_AGES[0], le=CUSTOMER_AGES[1]),
        _col("gender", "text", nullable=True),
        _col("country", "text", **_UNKNOWN),
        _col("city", "text", **_UNKNOWN),
        _col("acquisition_channel", "text", **_UNKNOWN, one_of=ACQUISITION_CHANNELS),
        _col("signup_date", "date", batch_date="not_after", references=_CALENDAR),
    ),
    ("customer_id",),
    "one row per customer, in the batch of the signup date (the first batch holds the existing base)",
    "warehouse.dim_customer",
)
PRODUCTS = Entity(
    "products",
    (
        _col("product_id", "bigint", **_ID),
        _col("product_name", "text"),
        _col("category", "text", **_UNKNOWN),
        _col("subcategory", "text", **_UNKNOWN),
        _col("brand", "text", **_UNKNOWN),
        _col("list_price", _MONEY, **_UNKNOWN, gt=0),
        _col("unit_cost", _MONEY, **_UNKNOWN, ge=0),
        _col("launch_date", "date", batch_date="not_after", references=_CALENDAR),
    ),
    ("product_id",),
    "one row per product, in the batch of its launch date (the first batch holds the catalog)",
    "warehouse.dim_product",
    rules=(RowRule("unit_cost", "<=", "list_price", "unit_cost exceeds list_price"),),
)
CAMPAIGNS = Entity(
    "campaigns",
    (
        _col("campaign_id", "bigint", **_ID),
        _col("campaign_name", "text"),
        _col("channel", "text"),
        _col("campaign_type", "text", one_of=CAMPAIGN_TYPES),
        _col("offer", "text"),
        _col("discount_pct", "numeric(5,2)", ge=0, le=100),
        _col("target_countries", "text", nullable=True),  # ';'-separated; NULL = every country
        _col(
            "start_date", "date", batch_date="not_after", lead_days=CAMPAIGN_LEAD_DAYS, references=_CALENDAR
        ),
        _col("end_date", "date", references=_CALENDAR),
    ),
    ("campaign_id",),
    "one row per campaign, in the batch of the day it is announced",
    "warehouse.dim_campaign",
    rules=(RowRule("end_date", ">=", "start_date", "end_date before start_date"),),
)
CAMPAIGN_EXPOSURE = Entity(
    "campaign_exposure",
    (
        _col("customer_id", "bigint", **_ref(_CUSTOMER)),
        _col("campaign_id", "bigint", **_ref(_CAMPAIGN)),
        _col("treated", "boolean"),
        _col("exposure_date", "date", batch_date="on", references=_CALENDAR),
    ),
    ("customer_id", "campaign_id"),
    "one row per eligible customer x campaign (treated or control), in the batch of the exposure date",
    "warehouse.fact_campaign_exposure",
)
ORDER_ITEMS = Entity(
    "order_items",
    (
        _col("order_id", "bigint", **_ID),
        _col("line_no", "smallint", gt=0),
        _col("order_ts", "timestamp", batch_date="on", references=_CALENDAR),
        _col("customer_id", "bigint", **_ref(_CUSTOMER)),
        _col("product_id", "bigint", **_ref(_PRODUCT)),
        _col("campaign_id", "bigint", **_ref(_CAMPAIGN, nullable=True)),
        _col("quantity", "integer", gt=0),
        _col("unit_price", _MONEY, ge=0),
        _col("discount", _MONEY, ge=0),
        _col("revenue", "numeric(14,2)"),
        _col("unit_cost", _MONEY, **_UNKNOWN, ge=0),
        _col("status", "text", one_of=ORDER_STATUSES),
        _col("delivery_days", "smallint", nullable=True, ge=0),
    ),
    ("order_id", "line_no"),
    "one row per order line, in the batch of the order date; status is completed or cancelled",
    "warehouse.fact_order_items",
    rules=(
        RowRule(
            "revenue", "=", "quantity * unit_price - discount", "revenue != quantity * unit_price - discount"
        ),
        RowRule("discount", "<=", "quantity * unit_price", "discount exceeds quantity * unit_price"),
        # the warehouse stores cost = quantity * unit_cost as numeric(14,2)
        RowRule(
            "quantity * unit_cost",
            "<",
            "1000000000000",
            "quantity * unit_cost (the line's cost) must be below 10^12 (numeric(14,2))",
        ),
    ),
)
RETURNS = Entity(
    "returns",
    (
        _col("order_id", "bigint"),
        _col("line_no", "smallint", gt=0),
        _col("return_date", "date", batch_date="on"),
        _col("reason", "text"),
    ),
    ("order_id", "line_no"),
    "one row per returned order line, in the batch of the return date",
    "warehouse.fact_order_items",
    row_references=(
        Reference(("order_id", "line_no"), "warehouse.fact_order_items", ("order_id", "line_no")),
    ),
)
WEB_EVENTS = Entity(
    "web_events",
    (
        _col("event_id", "bigint", **_ID),
        _col("session_id", "bigint"),
        _col("customer_id", "bigint", **_ref(_CUSTOMER)),
        _col("product_id", "bigint", **_ref(_PRODUCT, nullable=True)),
        _col("event_type", "text", one_of=EVENT_TYPES),
        _col("event_ts", "timestamp", batch_date="on", references=_CALENDAR),
    ),
    ("event_id",),
    "one row per web event (view, add_to_cart, purchase), in the batch of its date",
    "warehouse.fact_web_events",
)
REVIEWS = Entity(
    "reviews",
    (
        _col("review_id", "bigint", **_ID),
        _col("customer_id", "bigint", **_ref(_CUSTOMER)),
        _col("product_id", "bigint", **_ref(_PRODUCT)),
        _col("order_id", "bigint", **_UNKNOWN),  # NULL: a rating log does not say what was bought
        _col("rating", "smallint", ge=1, le=5),
        _col("review_date", "date", batch_date="on", references=_CALENDAR),
    ),
    ("review_id",),
    "one row per product review (1-5 stars), in the batch of the review date",
    "warehouse.fact_reviews",
    row_references=(
        Reference(
            ("order_id", "customer_id", "product_id"),
            "warehouse.fact_order_items",
            ("order_id", "customer_id", "product_id"),
            nullable=True,
        ),
    ),
)

# Load order: dimensions before the facts that reference them.
ENTITIES: tuple[Entity, ...] = (
    CUSTOMERS,
    PRODUCTS,
    CAMPAIGNS,
    CAMPAIGN_EXPOSURE,
    ORDER_ITEMS,
    RETURNS,
    WEB_EVENTS,
    REVIEWS,
)
BY_NAME = {e.name: e for e in ENTITIES}

# Ground truth written beside the batches (OUT/truth/), loaded into the `truth` schema.
TRUTH_DIR = "truth"
TRUTH_FILES = {
    "customer_traits": (
        "customer_id",
        "activity_rate",
        "price_sensitivity",
        "churn_frailty",
        "campaign_responsiveness",
        "churned_on",
    ),
    "customer_churn": ("customer_id", "snapshot_date", "horizon_days", "churn_probability"),
    "customer_persona": ("customer_id", "persona", "signup_date", "exploration", "browse_ratio"),
    "customer_purchase": ("customer_id", "snapshot_date", "horizon_days", "purchase_probability"),
    "customer_value": ("customer_id", "snapshot_date", "horizon_days", "expected_revenue"),
    "customer_preference": ("customer_id", "product_id", "true_score", "true_rank"),
    "product_demand": ("product_id", "business_date", "expected_units", "expected_revenue"),
    "campaign_effect": (
        "campaign_id",
        "estimand",
        "segment",
        "outcome",
        "window_days",
        "n_customers",
        "true_effect",
    ),
    # only written for a world with planted drift (datagen/regimes.py)
    "regime_change": ("regime_id", "kind", "start_date", "end_date", "magnitude", "category", "description"),
}
OPTIONAL_TRUTH_FILES = frozenset({"regime_change"})  # written only when the world has one
GROUND_TRUTH_SUMMARY = "ground_truth.json"
STATE_DIR = "_state"  # the world's state after the last generated day, for incremental mode
# In each batch directory: {"files": {"<entity>.csv": {"bytes": n, "rows": n}}} as the writer wrote
# them; the loader rejects a batch whose file differs (a truncated or partial copy). Optional.
MANIFEST_FILE = "manifest.json"
