{#- Schemas are exactly staging / intermediate / marts / seeds (not <target>_<custom>): Grafana,
    reports and the statistics asset address them by these names. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
