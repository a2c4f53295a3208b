{{ config(
    unique_key='order_date',
    indexes=[{'columns': ['product_id', 'order_date'], 'unique': True}, {'columns': ['order_date']}],
) }}
-- Sales of a product on an order date; the touched order dates are recomputed whole. An order has one
-- order date, so summing the daily distinct orders over days counts each order once.

SELECT product_id,
       order_date,
       count(DISTINCT order_id) FILTER (WHERE status <> 'cancelled')        AS orders,
       coalesce(sum(quantity) FILTER (WHERE status <> 'cancelled'), 0)      AS units,
       coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)        AS net_revenue,
       coalesce(sum(revenue - cost) FILTER (WHERE status = 'completed'), 0) AS gross_margin,
       count(*) FILTER (WHERE status = 'returned')                          AS returned_lines,
       count(*) FILTER (WHERE status <> 'cancelled')                        AS sold_lines
FROM {{ ref('stg_order_lines') }}
{% if is_incremental() %}
WHERE order_date IN ({{ touched_order_dates() }})
{% endif %}
GROUP BY product_id, order_date
