{{ config(
    indexes=[{'columns': ['product_id'], 'unique': True}, {'columns': ['category']}],
) }}
-- A table over the per-product-day and per-product-batch sums: O(products x days), not O(lines).

WITH sales AS (
    SELECT product_id,
           sum(orders)::bigint AS orders,
           sum(units)::bigint AS units,
           sum(net_revenue) AS net_revenue,
           sum(gross_margin) AS gross_margin,
           sum(returned_lines)::numeric / nullif(sum(sold_lines), 0) AS return_rate,
           min(order_date) AS first_sale_date,
           max(order_date) AS last_sale_date
    FROM {{ ref('int_product_days') }}
    GROUP BY product_id
), engagement AS (
    SELECT product_id,
           sum(views)::bigint AS views,
           sum(add_to_carts)::bigint AS add_to_carts,
           sum(reviews)::bigint AS reviews,
           sum(rating_sum) AS rating_sum
    FROM {{ ref('int_product_engagement') }}
    GROUP BY product_id
)
SELECT p.product_id, p.product_name, p.category, p.subcategory, p.brand, p.list_price, p.launch_date,
       coalesce(s.orders, 0) AS orders, coalesce(s.units, 0) AS units,
       coalesce(s.net_revenue, 0) AS net_revenue, coalesce(s.gross_margin, 0) AS gross_margin,
       s.return_rate, s.first_sale_date, s.last_sale_date,
       coalesce(e.views, 0) AS views, coalesce(e.add_to_carts, 0) AS add_to_carts,
       (coalesce(s.orders, 0)::numeric / nullif(e.views, 0))::numeric(8, 4) AS orders_per_view,
       coalesce(e.reviews, 0) AS reviews,
       (e.rating_sum::numeric / nullif(e.reviews, 0))::numeric(4, 2) AS avg_rating
FROM {{ ref('stg_products') }} p
LEFT JOIN sales s USING (product_id)
LEFT JOIN engagement e USING (product_id)
