{#- Rows for which `expression` is false fail the test (NULL passes: unknown is not a violation).
    Usable on a model or on a column (the column only names where the invariant is documented). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
