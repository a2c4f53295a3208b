{# The loaded batches this build processes, as a date[] literal (var batch_dates: ISO dates). #}
{% macro batch_dates_array() -%}
    {%- set dates = var('batch_dates', []) -%}
    {%- if dates is string -%}
        {%- set dates = dates.split(',') if dates else [] -%}
    {%- endif -%}
    {%- for d in dates -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', (d | string).strip()) -%}
            {{ exceptions.raise_compiler_error("var batch_dates: '" ~ d ~ "' is not a YYYY-MM-DD date") }}
        {%- endif -%}
    {%- endfor -%}
    ARRAY[{%- for d in dates -%}'{{ (d | string).strip() }}'{{ ", " if not loop.last }}{%- endfor -%}]::date[]
{%- endmacro %}

{# The `column` (order_date, customer_id...) of the order lines the batches changed: the lines they
   added, and the lines they returned (a return arrives in the batch of its return_date, up to 30 days
   after the order). Index-backed: fact_order_items (batch_date) and the partial index on return_date
   of returned lines. #}
{% macro touched_order_lines(column) -%}
    SELECT {{ column }} FROM {{ ref("stg_order_lines") }} WHERE batch_date = ANY({{ batch_dates_array() }})
    UNION
    SELECT {{ column }} FROM {{ ref("stg_order_lines") }}
    WHERE status = 'returned' AND return_date = ANY({{ batch_dates_array() }})
{%- endmacro %}

{# Order dates whose lines the batches changed. #}
{% macro touched_order_dates() -%}
    {{ touched_order_lines("order_date") }}
{%- endmacro %}

{# Customers whose order lines the batches changed (new lines, returns). #}
{% macro touched_order_customers() -%}
    {{ touched_order_lines("customer_id") }}
{%- endmacro %}
