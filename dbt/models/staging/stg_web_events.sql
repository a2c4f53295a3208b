SELECT event_id, customer_id, product_id, event_type, event_date, batch_date
FROM {{ source('warehouse', 'fact_web_events') }}
