-- Point-in-time churn features of every customer who signed up before %(cutoff)s.
-- Reads only rows dated strictly before the cutoff, and facts that become known later count only
-- once known before it: a line is "returned" only if return_date < cutoff, an order "delivered"
-- only if order_date + delivery_days < cutoff. (status = 'cancelled' is set at order time.)
-- Windows: [cutoff - N, cutoff). Column names: ecomm.features.columns.
-- %(customer_ids)s: NULL = every customer, or an array restricting every fact read (the API scores one).
-- %(buyers_only)s: only customers with a completed order before the cutoff (warehouse.is_completed_line,
-- the one definition; total_orders also counts orders returned since).
WITH params AS (
    SELECT %(cutoff)s::date AS cutoff
), first_day AS (
    -- the first day the warehouse holds before the cutoff (the cutoff if none): customers older than
    -- that have an unobserved past. Given by the caller (features.churn.churn_features).
    SELECT %(first_day)s::date AS day
), customers AS (
    -- an imported log's unknown country or channel is a category of its own, as its unknown gender
    SELECT c.customer_id, c.age, coalesce(c.country, 'unknown') AS country,
           coalesce(c.gender, 'unknown') AS gender,
           coalesce(c.acquisition_channel, 'unknown') AS acquisition_channel, c.signup_date
    FROM warehouse.dim_customer c, params p
    WHERE c.signup_date < p.cutoff AND (%(customer_ids)s::bigint[] IS NULL OR c.customer_id = ANY(%(customer_ids)s::bigint[]))
), lines AS (
    SELECT f.customer_id, f.order_id, f.order_date, f.campaign_id, f.quantity, f.unit_price,
           f.discount, f.revenue, f.delivery_days, f.return_date,
           f.status = 'cancelled' AS cancelled,
           f.return_date IS NOT NULL AND f.return_date < p.cutoff AS returned,
           warehouse.is_completed_line(f.status, f.return_date, p.cutoff) AS completed,
           f.delivery_days IS NOT NULL AND f.order_date + f.delivery_days < p.cutoff AS delivered
    FROM warehouse.fact_order_items f, params p
    WHERE f.order_date < p.cutoff AND (%(customer_ids)s::bigint[] IS NULL OR f.customer_id = ANY(%(customer_ids)s::bigint[]))
), orders AS (
    SELECT customer_id, order_id,
           min(order_date) AS order_date,
           bool_and(cancelled) AS cancelled,
           bool_or(completed) AS completed,
           coalesce(sum(revenue) FILTER (WHERE NOT returned), 0) AS net_revenue,
           sum(discount) > 0 AS discounted,
           count(*) AS n_lines,
           max(delivery_days) AS delivery_days,
           bool_or(delivered) AS delivered,
           bool_or(campaign_id IS NOT NULL) AS via_campaign
    FROM lines
    GROUP BY customer_id, order_id
), order_stats AS (
    SELECT o.customer_id,
           count(*) FILTER (WHERE NOT cancelled)                                          AS total_orders,
           count(*) FILTER (WHERE cancelled)                                              AS cancelled_orders,
           count(*) FILTER (WHERE completed)                                              AS completed_orders,
           coalesce(sum(net_revenue) FILTER (WHERE NOT cancelled), 0)                     AS total_spent,
           max(order_date) FILTER (WHERE NOT cancelled)                                   AS last_order_date,
           min(order_date) FILTER (WHERE NOT cancelled)                                   AS first_order_date,
           count(*) FILTER (WHERE NOT cancelled AND order_date >= p.cutoff - 30)          AS orders_30d,
           count(*) FILTER (WHERE NOT cancelled AND order_date >= p.cutoff - 90
                                                AND order_date < p.cutoff - 30)           AS orders_prev_60d,
           count(*) FILTER (WHERE NOT cancelled AND order_date >= p.cutoff - 180)         AS orders_180d,
           coalesce(sum(net_revenue) FILTER (WHERE NOT cancelled
                                             AND order_date >= p.cutoff - 90), 0)         AS spend_90d,
           avg(n_lines) FILTER (WHERE NOT cancelled)                                      AS lines_per_order,
           avg(discounted::int) FILTER (WHERE NOT cancelled)                              AS discounted_order_share,
           count(*) FILTER (WHERE NOT cancelled AND delivered)                            AS delivered_orders,
           avg((delivery_days >= %(late_days)s)::int) FILTER (WHERE NOT cancelled AND delivered)
                                                                                          AS late_delivery_share,
           avg(delivery_days) FILTER (WHERE NOT cancelled AND delivered)                  AS avg_delivery_days,
           count(*) FILTER (WHERE NOT cancelled AND via_campaign)                         AS campaign_orders
    FROM orders o, params p
    GROUP BY o.customer_id
), line_stats AS (
    SELECT l.customer_id,
           count(*) FILTER (WHERE NOT cancelled)                                          AS completed_lines,
           count(*) FILTER (WHERE returned)                                               AS returned_lines,
           count(*) FILTER (WHERE returned AND return_date >= p.cutoff - 90)              AS returns_90d,
           sum(discount) FILTER (WHERE NOT cancelled)
               / nullif(sum(quantity * unit_price) FILTER (WHERE NOT cancelled), 0)       AS discount_share
    FROM lines l, params p
    GROUP BY l.customer_id
), sessions AS (
    SELECT e.customer_id, e.session_id,
           min(e.event_date) AS session_date,
           count(*) FILTER (WHERE e.event_type = 'view') AS views,
           bool_or(e.event_type = 'add_to_cart') AS carted,
           bool_or(e.event_type = 'purchase') AS purchased
    FROM warehouse.fact_web_events e, params p
    WHERE e.event_date < p.cutoff AND (%(customer_ids)s::bigint[] IS NULL OR e.customer_id = ANY(%(customer_ids)s::bigint[]))
    GROUP BY e.customer_id, e.session_id
), session_stats AS (
    SELECT s.customer_id,
           max(session_date)                                                              AS last_session_date,
           count(*)                                                                       AS sessions_total,
           count(*) FILTER (WHERE session_date >= p.cutoff - 30)                          AS sessions_30d,
           count(*) FILTER (WHERE session_date >= p.cutoff - 90)                          AS sessions_90d,
           coalesce(sum(views) FILTER (WHERE session_date >= p.cutoff - 30), 0)           AS views_30d,
           count(*) FILTER (WHERE carted AND session_date >= p.cutoff - 90)               AS cart_sessions_90d,
           count(*) FILTER (WHERE carted AND NOT purchased AND session_date >= p.cutoff - 90)
                                                                                          AS abandoned_90d
    FROM sessions s, params p
    GROUP BY s.customer_id
), review_stats AS (
    SELECT r.customer_id,
           count(*)                       AS reviews,
           avg(r.rating)                  AS avg_rating,
           avg((r.rating <= 2)::int)      AS low_rating_share
    FROM warehouse.fact_reviews r, params p
    WHERE r.review_date < p.cutoff AND (%(customer_ids)s::bigint[] IS NULL OR r.customer_id = ANY(%(customer_ids)s::bigint[]))
    GROUP BY r.customer_id
), campaign_stats AS (
    SELECT x.customer_id,
           count(*)                                           AS campaigns_eligible,
           count(*) FILTER (WHERE x.treated)                  AS campaigns_treated,
           max(x.exposure_date) FILTER (WHERE x.treated)      AS last_treated_date
    FROM warehouse.fact_campaign_exposure x, params p
    WHERE x.exposure_date < p.cutoff AND (%(customer_ids)s::bigint[] IS NULL OR x.customer_id = ANY(%(customer_ids)s::bigint[]))
    GROUP BY x.customer_id
), category_counts AS (
    SELECT f.customer_id, d.category, count(*) AS n
    FROM warehouse.fact_order_items f
    JOIN warehouse.dim_product d USING (product_id)
    CROSS JOIN params p
    WHERE f.order_date < p.cutoff AND f.status <> 'cancelled'
      AND (%(customer_ids)s::bigint[] IS NULL OR f.customer_id = ANY(%(customer_ids)s::bigint[]))
    GROUP BY f.customer_id, d.category
), category_lines AS (
    SELECT customer_id, sum(n) AS lines, count(*) AS categories, max(n) AS top_lines
    FROM category_counts
    GROUP BY customer_id
), base AS (
    SELECT c.customer_id, p.cutoff, c.age, c.country, c.gender, c.acquisition_channel,
           coalesce(o.total_orders, 0)                         AS total_orders,
           coalesce(o.completed_orders, 0)                     AS completed_orders,
           coalesce(o.total_spent, 0)                          AS total_spent,
           p.cutoff - o.last_order_date                        AS days_since_last_order,
           o.total_spent / nullif(o.total_orders, 0)           AS avg_order_value,
           p.cutoff - c.signup_date                            AS customer_duration_days,
           p.cutoff - greatest(c.signup_date, fd.day)          AS observed_days,
           (o.last_order_date - o.first_order_date)::numeric / nullif(o.total_orders - 1, 0)
                                                               AS mean_days_between_orders,
           coalesce(o.orders_30d, 0)                           AS orders_30d,
           coalesce(o.orders_prev_60d, 0)                      AS orders_prev_60d,
           coalesce(o.orders_180d, 0)                          AS orders_180d,
           coalesce(o.spend_90d, 0)                            AS spend_90d,
           o.lines_per_order,
           coalesce(o.cancelled_orders, 0)                     AS cancelled_orders,
           ls.returned_lines::numeric / nullif(ls.completed_lines, 0) AS return_rate,
           coalesce(ls.returns_90d, 0)                         AS returns_90d,
           coalesce(o.delivered_orders, 0)                     AS delivered_orders,
           o.late_delivery_share,
           o.avg_delivery_days,
           o.discounted_order_share,
           ls.discount_share,
           coalesce(o.campaign_orders, 0)                      AS campaign_orders,
           coalesce(s.sessions_30d, 0)                         AS sessions_30d,
           coalesce(s.sessions_90d, 0)                         AS sessions_90d,
           coalesce(s.views_30d, 0)                            AS views_30d,
           p.cutoff - s.last_session_date                      AS days_since_last_session,
           coalesce(s.sessions_total, 0)                       AS sessions_total,
           coalesce(s.cart_sessions_90d, 0)                    AS cart_sessions_90d,
           s.abandoned_90d::numeric / nullif(s.cart_sessions_90d, 0) AS cart_abandonment_rate,
           coalesce(r.reviews, 0)                              AS reviews,
           r.avg_rating,
           r.low_rating_share,
           coalesce(x.campaigns_eligible, 0)                   AS campaigns_eligible,
           coalesce(x.campaigns_treated, 0)                    AS campaigns_treated,
           p.cutoff - x.last_treated_date                      AS days_since_campaign,
           coalesce(cl.categories, 0)                          AS category_count,
           cl.top_lines::numeric / nullif(cl.lines, 0)         AS top_category_share
    FROM customers c
    CROSS JOIN params p
    CROSS JOIN first_day fd
    LEFT JOIN order_stats o USING (customer_id)
    LEFT JOIN line_stats ls USING (customer_id)
    LEFT JOIN session_stats s USING (customer_id)
    LEFT JOIN review_stats r USING (customer_id)
    LEFT JOIN campaign_stats x USING (customer_id)
    LEFT JOIN category_lines cl USING (customer_id)
)
SELECT customer_id,
       cutoff                                                          AS cutoff_date,
       age::bigint                                                     AS age,
       country, gender, acquisition_channel,
       total_orders::bigint                                            AS total_orders,
       total_spent::float8                                             AS total_spent,
       days_since_last_order::bigint                                   AS days_since_last_order,
       avg_order_value::float8                                         AS avg_order_value,
       customer_duration_days::bigint                                  AS customer_duration_days,
       (total_orders::numeric / greatest(customer_duration_days, 1))::float8 AS order_frequency,
       (total_spent / greatest(customer_duration_days, 1))::float8     AS daily_spend,
       observed_days::float8                                           AS observed_days,
       (total_orders * 30.0 / greatest(observed_days, 1))::float8      AS orders_per_30d,
       (days_since_last_order * total_orders::numeric / greatest(observed_days, 1))::float8 AS recency_ratio,
       mean_days_between_orders::float8                                AS mean_days_between_orders,
       orders_30d::float8                                              AS orders_30d,
       orders_prev_60d::float8                                         AS orders_prev_60d,
       (orders_30d - orders_prev_60d / 2.0)::float8                    AS order_trend,
       orders_180d::float8                                             AS orders_180d,
       spend_90d::float8                                               AS spend_90d,
       lines_per_order::float8                                         AS lines_per_order,
       cancelled_orders::float8                                        AS cancelled_orders,
       (cancelled_orders::numeric / nullif(total_orders + cancelled_orders, 0))::float8 AS cancel_rate,
       return_rate::float8                                             AS return_rate,
       returns_90d::float8                                             AS returns_90d,
       delivered_orders::float8                                        AS delivered_orders,
       late_delivery_share::float8                                     AS late_delivery_share,
       avg_delivery_days::float8                                       AS avg_delivery_days,
       discounted_order_share::float8                                  AS discounted_order_share,
       discount_share::float8                                          AS discount_share,
       campaign_orders::float8                                         AS campaign_orders,
       (campaign_orders::numeric / nullif(total_orders, 0))::float8    AS campaign_order_share,
       sessions_30d::float8                                            AS sessions_30d,
       sessions_90d::float8                                            AS sessions_90d,
       views_30d::float8                                               AS views_30d,
       days_since_last_session::float8                                 AS days_since_last_session,
       sessions_total::float8                                          AS sessions_total,
       (sessions_total * 30.0 / greatest(observed_days, 1))::float8    AS sessions_per_30d,
       (days_since_last_session * sessions_total::numeric / greatest(observed_days, 1))::float8
                                                                       AS session_recency_ratio,
       cart_sessions_90d::float8                                       AS cart_sessions_90d,
       cart_abandonment_rate::float8                                   AS cart_abandonment_rate,
       reviews::float8                                                 AS reviews,
       (reviews::numeric / nullif(total_orders, 0))::float8            AS review_rate,
       avg_rating::float8                                              AS avg_rating,
       low_rating_share::float8                                        AS low_rating_share,
       campaigns_eligible::float8                                      AS campaigns_eligible,
       campaigns_treated::float8                                       AS campaigns_treated,
       days_since_campaign::float8                                     AS days_since_campaign,
       category_count::float8                                          AS category_count,
       top_category_share::float8                                      AS top_category_share
FROM base
WHERE NOT %(buyers_only)s OR completed_orders > 0  -- the churn population: customers who bought
ORDER BY customer_id
