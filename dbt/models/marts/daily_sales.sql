{{ config(
    materialized='incremental',
    unique_key='order_date',
    indexes=[{'columns': ['order_date', 'country', 'category'], 'unique': True}],
) }}
-- "net" revenue counts completed lines only (returned and cancelled lines excluded).
-- Incremental: the order dates the batches touched are recomputed whole (delete+insert by order_date).

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
FROM {{ ref('stg_order_lines') }} f
JOIN {{ ref('stg_customers') }} c USING (customer_id)
JOIN {{ ref('stg_products') }} p USING (product_id)
{% if is_incremental() %}
WHERE f.order_date IN ({{ touched_order_dates() }})
{% endif %}
GROUP BY f.order_date, c.country, p.category
