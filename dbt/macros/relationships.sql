{# dbt's relationships test, as an anti-join: the child values with no parent row. dbt's own
   (a LEFT JOIN to every parent row) multiplies each child row by the parent rows holding its value:
   daily_sales.country against stg_customers.country joined ~17,000 rows to ~4,000 customers each
   (16 s of a 1,000,000-line import's build); NOT EXISTS stops at the first match. Same rows fail. #}
{% macro default__test_relationships(model, column_name, to, field) %}

select child.{{ column_name }} as from_field
from {{ model }} as child
where child.{{ column_name }} is not null
  and not exists (
    select 1 from {{ to }} as parent where parent.{{ field }} = child.{{ column_name }}
  )

{% endmacro %}
