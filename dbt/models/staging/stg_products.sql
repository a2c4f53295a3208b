-- An imported log may not know a product's category (NULL in the warehouse): the marts group it as 'unknown'.
SELECT product_id, product_name, coalesce(category, 'unknown') AS category, subcategory, brand, list_price, launch_date
FROM {{ source('warehouse', 'dim_product') }}
