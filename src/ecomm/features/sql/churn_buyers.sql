-- The churn population of %(cutoff)s (churn_features.sql with buyers_only): customers who signed up
-- before the cutoff with a completed line (warehouse.is_completed_line) in an order before it.
SELECT DISTINCT f.customer_id
FROM warehouse.fact_order_items f
JOIN warehouse.dim_customer c USING (customer_id)
WHERE f.order_date < %(cutoff)s::date AND c.signup_date < %(cutoff)s::date
  AND warehouse.is_completed_line(f.status, f.return_date, %(cutoff)s::date)
