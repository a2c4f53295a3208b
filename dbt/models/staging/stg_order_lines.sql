-- The order lines the marts read (a view: the planner inlines it, the facts' indexes still apply).
SELECT order_id, line_no, order_date, customer_id, product_id, quantity, unit_price, discount, revenue,
       cost, status, return_date, batch_date
FROM {{ source('warehouse', 'fact_order_items') }}
