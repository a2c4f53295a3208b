{{ config(
    unique_key='customer_id',
    indexes=[{'columns': ['customer_id'], 'unique': True}],
) }}
-- A customer's reviews in sums; customers with a review in the batches are recomputed
-- (fact_reviews (customer_id, review_date)).

SELECT customer_id, count(*) AS reviews, sum(rating) AS rating_sum
FROM {{ ref('stg_reviews') }}
{% if is_incremental() %}
WHERE customer_id IN (
    SELECT customer_id FROM {{ ref('stg_reviews') }} WHERE batch_date = ANY({{ batch_dates_array() }})
)
{% endif %}
GROUP BY customer_id
