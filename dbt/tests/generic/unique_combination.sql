{# A composite key is unique (dbt_utils.unique_combination_of_columns without the package:
   the platform reaches PyPI only, not dbt's package hub). #}
{% test unique_combination(model, combination_of_columns) %}
SELECT {{ combination_of_columns | join(', ') }}, count(*) AS n
FROM {{ model }}
GROUP BY {{ combination_of_columns | join(', ') }}
HAVING count(*) > 1
{% endtest %}
