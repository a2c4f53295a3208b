"""A churn model's input features as plain words: "no order for 84 days", "returned 30% of items".

Each phrase states the customer's value of one feature; the churn page lists the features that push
this customer's score up the most (their log-odds contributions), so a phrase says what the model
saw, never a cause it did not.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ecomm.features import columns as C


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _times(value: float, one: str, many: str) -> str:
    if value == 0:
        return f"no {many}"
    return f"{_n(value)} {one if round(value) == 1 else many}"


def _pct(value: float) -> str:
    return f"{value:.0%}"


PHRASES: dict[str, Callable[[float], str]] = {
    C.DAYS_SINCE_LAST_ORDER: lambda v: f"no order for {_n(v)} days",
    C.RECENCY_RATIO: lambda v: f"{v:.1f}× their usual gap between orders since the last one",
    C.MEAN_DAYS_BETWEEN_ORDERS: lambda v: f"usually {_n(v)} days between orders",
    C.TOTAL_ORDERS: lambda v: f"{_times(v, 'order', 'orders')} in all",
    C.TOTAL_SPENT: lambda v: f"${_n(v)} spent in all",
    C.AVG_ORDER_VALUE: lambda v: f"${_n(v)} per order on average",
    C.ORDERS_30D: lambda v: f"{_times(v, 'order', 'orders')} in the last 30 days",
    C.ORDERS_PREV_60D: lambda v: f"{_times(v, 'order', 'orders')} in the 60 days before the last 30",
    C.ORDERS_180D: lambda v: f"{_times(v, 'order', 'orders')} in the last 180 days",
    C.ORDER_TREND: lambda v: (
        "ordering less often than before"
        if v < 0
        else ("ordering as often as before" if v == 0 else "ordering more often than before")
    ),
    C.ORDERS_PER_30D: lambda v: f"{v:.1f} orders a month on average",
    C.ORDER_FREQUENCY: lambda v: f"{v * 30:.1f} orders a month since sign-up",
    C.SPEND_90D: lambda v: f"${_n(v)} spent in the last 90 days",
    C.DAILY_SPEND: lambda v: f"${v * 30:,.0f} spent a month since sign-up",
    C.CUSTOMER_DURATION_DAYS: lambda v: f"customer for {_n(v)} days",
    C.OBSERVED_DAYS: lambda v: f"{_n(v)} days of history",
    C.LINES_PER_ORDER: lambda v: f"{v:.1f} items per order",
    C.CANCELLED_ORDERS: lambda v: f"{_times(v, 'cancelled order', 'cancelled orders')}",
    C.CANCEL_RATE: lambda v: f"cancelled {_pct(v)} of orders",
    C.RETURN_RATE: lambda v: f"returned {_pct(v)} of items",
    C.RETURNS_90D: lambda v: f"{_times(v, 'return', 'returns')} in the last 90 days",
    C.DELIVERED_ORDERS: lambda v: f"{_times(v, 'delivered order', 'delivered orders')}",
    C.LATE_DELIVERY_SHARE: lambda v: f"{_pct(v)} of deliveries late",
    C.AVG_DELIVERY_DAYS: lambda v: f"deliveries took {v:.1f} days on average",
    C.DISCOUNTED_ORDER_SHARE: lambda v: f"{_pct(v)} of orders discounted",
    C.DISCOUNT_SHARE: lambda v: f"discounts were {_pct(v)} of the price paid",
    C.CAMPAIGN_ORDERS: lambda v: f"{_times(v, 'order', 'orders')} from campaigns",
    C.CAMPAIGN_ORDER_SHARE: lambda v: f"{_pct(v)} of orders from campaigns",
    C.SESSIONS_30D: lambda v: f"{_times(v, 'visit', 'visits')} to the shop in the last 30 days",
    C.SESSIONS_90D: lambda v: f"{_times(v, 'visit', 'visits')} to the shop in the last 90 days",
    C.VIEWS_30D: lambda v: f"{_times(v, 'product view', 'product views')} in the last 30 days",
    C.DAYS_SINCE_LAST_SESSION: lambda v: f"no visit to the shop for {_n(v)} days",
    C.SESSIONS_TOTAL: lambda v: f"{_times(v, 'visit', 'visits')} in all",
    C.SESSIONS_PER_30D: lambda v: f"{v:.1f} visits a month on average",
    C.SESSION_RECENCY_RATIO: lambda v: f"{v:.1f}× their usual gap between visits since the last one",
    C.CART_SESSIONS_90D: lambda v: f"{_times(v, 'visit', 'visits')} with a cart in the last 90 days",
    C.CART_ABANDONMENT_RATE: lambda v: f"left {_pct(v)} of carts without buying (90 days)",
    C.REVIEWS: lambda v: f"{_times(v, 'review', 'reviews')} written",
    C.REVIEW_RATE: lambda v: f"reviewed {_pct(v)} of orders",
    C.AVG_RATING: lambda v: f"average review {v:.1f} stars",
    C.LOW_RATING_SHARE: lambda v: f"{_pct(v)} of reviews 1–2 stars",
    C.CAMPAIGNS_ELIGIBLE: lambda v: f"eligible for {_times(v, 'campaign', 'campaigns')}",
    C.CAMPAIGNS_TREATED: lambda v: f"reached by {_times(v, 'campaign', 'campaigns')}",
    C.DAYS_SINCE_CAMPAIGN: lambda v: f"last reached by a campaign {_n(v)} days ago",
    C.CATEGORY_COUNT: lambda v: f"bought in {_times(v, 'category', 'categories')}",
    C.TOP_CATEGORY_SHARE: lambda v: f"{_pct(v)} of items from one category",
    C.AGE: lambda v: f"aged {_n(v)}",
}
# What a missing value means, where the feature builder leaves one.
MISSING = {
    C.DAYS_SINCE_LAST_ORDER: "no order yet",
    C.DAYS_SINCE_LAST_SESSION: "never visited the shop",
    C.DAYS_SINCE_CAMPAIGN: "never reached by a campaign",
    C.AVG_RATING: "no review written",
    C.LOW_RATING_SHARE: "no review written",
    C.MEAN_DAYS_BETWEEN_ORDERS: "fewer than two orders",
    C.AVG_DELIVERY_DAYS: "no delivery yet",
    C.LATE_DELIVERY_SHARE: "no delivery yet",
}
CATEGORICAL = {C.COUNTRY: "lives in {}", C.GENDER: "gender {}", C.ACQUISITION_CHANNEL: "came through {}"}


def phrase(feature: str, value, categories: dict[str, str] | None = None) -> str:
    """Plain words for one feature's value. `categories`: share column -> category name."""
    if feature in CATEGORICAL:
        return CATEGORICAL[feature].format(value if isinstance(value, str) and value else "unknown")
    missing = value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "<NA>"
    if missing:
        return MISSING.get(feature, f"{feature.replace('_', ' ')} unknown")
    value = float(value)
    if feature.startswith(C.CATEGORY_SHARE_PREFIX):
        name = (categories or {}).get(
            feature, feature.removeprefix(C.CATEGORY_SHARE_PREFIX).replace("_", " ")
        )
        return f"{_pct(value)} of items from {name}"
    if feature in PHRASES:
        return PHRASES[feature](value)
    return f"{feature.replace('_', ' ')} {value:,.2f}"
