"""One customer's purchase features, as POST /predict/purchase takes them (its OpenAPI example): a
buyer of 14 months with 6 completed orders, the last 12 days ago, browsing this week. Category shares
are left out (each counts as 0); every other feature of the purchase model is here, so the example
scores against any champion trained on this shop's feature builder. No value is null: the OpenAPI
document drops null values from examples, and the example would lack that field.
"""

from __future__ import annotations

from ecomm.features import columns as C
from ecomm.features.purchase import SESSION_FEATURES

PURCHASE_FEATURES_EXAMPLE: dict[str, float | int | str | None] = {
    C.COUNTRY: "United States",
    C.GENDER: "female",
    C.ACQUISITION_CHANNEL: "organic",
    C.AGE: 35,
    C.DAYS_SINCE_LAST_ORDER: 12,
    C.AVG_ORDER_VALUE: 58.4,
    C.CUSTOMER_DURATION_DAYS: 420,
    C.ORDERS_PER_30D: 0.43,
    C.RECENCY_RATIO: 0.17,
    C.MEAN_DAYS_BETWEEN_ORDERS: 70.0,
    C.ORDERS_30D: 1,
    C.ORDERS_PREV_60D: 1,
    C.ORDER_TREND: 0.5,
    C.ORDERS_180D: 3,
    C.SPEND_90D: 121.0,
    C.LINES_PER_ORDER: 1.8,
    C.CANCEL_RATE: 0.0,
    C.RETURN_RATE: 0.1,
    C.RETURNS_90D: 0,
    C.LATE_DELIVERY_SHARE: 0.17,
    C.AVG_DELIVERY_DAYS: 4.2,
    C.DISCOUNTED_ORDER_SHARE: 0.33,
    C.DISCOUNT_SHARE: 0.05,
    C.CAMPAIGN_ORDER_SHARE: 0.0,
    C.SESSIONS_30D: 5,
    C.SESSIONS_90D: 11,
    C.VIEWS_30D: 23,
    C.DAYS_SINCE_LAST_SESSION: 2,
    C.SESSIONS_PER_30D: 2.9,
    C.SESSION_RECENCY_RATIO: 0.19,
    C.CART_SESSIONS_90D: 3,
    C.CART_ABANDONMENT_RATE: 0.33,
    C.REVIEW_RATE: 0.33,
    C.AVG_RATING: 4.5,
    C.LOW_RATING_SHARE: 0.0,
    C.CAMPAIGNS_ELIGIBLE: 1,
    C.CAMPAIGNS_TREATED: 1,
    C.DAYS_SINCE_CAMPAIGN: 40,
    C.TOP_CATEGORY_SHARE: 0.5,
    **dict(zip(SESSION_FEATURES, (2, 9, 1, 2), strict=True)),  # sessions, views, carts 7d; carts 30d
}
