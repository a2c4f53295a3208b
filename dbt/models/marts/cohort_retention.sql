{{ config(
    indexes=[{'columns': ['cohort_month', 'country', 'months_since_first_order'], 'unique': True}],
) }}
-- A table over the customer-month activity (int_customer_months): O(customer-months), not O(lines).

WITH firsts AS (
    SELECT customer_id, min(activity_month) AS cohort_month
    FROM {{ ref('int_customer_months') }} GROUP BY customer_id
), sized AS (
    SELECT f.customer_id, f.cohort_month, c.country,
           count(*) OVER (PARTITION BY f.cohort_month, c.country) AS cohort_size
    FROM firsts f JOIN {{ ref('stg_customers') }} c USING (customer_id)
)
SELECT s.cohort_month,
       s.country,
       ((extract(year FROM a.activity_month) - extract(year FROM s.cohort_month)) * 12
         + extract(month FROM a.activity_month) - extract(month FROM s.cohort_month))::int AS months_since_first_order,
       max(s.cohort_size) AS cohort_size,
       count(*) AS active_customers,
       (count(*)::numeric / max(s.cohort_size))::numeric(6, 4) AS retention_rate
FROM sized s JOIN {{ ref('int_customer_months') }} a USING (customer_id)
GROUP BY 1, 2, 3
