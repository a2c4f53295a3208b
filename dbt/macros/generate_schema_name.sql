{# The schemas are the warehouse's own (marts, marts_internal), not <target schema>_<custom schema>. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
