{% test expression_is_true(model, expression, where=none) %}
select * from {{ model }}
where not ({{ expression }}){% if where %} and ({{ where }}){% endif %}
{% endtest %}
