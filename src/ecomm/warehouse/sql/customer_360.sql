-- marts.customer_360: one row per customer, RFM among the customers with a completed order
-- (completed_orders.sql: the one definition); the others are "no purchase yet".

CREATE MATERIALIZED VIEW marts.customer_360 AS
WITH as_of AS (
    SELECT coalesce(max(order_date), current_date) AS as_of_date FROM warehouse.fact_order_items
), orders AS (
    SELECT customer_id,
           count(DISTINCT order_id) FILTER (WHERE status <> 'cancelled')           AS orders,
           count(DISTINCT order_id) FILTER (WHERE warehouse.is_completed_line(status, return_date))
                                                                                   AS completed_orders,
           coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)           AS net_revenue,
           min(order_date) FILTER (WHERE status <> 'cancelled')                    AS first_order_date,
           max(order_date) FILTER (WHERE warehouse.is_completed_line(status, return_date))
                                                                                   AS last_completed_order_date,
           count(*) FILTER (WHERE status = 'returned')::numeric
               / nullif(count(*) FILTER (WHERE status <> 'cancelled'), 0)          AS return_rate,
           sum(discount) / nullif(sum(quantity * unit_price), 0)                  AS discount_share
    FROM warehouse.fact_order_items
    GROUP BY customer_id
), reviews AS (
    SELECT customer_id, count(*) AS reviews, avg(rating)::numeric(4, 2) AS avg_rating
    FROM warehouse.fact_reviews GROUP BY customer_id
), base AS (
    SELECT c.customer_id, c.country, c.city, c.age, c.gender, c.acquisition_channel, c.signup_date,
           a.as_of_date,
           coalesce(o.orders, 0) AS orders,
           coalesce(o.completed_orders, 0) AS completed_orders,
           coalesce(o.net_revenue, 0) AS net_revenue,
           o.net_revenue / nullif(o.completed_orders, 0) AS avg_order_value,
           o.first_order_date, o.last_completed_order_date,
           a.as_of_date - o.last_completed_order_date AS recency_days,
           a.as_of_date - c.signup_date AS tenure_days,
           o.return_rate, o.discount_share,
           coalesce(r.reviews, 0) AS reviews, r.avg_rating
    FROM warehouse.dim_customer c
    CROSS JOIN as_of a
    LEFT JOIN orders o USING (customer_id)
    LEFT JOIN reviews r USING (customer_id)
), scored AS (
    SELECT b.*,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY recency_days DESC) END AS r_score,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY completed_orders) END AS f_score,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY net_revenue) END AS m_score
    FROM base b
)
SELECT s.*,
       CASE
           WHEN completed_orders = 0 THEN 'no purchase yet'
           WHEN r_score >= 4 AND f_score >= 4 THEN 'champions'
           WHEN r_score >= 3 AND f_score >= 3 THEN 'loyal'
           WHEN r_score >= 4 AND f_score <= 2 THEN 'new or promising'
           WHEN r_score <= 2 AND f_score >= 3 THEN 'at risk'
           WHEN r_score <= 2 AND f_score <= 2 THEN 'hibernating'
           ELSE 'needs attention'
       END AS rfm_segment,
       -- Run-rate value: net revenue per month of tenure x 12. A naive CLV; models come later.
       (net_revenue / greatest((as_of_date - signup_date) / 30.0, 1) * 12)::numeric(14, 2) AS clv_12m_run_rate
FROM scored s;
COMMENT ON MATERIALIZED VIEW marts.customer_360 IS
    'Grain: one row per customer: RFM (as of the latest order date loaded), segment, value, returns, reviews.';
CREATE UNIQUE INDEX customer_360_key ON marts.customer_360 (customer_id);
