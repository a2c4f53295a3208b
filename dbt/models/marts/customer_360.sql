{{ config(
    indexes=[{'columns': ['customer_id'], 'unique': True}],
) }}
-- One row per customer. RFM among the customers with a completed order (warehouse.is_completed_line,
-- completed_orders.sql: the one definition); the others are "no purchase yet". The as-of date and the
-- quintiles are global, so this step is a table over the per-customer sums (O(customers), no lines).

WITH as_of AS (
    SELECT coalesce(max(order_date), current_date) AS as_of_date FROM {{ ref('stg_order_lines') }}
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
           o.returned_lines::numeric / nullif(o.sold_lines, 0) AS return_rate,
           o.discount_sum / nullif(o.list_value_sum, 0) AS discount_share,
           coalesce(r.reviews, 0) AS reviews,
           (r.rating_sum::numeric / nullif(r.reviews, 0))::numeric(4, 2) AS avg_rating
    FROM {{ ref('stg_customers') }} c
    CROSS JOIN as_of a
    LEFT JOIN {{ ref('int_customer_orders') }} o USING (customer_id)
    LEFT JOIN {{ ref('int_customer_reviews') }} r USING (customer_id)
), scored AS (
    -- ties broken by customer_id, so a rebuild gives every customer the same quintile
    SELECT b.*,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY recency_days DESC, customer_id) END AS r_score,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY completed_orders, customer_id) END AS f_score,
           CASE WHEN completed_orders > 0 THEN ntile(5) OVER (
               PARTITION BY completed_orders > 0 ORDER BY net_revenue, customer_id) END AS m_score
    FROM base b
)
SELECT s.*,
       {{ rfm_segment('r_score', 'f_score', 'completed_orders') }} AS rfm_segment,
       -- Run-rate value: net revenue per month of tenure x 12. A naive CLV; models come later.
       {{ clv_12m_run_rate('net_revenue', 'as_of_date', 'signup_date') }} AS clv_12m_run_rate
FROM scored s
