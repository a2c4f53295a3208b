-- Churn label at %(cutoff)s: 1 = no order (not cancelled) in [cutoff, cutoff + horizon): the customer
-- did not come back (an order returned later still shows they did).
-- The only query of the feature package that reads rows at or after the cutoff.
SELECT c.customer_id,
       (NOT EXISTS (
           SELECT 1 FROM warehouse.fact_order_items f
           WHERE f.customer_id = c.customer_id
             AND f.status <> 'cancelled'
             AND f.order_date >= %(cutoff)s::date
             AND f.order_date < %(cutoff)s::date + %(horizon_days)s::int
       ))::int AS churned
FROM warehouse.dim_customer c
WHERE c.signup_date < %(cutoff)s::date
ORDER BY c.customer_id
