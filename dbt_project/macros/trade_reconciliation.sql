{#- CIF -> FOB conversion of an importer's declaration, shared by the reliability estimate and the
    reconciled flows (docs/sources/comtrade.md#reconciliation-method-mirror-flows). Arguments are SQL
    expressions: the importer's declaration (CIF, or FAS/FOB for the importers of var
    trade_fas_importers), the exporter's declaration (FOB, may be null), the estimated margin and
    whether the importer values FAS. Rules, in order:
      no importer declaration                      -> null                  no_importer_declaration
      FAS importer, removing the margin narrows
        |ln(importer / exporter)|                  -> cif / (1 + margin)    fas_margin_narrows_gap
      FAS importer otherwise                       -> cif (FAS ~ FOB)       fas_valued_no_margin
      |ln(cif / fob)| < trade_margin_min_gap       -> cif (CIF ~ FOB)       min_gap_no_margin
      cif below fob (removing widens the gap)      -> cif                   importer_below_exporter_no_margin
      otherwise (also: exporter did not declare)   -> cif / (1 + margin)    estimated_margin
-#}
{% macro trade_margin_rule(cif, fob, margin, is_fas) %}
    case
        when {{ cif }} is null then 'no_importer_declaration'
        when {{ is_fas }} then
            case
                when {{ fob }} > 0 and {{ cif }} > 0
                 and abs(ln({{ cif }} / (1 + {{ margin }})) - ln({{ fob }})) < abs(ln({{ cif }}) - ln({{ fob }}))
                then 'fas_margin_narrows_gap'
                else 'fas_valued_no_margin'
            end
        when {{ fob }} > 0 and {{ cif }} > 0 and abs(ln({{ cif }} / {{ fob }})) < {{ var('trade_margin_min_gap', 0.05) }}
            then 'min_gap_no_margin'
        when {{ fob }} is not null and {{ cif }} < {{ fob }} then 'importer_below_exporter_no_margin'
        else 'estimated_margin'
    end
{% endmacro %}

{% macro trade_fob_estimate(rule, cif, margin) %}
    case
        when {{ rule }} = 'no_importer_declaration' then null
        when {{ rule }} in ('fas_margin_narrows_gap', 'estimated_margin') then {{ cif }} / (1 + {{ margin }})
        else {{ cif }}
    end
{% endmacro %}

{#- The exporter's weight in a reliability-weighted value: inverse-variance weights from the reporting
    distances (mean |ln ratio| attributed to the exporter as exporter and to the importer as importer).
-#}
{% macro trade_exporter_weight(exporter_distance, importer_distance) %}
    (power({{ importer_distance }}, 2) / (power({{ exporter_distance }}, 2) + power({{ importer_distance }}, 2)))
{% endmacro %}

{#- column in a list of string literals (false for an empty list) -#}
{% macro trade_in_list(column, values) %}
    {%- if values -%}
        ({{ column }} in ({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %}))
    {%- else -%}
        false
    {%- endif -%}
{% endmacro %}

{#- An order-independent sum: each term rounded to `scale` decimals, summed exactly in DECIMAL, back
    to double. Double sums depend on the order DuckDB's threads add them in, and the marts must be
    bit-identical when a night is re-run (docs/sources/tariffs.md makes the same choice). -#}
{% macro trade_exact_sum(expr, scale=12) -%}
    cast(sum(cast({{ expr }} as decimal(38, {{ scale }}))) as double)
{%- endmacro %}
