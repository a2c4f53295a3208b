{{ config(
    unique_key='customer_id',
    indexes=[{'columns': ['customer_id'], 'unique': True}],
) }}
-- A customer's order history in sums; the customers the batches touched (new lines, returns) are
-- recomputed from their own lines through fact_order_items (customer_id, order_date).

SELECT customer_id,
       count(DISTINCT order_id) FILTER (WHERE status <> 'cancelled')           AS orders,
       count(DISTINCT order_id) FILTER (WHERE warehouse.is_completed_line(status, return_date))
                                                                               AS completed_orders,
       coalesce(sum(revenue) FILTER (WHERE status = 'completed'), 0)           AS net_revenue,
       min(order_date) FILTER (WHERE status <> 'cancelled')                    AS first_order_date,
       max(order_date) FILTER (WHERE warehouse.is_completed_line(status, return_date))
                                                                               AS last_completed_order_date,
       count(*) FILTER (WHERE status = 'returned')                             AS returned_lines,
       count(*) FILTER (WHERE status <> 'cancelled')                           AS sold_lines,
       sum(discount)                                                           AS discount_sum,
       sum(quantity * unit_price)                                              AS list_value_sum
FROM {{ ref('stg_order_lines') }}
{% if is_incremental() %}
WHERE customer_id IN ({{ touched_order_customers() }})
{% endif %}
GROUP BY customer_id
