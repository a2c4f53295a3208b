-- One row per customer eligible for a targeted campaign (its fact_campaign_exposure rows, treated
-- or control), with covariates computed point-in-time and the outcome of the campaign window.
--
-- Covariates read only rows dated strictly before the customer's exposure date, and facts that
-- become known later count only once known before it: a line is "returned" only if its
-- return_date < exposure date, an order "delivered" only if order_date + delivery_days < exposure
-- date. (status = 'cancelled' is set at order time; a completed order is any order not cancelled,
-- whether or not a line of it is returned later.)
-- Outcome: completed (not cancelled) orders dated in [exposure date, exposure date + window days),
-- window days = the campaign's end_date - start_date + 1 (the truth's completed_orders_<w>d).
WITH campaign AS (
    SELECT campaign_id, (end_date - start_date + 1) AS window_days
    FROM warehouse.dim_campaign
    WHERE campaign_id = %(campaign_id)s
), eligible AS (
    SELECT x.customer_id, x.treated, x.exposure_date, cp.window_days,
           c.age, c.country, coalesce(c.gender, 'unknown') AS gender, c.acquisition_channel, c.signup_date
    FROM warehouse.fact_campaign_exposure x
    JOIN campaign cp USING (campaign_id)
    JOIN warehouse.dim_customer c USING (customer_id)
), lines_before AS (
    SELECT f.customer_id, f.order_id, f.order_date, f.quantity, f.unit_price, f.discount, f.revenue,
           f.status = 'cancelled' AS cancelled,
           f.return_date IS NOT NULL AND f.return_date < e.exposure_date AS returned,
           f.delivery_days IS NOT NULL AND f.order_date + f.delivery_days < e.exposure_date AS delivered,
           f.delivery_days, e.exposure_date
    FROM warehouse.fact_order_items f
    JOIN eligible e ON e.customer_id = f.customer_id AND f.order_date < e.exposure_date
), orders_before AS (
    SELECT customer_id, order_id,
           min(order_date) AS order_date,
           min(exposure_date) AS exposure_date,
           bool_and(cancelled) AS cancelled,
           sum(revenue) AS revenue,
           sum(discount) > 0 AS discounted,
           bool_or(delivered) AS delivered,
           max(delivery_days) AS delivery_days
    FROM lines_before
    GROUP BY customer_id, order_id
), order_stats AS (
    SELECT customer_id,
           count(*) FILTER (WHERE NOT cancelled)                                          AS frequency,
           coalesce(sum(revenue) FILTER (WHERE NOT cancelled), 0)                         AS monetary,
           max(order_date) FILTER (WHERE NOT cancelled)                                   AS last_order_date,
           min(order_date) FILTER (WHERE NOT cancelled)                                   AS first_order_date,
           count(*) FILTER (WHERE NOT cancelled AND order_date >= exposure_date - 90)     AS orders_90d,
           count(*) FILTER (WHERE cancelled)                                              AS cancelled_orders,
           count(*) FILTER (WHERE NOT cancelled AND discounted)                           AS discounted_orders,
           count(*) FILTER (WHERE NOT cancelled AND delivered)                            AS delivered_orders,
           count(*) FILTER (WHERE NOT cancelled AND delivered
                                  AND delivery_days >= %(late_days)s)                     AS late_orders
    FROM orders_before
    GROUP BY customer_id
), line_stats AS (
    SELECT customer_id,
           count(*) FILTER (WHERE NOT cancelled)                                          AS completed_lines,
           count(*) FILTER (WHERE returned)                                               AS returned_lines,
           coalesce(sum(discount) FILTER (WHERE NOT cancelled), 0)                        AS discount_amount,
           coalesce(sum(quantity * unit_price) FILTER (WHERE NOT cancelled), 0)           AS gross_amount
    FROM lines_before
    GROUP BY customer_id
), outcome AS (
    SELECT e.customer_id,
           count(DISTINCT f.order_id) FILTER (WHERE f.status <> 'cancelled')              AS completed_orders,
           coalesce(sum(f.revenue) FILTER (WHERE f.status <> 'cancelled'), 0)             AS revenue
    FROM eligible e
    JOIN warehouse.fact_order_items f
      ON f.customer_id = e.customer_id
     AND f.order_date >= e.exposure_date
     AND f.order_date < e.exposure_date + e.window_days
    GROUP BY e.customer_id
)
SELECT e.customer_id,
       e.treated,
       e.exposure_date,
       e.window_days,
       -- pre-exposure covariates
       (e.exposure_date - o.last_order_date)                                    AS recency_days,
       coalesce(o.frequency, 0)                                                 AS frequency,
       coalesce(o.monetary, 0)::double precision                                AS monetary,
       (e.exposure_date - o.first_order_date)                                   AS days_since_first_order,
       coalesce(o.orders_90d, 0)                                                AS orders_90d,
       coalesce(o.cancelled_orders, 0)                                          AS cancelled_orders,
       coalesce(o.discounted_orders, 0)::double precision / nullif(o.frequency, 0) AS discounted_order_share,
       coalesce(l.discount_amount / nullif(l.gross_amount, 0), 0)::double precision AS discount_share,
       coalesce(l.returned_lines::double precision / nullif(l.completed_lines, 0), 0) AS return_share,
       coalesce(o.late_orders::double precision / nullif(o.delivered_orders, 0), 0) AS late_delivery_share,
       (e.exposure_date - e.signup_date)                                        AS tenure_days,
       e.age,
       e.country,
       e.gender,
       e.acquisition_channel,
       -- outcome in the campaign window (post-exposure: never a covariate)
       coalesce(y.completed_orders, 0)                                          AS completed_orders,
       coalesce(y.revenue, 0)::double precision                                 AS revenue
FROM eligible e
LEFT JOIN order_stats o USING (customer_id)
LEFT JOIN line_stats l USING (customer_id)
LEFT JOIN outcome y USING (customer_id)
ORDER BY e.customer_id
