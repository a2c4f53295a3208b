{{ config(
    unique_key=['customer_id', 'activity_month'],
    indexes=[{'columns': ['customer_id', 'activity_month'], 'unique': True}],
) }}
-- The months a customer ordered in (a line not cancelled). Lines are only ever added and never become
-- cancelled (a return keeps the order active), so the batches' own lines are all that can add a month.

SELECT DISTINCT customer_id, date_trunc('month', order_date)::date AS activity_month
FROM {{ ref('stg_order_lines') }}
WHERE status <> 'cancelled'
{% if is_incremental() %}AND batch_date = ANY({{ batch_dates_array() }}){% endif %}
