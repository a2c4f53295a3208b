SELECT review_id, customer_id, product_id, rating, review_date, batch_date
FROM {{ source('warehouse', 'fact_reviews') }}
