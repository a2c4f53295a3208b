-- Point-in-time behavioural features for segmentation, one row per customer active before %(as_of)s
-- (signed up before it, with a non-cancelled order or a web session before it).
-- Reads only rows dated strictly before the as-of date; a line counts as returned only if its
-- return_date < as_of (the same rule as churn_features.sql). Every column is a number and never NULL
-- (K-Means takes no missing values): a customer without orders has 0 for order-based rates and
-- shares, and the recency of a customer who never ordered is the tenure.
-- Time of day and weekend shares come from order timestamps and session starts together: both are
-- the customer's shopping habits, and a window shopper has sessions but no orders.
WITH params AS (
    SELECT %(as_of)s::date AS as_of
), customers AS (
    SELECT c.customer_id, c.signup_date
    FROM warehouse.dim_customer c, params p
    WHERE c.signup_date < p.as_of
), lines AS (
    SELECT f.customer_id, f.order_id, f.product_id, f.order_date, f.order_ts, f.campaign_id, f.quantity,
           f.unit_price,
           f.discount, f.revenue,
           f.status = 'cancelled' AS cancelled,
           f.return_date IS NOT NULL AND f.return_date < p.as_of AS returned
    FROM warehouse.fact_order_items f, params p
    WHERE f.order_date < p.as_of
), orders AS (
    SELECT customer_id, order_id,
           min(order_date) AS order_date,
           min(order_ts) AS order_ts,
           bool_and(cancelled) AS cancelled,
           coalesce(sum(revenue) FILTER (WHERE NOT returned AND NOT cancelled), 0) AS net_revenue,
           sum(quantity) FILTER (WHERE NOT cancelled) AS items,
           count(*) FILTER (WHERE NOT cancelled) AS n_lines,
           coalesce(sum(discount) FILTER (WHERE NOT cancelled), 0) > 0 AS discounted,
           bool_or(campaign_id IS NOT NULL) AS via_campaign
    FROM lines
    GROUP BY customer_id, order_id
), order_stats AS (
    SELECT customer_id,
           count(*) FILTER (WHERE NOT cancelled)                      AS orders,
           count(*) FILTER (WHERE cancelled)                          AS cancelled_orders,
           coalesce(sum(net_revenue) FILTER (WHERE NOT cancelled), 0) AS spent,
           max(order_date) FILTER (WHERE NOT cancelled)               AS last_order_date,
           avg(items) FILTER (WHERE NOT cancelled)                    AS items_per_order,
           avg(n_lines) FILTER (WHERE NOT cancelled)                  AS lines_per_order,
           avg(discounted::int) FILTER (WHERE NOT cancelled)          AS discounted_order_share,
           avg(via_campaign::int) FILTER (WHERE NOT cancelled)        AS campaign_order_share
    FROM orders
    GROUP BY customer_id
), line_stats AS (
    SELECT customer_id,
           count(*) FILTER (WHERE returned)::numeric / nullif(count(*) FILTER (WHERE NOT cancelled), 0)
                                                                       AS return_rate,
           sum(discount) FILTER (WHERE NOT cancelled)
               / nullif(sum(quantity * unit_price) FILTER (WHERE NOT cancelled), 0) AS discount_share,
           sum(quantity * unit_price) FILTER (WHERE NOT cancelled)
               / nullif(sum(quantity) FILTER (WHERE NOT cancelled), 0)  AS avg_unit_price
    FROM lines
    GROUP BY customer_id
), sessions AS (
    SELECT e.customer_id, e.session_id,
           min(e.event_ts) AS started,
           count(*) FILTER (WHERE e.event_type = 'view') AS views,
           bool_or(e.event_type = 'add_to_cart') AS carted,
           bool_or(e.event_type = 'purchase') AS purchased
    FROM warehouse.fact_web_events e, params p
    WHERE e.event_date < p.as_of
    GROUP BY e.customer_id, e.session_id
), session_stats AS (
    SELECT customer_id,
           count(*)                                       AS sessions,
           sum(views)                                     AS views,
           max(started)::date                             AS last_session_date,
           count(*) FILTER (WHERE carted)                 AS cart_sessions,
           count(*) FILTER (WHERE carted AND NOT purchased) AS abandoned
    FROM sessions
    GROUP BY customer_id
), moments AS (
    -- when the customer shops: every non-cancelled order and every session start
    SELECT customer_id, order_ts AS ts FROM orders WHERE NOT cancelled
    UNION ALL
    SELECT customer_id, started FROM sessions
), moment_stats AS (
    SELECT customer_id,
           avg((extract(hour FROM ts) < 6)::int)                               AS night_share,
           avg((extract(hour FROM ts) >= 6 AND extract(hour FROM ts) < 12)::int)  AS morning_share,
           avg((extract(hour FROM ts) >= 12 AND extract(hour FROM ts) < 18)::int) AS afternoon_share,
           avg((extract(hour FROM ts) >= 18)::int)                             AS evening_share,
           avg((extract(isodow FROM ts) >= 6)::int)                            AS weekend_share
    FROM moments
    GROUP BY customer_id
), review_stats AS (
    SELECT r.customer_id, count(*) AS reviews, avg(r.rating) AS avg_rating
    FROM warehouse.fact_reviews r, params p
    WHERE r.review_date < p.as_of
    GROUP BY r.customer_id
), category_counts AS (
    SELECT l.customer_id, d.category, count(*) AS n
    FROM lines l JOIN warehouse.dim_product d USING (product_id)
    WHERE NOT l.cancelled
    GROUP BY l.customer_id, d.category
), category_stats AS (
    SELECT customer_id, count(*) AS categories, max(n)::numeric / sum(n) AS top_category_share
    FROM category_counts
    GROUP BY customer_id
)
SELECT c.customer_id,
       p.as_of                                                                        AS as_of_date,
       coalesce(p.as_of - o.last_order_date, p.as_of - c.signup_date)::float8         AS recency_days,
       coalesce(o.orders, 0)::float8                                                  AS orders,
       (coalesce(o.orders, 0) * 30.0 / greatest(p.as_of - c.signup_date, 1))::float8  AS orders_per_30d,
       coalesce(o.spent, 0)::float8                                                   AS monetary,
       coalesce(o.spent / nullif(o.orders, 0), 0)::float8                             AS avg_order_value,
       coalesce(o.items_per_order, 0)::float8                                         AS items_per_order,
       coalesce(o.lines_per_order, 0)::float8                                         AS lines_per_order,
       coalesce(ls.avg_unit_price, 0)::float8                                         AS avg_unit_price,
       coalesce(ls.discount_share, 0)::float8                                         AS discount_share,
       coalesce(o.discounted_order_share, 0)::float8                                  AS discounted_order_share,
       coalesce(o.campaign_order_share, 0)::float8                                    AS campaign_order_share,
       coalesce(ls.return_rate, 0)::float8                                            AS return_rate,
       (coalesce(o.cancelled_orders, 0)::numeric
           / greatest(coalesce(o.orders, 0) + coalesce(o.cancelled_orders, 0), 1))::float8 AS cancel_rate,
       (coalesce(s.sessions, 0) * 30.0 / greatest(p.as_of - c.signup_date, 1))::float8 AS sessions_per_30d,
       (coalesce(s.views, 0)::numeric / greatest(coalesce(s.sessions, 0), 1))::float8 AS views_per_session,
       (coalesce(s.sessions, 0)::numeric / greatest(coalesce(o.orders, 0), 1))::float8 AS sessions_per_order,
       (coalesce(s.views, 0)::numeric / greatest(coalesce(o.orders, 0), 1))::float8   AS views_per_order,
       coalesce(s.abandoned::numeric / nullif(s.cart_sessions, 0), 0)::float8         AS cart_abandonment_rate,
       coalesce(p.as_of - s.last_session_date, p.as_of - c.signup_date)::float8       AS days_since_last_session,
       coalesce(m.night_share, 0)::float8                                             AS night_share,
       coalesce(m.morning_share, 0)::float8                                           AS morning_share,
       coalesce(m.afternoon_share, 0)::float8                                         AS afternoon_share,
       coalesce(m.evening_share, 0)::float8                                           AS evening_share,
       coalesce(m.weekend_share, 0)::float8                                           AS weekend_share,
       (p.as_of - c.signup_date)::float8                                              AS tenure_days,
       (coalesce(r.reviews, 0)::numeric / greatest(coalesce(o.orders, 0), 1))::float8 AS reviews_per_order,
       coalesce(r.avg_rating, 0)::float8                                              AS avg_rating,
       coalesce(cs.categories, 0)::float8                                             AS category_count,
       coalesce(cs.top_category_share, 0)::float8                                     AS top_category_share
FROM customers c
CROSS JOIN params p
LEFT JOIN order_stats o USING (customer_id)
LEFT JOIN line_stats ls USING (customer_id)
LEFT JOIN session_stats s USING (customer_id)
LEFT JOIN moment_stats m USING (customer_id)
LEFT JOIN review_stats r USING (customer_id)
LEFT JOIN category_stats cs USING (customer_id)
WHERE coalesce(o.orders, 0) > 0 OR coalesce(s.sessions, 0) > 0
ORDER BY c.customer_id
