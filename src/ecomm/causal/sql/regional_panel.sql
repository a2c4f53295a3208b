-- Customer x week panel of a regional campaign: every customer with an exposure row (signed up on
-- or before the launch; treated = lives in a target country), every week of the loaded span.
--
-- Weeks are aligned on the launch date: week k covers [launch + 7k, launch + 7k + 6], so week 0
-- starts on the launch date and post = (k >= 0). The first and last weeks may be cut by the
-- loaded span [first_day, last_day] (last_day is capped at the campaign's end_date): `days` says
-- how many days a week covers, and the outcome is a rate per 7 days, completed (not cancelled)
-- orders * 7 / days - the truth's completed_orders_per_week. A customer enters the panel from the
-- first week that starts on or after the signup date (no week in which the customer did not exist yet).
WITH campaign AS (
    SELECT start_date AS launch, end_date
    FROM warehouse.dim_campaign
    WHERE campaign_id = %(campaign_id)s
), span AS (
    SELECT %(first_day)s::date AS first_day, least(%(last_day)s::date, c.end_date) AS last_day, c.launch
    FROM campaign c
), weeks AS (
    SELECT k,
           greatest(s.launch + 7 * k, s.first_day) AS week_first,
           least(s.launch + 7 * k + 6, s.last_day) AS week_last
    FROM span s,
         generate_series(floor((s.first_day - s.launch) / 7.0)::int,
                         floor((s.last_day - s.launch) / 7.0)::int) AS k
), members AS (
    SELECT x.customer_id, x.treated, c.signup_date, c.country
    FROM warehouse.fact_campaign_exposure x
    JOIN warehouse.dim_customer c USING (customer_id)
    WHERE x.campaign_id = %(campaign_id)s
), orders AS (
    SELECT f.customer_id, floor((f.order_date - s.launch) / 7.0)::int AS k,
           count(DISTINCT f.order_id) AS n
    FROM warehouse.fact_order_items f
    JOIN members m USING (customer_id)
    CROSS JOIN span s
    WHERE f.status <> 'cancelled' AND f.order_date BETWEEN s.first_day AND s.last_day
    GROUP BY 1, 2
)
SELECT m.customer_id,
       m.country,
       w.k                                                       AS week,
       w.week_first                                              AS week_start,
       (w.week_last - w.week_first + 1)                          AS days,
       m.treated,
       (w.k >= 0)                                                AS post,
       coalesce(o.n, 0)                                          AS completed_orders,
       coalesce(o.n, 0) * 7.0 / (w.week_last - w.week_first + 1) AS completed_orders_per_week
FROM members m
JOIN weeks w ON w.week_first >= m.signup_date
LEFT JOIN orders o ON o.customer_id = m.customer_id AND o.k = w.k
ORDER BY m.customer_id, w.k
