"""Column names of the feature and label frames: the one place they are spelled.

The churn feature frame holds the seed API's nine feature fields (docs/architecture.md#rest-api) with the same names and
definitions, so a model trained on exactly ``API_FIELDS`` can score a ``POST /predict/churn`` body.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------ keys
CUSTOMER_ID = "customer_id"
PRODUCT_ID = "product_id"
CUTOFF = "cutoff_date"
LABEL = "churned"  # 1 = no completed order in the horizon after the cutoff

# ----------------------------------------------------------------------- the seed API's fields
# (user_id is the request's key; it is never a feature)
API_USER_ID = "user_id"
AGE = "age"
COUNTRY = "country"
TOTAL_ORDERS = "total_orders"  # completed (not cancelled) orders before the cutoff
TOTAL_SPENT = "total_spent"  # revenue of those orders' lines, less lines returned before the cutoff
DAYS_SINCE_LAST_ORDER = "days_since_last_order"
AVG_ORDER_VALUE = "avg_order_value"  # total_spent / total_orders
CUSTOMER_DURATION_DAYS = "customer_duration_days"  # cutoff - signup date
ORDER_FREQUENCY = "order_frequency"  # total_orders / customer_duration_days (orders per day)
DAILY_SPEND = "daily_spend"  # total_spent / customer_duration_days

API_FIELDS: tuple[str, ...] = (
    AGE,
    COUNTRY,
    TOTAL_ORDERS,
    TOTAL_SPENT,
    DAYS_SINCE_LAST_ORDER,
    AVG_ORDER_VALUE,
    CUSTOMER_DURATION_DAYS,
    ORDER_FREQUENCY,
    DAILY_SPEND,
)

# ----------------------------------------------------------------------- the rest of the features
GENDER = "gender"
ACQUISITION_CHANNEL = "acquisition_channel"
OBSERVED_DAYS = "observed_days"  # days of the customer's life the warehouse holds before the cutoff
ORDERS_PER_30D = "orders_per_30d"  # total_orders per 30 observed days
RECENCY_RATIO = "recency_ratio"  # days since last order x observed order rate (1 = one usual gap)
MEAN_DAYS_BETWEEN_ORDERS = "mean_days_between_orders"
ORDERS_30D = "orders_30d"
ORDERS_PREV_60D = "orders_prev_60d"  # days 31..90 before the cutoff
ORDER_TREND = "order_trend"  # orders_30d - orders_prev_60d / 2: last month vs the two before
ORDERS_180D = "orders_180d"
SPEND_90D = "spend_90d"
LINES_PER_ORDER = "lines_per_order"
CANCELLED_ORDERS = "cancelled_orders"
RETURN_RATE = "return_rate"  # lines returned before the cutoff / completed lines
RETURNS_90D = "returns_90d"
DELIVERED_ORDERS = "delivered_orders"  # completed orders delivered before the cutoff
LATE_DELIVERY_SHARE = "late_delivery_share"  # of those, share delivered in >= LATE_DELIVERY_DAYS
AVG_DELIVERY_DAYS = "avg_delivery_days"
DISCOUNTED_ORDER_SHARE = "discounted_order_share"
DISCOUNT_SHARE = "discount_share"  # discount / gross value of completed lines
CAMPAIGN_ORDERS = "campaign_orders"
CAMPAIGN_ORDER_SHARE = "campaign_order_share"  # campaign_orders / total_orders
CANCEL_RATE = "cancel_rate"  # cancelled orders / all orders
SESSIONS_30D = "sessions_30d"
SESSIONS_90D = "sessions_90d"
VIEWS_30D = "views_30d"
DAYS_SINCE_LAST_SESSION = "days_since_last_session"
SESSIONS_TOTAL = "sessions_total"
SESSIONS_PER_30D = "sessions_per_30d"  # sessions_total per 30 observed days
SESSION_RECENCY_RATIO = "session_recency_ratio"  # days since last session x observed session rate
CART_SESSIONS_90D = "cart_sessions_90d"
CART_ABANDONMENT_RATE = "cart_abandonment_rate"  # cart sessions without a purchase / cart sessions, 90d
REVIEWS = "reviews"
REVIEW_RATE = "review_rate"  # reviews / total_orders
AVG_RATING = "avg_rating"
LOW_RATING_SHARE = "low_rating_share"  # 1-2 star reviews / reviews
CAMPAIGNS_ELIGIBLE = "campaigns_eligible"
CAMPAIGNS_TREATED = "campaigns_treated"
DAYS_SINCE_CAMPAIGN = "days_since_campaign"  # since the last treated exposure
CATEGORY_COUNT = "category_count"  # distinct categories bought
TOP_CATEGORY_SHARE = "top_category_share"
CATEGORY_SHARE_PREFIX = "cat_share_"  # + slug of the category: share of completed lines

LATE_DELIVERY_DAYS = 6  # the shop's delivery promise is 5 days; later is late

CATEGORICAL_FEATURES: tuple[str, ...] = (COUNTRY, GENDER, ACQUISITION_CHANNEL)
# Whole numbers in the API body (docs/architecture.md#rest-api): int64 in frames, "long" in the model signature. The rest
# of the numeric features are float64 ("double").
INTEGER_FEATURES: tuple[str, ...] = (AGE, TOTAL_ORDERS, DAYS_SINCE_LAST_ORDER, CUSTOMER_DURATION_DAYS)

# Numeric features of the SQL builder, in output order (category shares are appended per catalog).
NUMERIC_FEATURES: tuple[str, ...] = (
    AGE,
    TOTAL_ORDERS,
    TOTAL_SPENT,
    DAYS_SINCE_LAST_ORDER,
    AVG_ORDER_VALUE,
    CUSTOMER_DURATION_DAYS,
    ORDER_FREQUENCY,
    DAILY_SPEND,
    OBSERVED_DAYS,
    ORDERS_PER_30D,
    RECENCY_RATIO,
    MEAN_DAYS_BETWEEN_ORDERS,
    ORDERS_30D,
    ORDERS_PREV_60D,
    ORDER_TREND,
    ORDERS_180D,
    SPEND_90D,
    LINES_PER_ORDER,
    CANCELLED_ORDERS,
    CANCEL_RATE,
    RETURN_RATE,
    RETURNS_90D,
    DELIVERED_ORDERS,
    LATE_DELIVERY_SHARE,
    AVG_DELIVERY_DAYS,
    DISCOUNTED_ORDER_SHARE,
    DISCOUNT_SHARE,
    CAMPAIGN_ORDERS,
    CAMPAIGN_ORDER_SHARE,
    SESSIONS_30D,
    SESSIONS_90D,
    VIEWS_30D,
    DAYS_SINCE_LAST_SESSION,
    SESSIONS_TOTAL,
    SESSIONS_PER_30D,
    SESSION_RECENCY_RATIO,
    CART_SESSIONS_90D,
    CART_ABANDONMENT_RATE,
    REVIEWS,
    REVIEW_RATE,
    AVG_RATING,
    LOW_RATING_SHARE,
    CAMPAIGNS_ELIGIBLE,
    CAMPAIGNS_TREATED,
    DAYS_SINCE_CAMPAIGN,
    CATEGORY_COUNT,
    TOP_CATEGORY_SHARE,
)

# Counts and amounts accumulated over the whole history before the cutoff. Their scale depends on
# how much history the warehouse holds (it grows cutoff by cutoff, and customers who signed up before
# the first loaded day have an unobserved past), so a model trained on earlier cutoffs would read
# them wrongly at a later one: the full model uses windowed counts, rates and shares instead.
# The API head keeps the API fields among them (total_orders, total_spent, order_frequency,
# daily_spend): it is trained on all nine fields of the seed API's body, its contract.
CUMULATIVE_FEATURES: tuple[str, ...] = (
    TOTAL_ORDERS,
    TOTAL_SPENT,
    ORDER_FREQUENCY,
    DAILY_SPEND,
    OBSERVED_DAYS,
    DELIVERED_ORDERS,
    CANCELLED_ORDERS,
    CAMPAIGN_ORDERS,
    SESSIONS_TOTAL,
    REVIEWS,
    CATEGORY_COUNT,
)

# Heavy-tailed non-negative features: log1p before scaling in linear models.
SKEWED_FEATURES: tuple[str, ...] = (
    TOTAL_ORDERS,
    TOTAL_SPENT,
    DAYS_SINCE_LAST_ORDER,
    AVG_ORDER_VALUE,
    CUSTOMER_DURATION_DAYS,
    ORDER_FREQUENCY,
    DAILY_SPEND,
    OBSERVED_DAYS,
    ORDERS_PER_30D,
    RECENCY_RATIO,
    MEAN_DAYS_BETWEEN_ORDERS,
    ORDERS_30D,
    ORDERS_PREV_60D,
    ORDERS_180D,
    SPEND_90D,
    CANCELLED_ORDERS,
    RETURNS_90D,
    DELIVERED_ORDERS,
    CAMPAIGN_ORDERS,
    SESSIONS_30D,
    SESSIONS_90D,
    VIEWS_30D,
    DAYS_SINCE_LAST_SESSION,
    SESSIONS_TOTAL,
    SESSIONS_PER_30D,
    SESSION_RECENCY_RATIO,
    CART_SESSIONS_90D,
    REVIEWS,
    DAYS_SINCE_CAMPAIGN,
)

# ----------------------------------------------------------------------- recommender frames
EVENT_TYPE = "event_type"
WEIGHT = "weight"
CATEGORY = "category"
RATING = "rating"
LAUNCH_DATE = "launch_date"
EVENT_DATE = "event_date"


def category_slug(category: str) -> str:
    """'Home & Kitchen' -> 'home_kitchen' (a column-name-safe slug)."""
    out = "".join(ch if ch.isalnum() else "_" for ch in category.lower())
    return "_".join(part for part in out.split("_") if part)


def category_share_column(category: str) -> str:
    return CATEGORY_SHARE_PREFIX + category_slug(category)
