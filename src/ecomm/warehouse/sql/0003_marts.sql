-- Marts: materialized views over the star schema, refreshed after each load.
-- "net" revenue counts completed lines only (returned and cancelled lines excluded).

CREATE MATERIALIZED VIEW marts.daily_sales AS
SELECT f.order_date,
       c.country,
       p.category,
       count(DISTINCT f.order_id) FILTER (WHERE f.status <> 'cancelled')        AS orders,
       count(*) FILTER (WHERE f.status <> 'cancelled')                          AS order_lines,
       coalesce(sum(f.quantity) FILTER (WHERE f.status <> 'cancelled'), 0)      AS units,
       coalesce(sum(f.revenue) FILTER (WHERE f.status <> 'cancelled'), 0)       AS gross_revenue,
       coalesce(sum(f.revenue) FILTER (WHERE f.status = 'completed'), 0)        AS net_revenue,
       coalesce(sum(f.revenue) FILTER (WHERE f.status = 'returned'), 0)         AS returned_revenue,
       coalesce(sum(f.cost) FILTER (WHERE f.status = 'completed'), 0)           AS net_cost,
       coalesce(sum(f.discount) FILTER (WHERE f.status <> 'cancelled'), 0)      AS discount,
       count(*) FILTER (WHERE f.status = 'returned')                            AS returned_lines,
       count(*) FILTER (WHERE f.status = 'cancelled')                           AS cancelled_lines,
       count(DISTINCT f.customer_id) FILTER (WHERE f.status <> 'cancelled')     AS customers
FROM warehouse.fact_order_items f
JOIN warehouse.dim_customer c USING (customer_id)
JOIN warehouse.dim_product p USING (product_id)
GROUP BY f.order_date, c.country, p.category;
COMMENT ON MATERIALIZED VIEW marts.daily_sales IS
    'Grain: one row per order date x customer country x product category. orders counts orders with '
    'at least one line in the category, so summing orders over categories double-counts mixed orders.';
CREATE UNIQUE INDEX daily_sales_key ON marts.daily_sales (order_date, country, category);

-- marts.customer_360: customer_360.sql (it reads warehouse.is_completed_line, a later migration).

CREATE MATERIALIZED VIEW marts.cohort_retention AS
WITH firsts AS (
    SELECT customer_id, date_trunc('month', min(order_date))::date AS cohort_month
    FROM warehouse.fact_order_items WHERE status <> 'cancelled' GROUP BY customer_id
), activity AS (
    SELECT DISTINCT customer_id, date_trunc('month', order_date)::date AS activity_month
    FROM warehouse.fact_order_items WHERE status <> 'cancelled'
), sized AS (
    SELECT f.customer_id, f.cohort_month, c.country,
           count(*) OVER (PARTITION BY f.cohort_month, c.country) AS cohort_size
    FROM firsts f JOIN warehouse.dim_customer c USING (customer_id)
)
SELECT s.cohort_month,
       s.country,
       ((extract(year FROM a.activity_month) - extract(year FROM s.cohort_month)) * 12
         + extract(month FROM a.activity_month) - extract(month FROM s.cohort_month))::int AS months_since_first_order,
       max(s.cohort_size) AS cohort_size,
       count(*) AS active_customers,
       (count(*)::numeric / max(s.cohort_size))::numeric(6, 4) AS retention_rate
FROM sized s JOIN activity a USING (customer_id)
GROUP BY 1, 2, 3;
COMMENT ON MATERIALIZED VIEW marts.cohort_retention IS
    'Grain: one row per first-order month x country x months since first order: customers with an order then.';
CREATE UNIQUE INDEX cohort_retention_key ON marts.cohort_retention (cohort_month, country, months_since_first_order);

CREATE MATERIALIZED VIEW marts.product_performance AS
WITH sales AS (
    SELECT product_id,
           count(DISTINCT order_id) FILTER (WHERE status <> 'cancelled')      AS orders,
           coalesce(sum(quantity) FILTER (WHERE status <> 'cancelled'), 0)    AS units,
           coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)      AS net_revenue,
           coalesce(sum(revenue - cost) FILTER (WHERE status = 'completed'), 0) AS gross_margin,
           count(*) FILTER (WHERE status = 'returned')::numeric
               / nullif(count(*) FILTER (WHERE status <> 'cancelled'), 0)     AS return_rate,
           min(order_date) AS first_sale_date, max(order_date) AS last_sale_date
    FROM warehouse.fact_order_items GROUP BY product_id
), events AS (
    SELECT product_id,
           count(*) FILTER (WHERE event_type = 'view')        AS views,
           count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE event_type = 'purchase')    AS purchase_events
    FROM warehouse.fact_web_events WHERE product_id IS NOT NULL GROUP BY product_id
), reviews AS (
    SELECT product_id, count(*) AS reviews, avg(rating)::numeric(4, 2) AS avg_rating
    FROM warehouse.fact_reviews GROUP BY product_id
)
SELECT p.product_id, p.product_name, p.category, p.subcategory, p.brand, p.list_price, p.launch_date,
       coalesce(s.orders, 0) AS orders, coalesce(s.units, 0) AS units,
       coalesce(s.net_revenue, 0) AS net_revenue, coalesce(s.gross_margin, 0) AS gross_margin,
       s.return_rate, s.first_sale_date, s.last_sale_date,
       coalesce(e.views, 0) AS views, coalesce(e.add_to_carts, 0) AS add_to_carts,
       (coalesce(s.orders, 0)::numeric / nullif(e.views, 0))::numeric(8, 4) AS orders_per_view,
       coalesce(r.reviews, 0) AS reviews, r.avg_rating
FROM warehouse.dim_product p
LEFT JOIN sales s USING (product_id)
LEFT JOIN events e USING (product_id)
LEFT JOIN reviews r USING (product_id);
COMMENT ON MATERIALIZED VIEW marts.product_performance IS
    'Grain: one row per product: sales, margin, returns, funnel (views, carts) and reviews.';
CREATE UNIQUE INDEX product_performance_key ON marts.product_performance (product_id);
CREATE INDEX product_performance_category_idx ON marts.product_performance (category);
