SELECT customer_id, country, city, age, gender, acquisition_channel, signup_date
FROM {{ source('warehouse', 'dim_customer') }}
