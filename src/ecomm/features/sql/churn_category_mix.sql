-- Category mix before %(cutoff)s: completed (not cancelled) order lines per customer and category
-- (an imported log's unknown category is 'unknown', as the dbt staging labels it).
SELECT f.customer_id, coalesce(d.category, 'unknown') AS category, count(*)::float8 AS lines
FROM warehouse.fact_order_items f
JOIN warehouse.dim_product d USING (product_id)
JOIN warehouse.dim_customer c USING (customer_id)
WHERE f.order_date < %(cutoff)s::date AND f.status <> 'cancelled' AND c.signup_date < %(cutoff)s::date
  AND (%(customer_ids)s::bigint[] IS NULL OR f.customer_id = ANY(%(customer_ids)s::bigint[]))
GROUP BY 1, 2
ORDER BY 1, 2
