{# The RFM segment of a customer from the recency and frequency quintiles (1 = worst, 5 = best). #}
{% macro rfm_segment(r_score, f_score, completed_orders) -%}
    CASE
        WHEN {{ completed_orders }} = 0 THEN 'no purchase yet'
        WHEN {{ r_score }} >= 4 AND {{ f_score }} >= 4 THEN 'champions'
        WHEN {{ r_score }} >= 3 AND {{ f_score }} >= 3 THEN 'loyal'
        WHEN {{ r_score }} >= 4 AND {{ f_score }} <= 2 THEN 'new or promising'
        WHEN {{ r_score }} <= 2 AND {{ f_score }} >= 3 THEN 'at risk'
        WHEN {{ r_score }} <= 2 AND {{ f_score }} <= 2 THEN 'hibernating'
        ELSE 'needs attention'
    END
{%- endmacro %}

{# Net revenue per month of tenure (at least one month) x 12: a naive 12-month value. #}
{% macro clv_12m_run_rate(net_revenue, as_of_date, signup_date) -%}
    ({{ net_revenue }} / greatest(({{ as_of_date }} - {{ signup_date }}) / 30.0, 1) * 12)::numeric(14, 2)
{%- endmacro %}
