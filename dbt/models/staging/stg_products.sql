SELECT product_id, product_name, category, subcategory, brand, list_price, launch_date
FROM {{ source('warehouse', 'dim_product') }}
