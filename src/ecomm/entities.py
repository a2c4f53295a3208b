"""The raw batch contract: which CSV files a business date has and their columns.

The generator writes these files and the loader reads them; nothing else lives here.
One directory per business date (``OUT/YYYY-MM-DD/``), one ``<entity>.csv`` per entity.
Files are UTF-8, comma separated, with a header row; empty cells are NULL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    grain: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


CUSTOMERS = Entity(
    "customers",
    (
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "age",
        "gender",
        "country",
        "city",
        "acquisition_channel",
        "signup_date",
    ),
    ("customer_id",),
    "one row per customer, in the batch of the signup date (the first batch holds the existing base)",
)
PRODUCTS = Entity(
    "products",
    (
        "product_id",
        "product_name",
        "category",
        "subcategory",
        "brand",
        "list_price",
        "unit_cost",
        "launch_date",
    ),
    ("product_id",),
    "one row per product, in the batch of its launch date (the first batch holds the catalog)",
)
CAMPAIGNS = Entity(
    "campaigns",
    (
        "campaign_id",
        "campaign_name",
        "channel",
        "campaign_type",
        "offer",
        "discount_pct",
        "target_countries",
        "start_date",
        "end_date",
    ),
    ("campaign_id",),
    "one row per campaign, in the batch of the day it is announced",
)
CAMPAIGN_EXPOSURE = Entity(
    "campaign_exposure",
    ("customer_id", "campaign_id", "treated", "exposure_date"),
    ("customer_id", "campaign_id"),
    "one row per eligible customer x campaign (treated or control), in the batch of the exposure date",
)
ORDER_ITEMS = Entity(
    "order_items",
    (
        "order_id",
        "line_no",
        "order_ts",
        "customer_id",
        "product_id",
        "campaign_id",
        "quantity",
        "unit_price",
        "discount",
        "revenue",
        "unit_cost",
        "status",
        "delivery_days",
    ),
    ("order_id", "line_no"),
    "one row per order line, in the batch of the order date; status is completed or cancelled",
)
RETURNS = Entity(
    "returns",
    ("order_id", "line_no", "return_date", "reason"),
    ("order_id", "line_no"),
    "one row per returned order line, in the batch of the return date",
)
WEB_EVENTS = Entity(
    "web_events",
    ("event_id", "session_id", "customer_id", "product_id", "event_type", "event_ts"),
    ("event_id",),
    "one row per web event (view, add_to_cart, purchase), in the batch of its date",
)
REVIEWS = Entity(
    "reviews",
    ("review_id", "customer_id", "product_id", "order_id", "rating", "review_date"),
    ("review_id",),
    "one row per product review (1-5 stars), in the batch of the review date",
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

CUSTOMER_AGES = (16, 110)  # the youngest and oldest age a customer row may have (inclusive)
ORDER_STATUSES = ("completed", "cancelled")  # "returned" is set later by a returns row
# A returns row comes at most this many days after its order date: an order line's status is final
# (matured) once its order is this old.
RETURN_WINDOW_DAYS = 30
EVENT_TYPES = ("view", "add_to_cart", "purchase")
CAMPAIGN_TYPES = ("targeted", "regional", "sitewide")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate")

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
    "customer_preference": ("customer_id", "product_id", "true_score", "true_rank"),
    "campaign_effect": (
        "campaign_id",
        "estimand",
        "segment",
        "outcome",
        "window_days",
        "n_customers",
        "true_effect",
    ),
}
GROUND_TRUTH_SUMMARY = "ground_truth.json"
STATE_DIR = "_state"  # the world's state after the last generated day, for incremental mode
