-- Point-in-time purchase history for lifetime value, one row per customer signed up before
-- %(as_of)s with a purchase before it. Reads only orders dated strictly before the as-of date.
-- A purchase is a day with a non-cancelled order line; its value is the revenue of those lines
-- before returns (the value truth's "completed revenue", ecomm.datagen.value): a return is not
-- known when the order is placed, and the line's status only says whether one came later.
-- Days: frequency = purchase days after the first; recency_days = first to last purchase day;
-- t_days = first purchase day to the as-of date; observed_days = days the warehouse saw the
-- customer signed up (from the later of signup and %(first_day)s, the warehouse's first day).
WITH params AS (
    SELECT %(as_of)s::date AS as_of, %(first_day)s::date AS first_day
), purchase_days AS (
    SELECT f.customer_id, f.order_date, sum(f.revenue)::float8 AS value
    FROM warehouse.fact_order_items f, params p
    WHERE f.order_date < p.as_of AND f.status <> 'cancelled'
    GROUP BY f.customer_id, f.order_date
)
SELECT d.customer_id,
       p.as_of AS as_of_date,
       (count(*) - 1)::float8                               AS frequency,
       (max(d.order_date) - min(d.order_date))::float8      AS recency_days,
       (p.as_of - min(d.order_date))::float8                AS t_days,
       avg(d.value)                                         AS monetary,
       sum(d.value)                                         AS spent,
       (p.as_of - greatest(c.signup_date, p.first_day))::float8 AS observed_days
FROM purchase_days d
JOIN warehouse.dim_customer c USING (customer_id)
CROSS JOIN params p
WHERE c.signup_date < p.as_of
GROUP BY d.customer_id, p.as_of, p.first_day, c.signup_date
ORDER BY d.customer_id
