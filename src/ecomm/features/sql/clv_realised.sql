-- What each customer bought in [%(start)s, %(start)s + %(days)s days): purchase days and their value,
-- counted as clv_features.sql counts them (non-cancelled lines, revenue before returns). Customers
-- without a purchase in the window have no row. The evaluation's label: never a feature.
SELECT f.customer_id,
       count(DISTINCT f.order_date)::float8 AS realised_orders,
       sum(f.revenue)::float8               AS realised_value
FROM warehouse.fact_order_items f
WHERE f.order_date >= %(start)s::date
  AND f.order_date < %(start)s::date + %(days)s::int
  AND f.status <> 'cancelled'
GROUP BY f.customer_id
ORDER BY f.customer_id
