{# The model has exactly one row per row of compare_to (e.g. one per customer of the dimension). #}
{% test same_row_count(model, compare_to) %}
SELECT m.n AS model_rows, c.n AS expected_rows
FROM (SELECT count(*) AS n FROM {{ model }}) m, (SELECT count(*) AS n FROM {{ compare_to }}) c
WHERE m.n <> c.n
{% endtest %}
