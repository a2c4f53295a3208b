-- Purchase label at %(cutoff)s: 1 = at least one completed order in [cutoff, cutoff + horizon), for
-- every customer who signed up before the cutoff (buyers or not). "Completed" is the warehouse's one
-- definition (warehouse.is_completed_line) as known when the window closes: not cancelled, not
-- returned inside the window - so the label of a closed window never changes with later loads.
-- With churn_labels.sql, the only queries of the feature package that read rows at or after the cutoff.
SELECT c.customer_id,
       EXISTS (
           SELECT 1 FROM warehouse.fact_order_items f
           WHERE f.customer_id = c.customer_id
             AND f.order_date >= %(cutoff)s::date
             AND f.order_date < %(cutoff)s::date + %(horizon_days)s::int
             AND warehouse.is_completed_line(f.status, f.return_date, %(cutoff)s::date + %(horizon_days)s::int)
       )::int AS purchased
FROM warehouse.dim_customer c
WHERE c.signup_date < %(cutoff)s::date
ORDER BY c.customer_id
