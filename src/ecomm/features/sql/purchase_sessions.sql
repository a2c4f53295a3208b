-- Short-window web-session features at %(cutoff)s (the churn features hold sessions_30d, views_30d and
-- days_since_last_session): sessions and product views in the last 7 days, add-to-cart events in the
-- last 7 and 30 days. Only events dated strictly before the cutoff. One row per customer with an event
-- in the last 30 days; the caller fills the others with 0.
SELECT e.customer_id,
       count(DISTINCT e.session_id) FILTER (WHERE e.event_date >= %(cutoff)s::date - 7)::float8
                                                                                   AS web_sessions_7d,
       count(*) FILTER (WHERE e.event_type = 'view'
                          AND e.event_date >= %(cutoff)s::date - 7)::float8        AS web_views_7d,
       count(*) FILTER (WHERE e.event_type = 'add_to_cart'
                          AND e.event_date >= %(cutoff)s::date - 7)::float8        AS web_cart_adds_7d,
       count(*) FILTER (WHERE e.event_type = 'add_to_cart')::float8                AS web_cart_adds_30d
FROM warehouse.fact_web_events e
WHERE e.event_date < %(cutoff)s::date
  AND e.event_date >= %(cutoff)s::date - 30
  AND (%(customer_ids)s::bigint[] IS NULL OR e.customer_id = ANY(%(customer_ids)s::bigint[]))
GROUP BY e.customer_id
