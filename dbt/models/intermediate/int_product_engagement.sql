{{ config(
    unique_key='batch_date',
    indexes=[{'columns': ['product_id', 'batch_date'], 'unique': True}, {'columns': ['batch_date']}],
) }}
-- Funnel events and reviews of a product, per batch that loaded them (events and reviews are only
-- ever inserted, so a batch's figures never change; a batch is reprocessed whole).

WITH events AS (
    SELECT product_id, batch_date,
           count(*) FILTER (WHERE event_type = 'view')        AS views,
           count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
           count(*) FILTER (WHERE event_type = 'purchase')    AS purchase_events
    FROM {{ ref('stg_web_events') }}
    WHERE product_id IS NOT NULL
    {% if is_incremental() %}AND batch_date = ANY({{ batch_dates_array() }}){% endif %}
    GROUP BY product_id, batch_date
), reviews AS (
    SELECT product_id, batch_date, count(*) AS reviews, sum(rating) AS rating_sum
    FROM {{ ref('stg_reviews') }}
    {% if is_incremental() %}WHERE batch_date = ANY({{ batch_dates_array() }}){% endif %}
    GROUP BY product_id, batch_date
)
SELECT product_id,
       batch_date,
       coalesce(e.views, 0)           AS views,
       coalesce(e.add_to_carts, 0)    AS add_to_carts,
       coalesce(e.purchase_events, 0) AS purchase_events,
       coalesce(r.reviews, 0)         AS reviews,
       coalesce(r.rating_sum, 0)      AS rating_sum
FROM events e
FULL JOIN reviews r USING (product_id, batch_date)
