-- An imported log may not know a customer's country (NULL in the warehouse): the marts group it as 'unknown'.
SELECT customer_id, coalesce(country, 'unknown') AS country, city, age, gender, acquisition_channel, signup_date
FROM {{ source('warehouse', 'dim_customer') }}
