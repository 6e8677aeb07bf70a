-- Every mirror flow (exporter -> importer x period x product, monthly and annual declarations as
-- reported) reconciled both ways (docs/sources/comtrade.md#reconciliation-method-mirror-flows):
--   estimated:   the importer's declaration to FOB with the estimated margin and the references'
--                rules (macro trade_margin_rule: minimum gap, importer below exporter, FAS importers),
--                then the two declarations weighted by the reporters' reliability (inverse squared
--                reporting distances, int_trade__reporter_reliability; the weights sum to 1). A side
--                below var trade_reconcile_min_flow_usd, or missing, leaves the other side.
--   fixed_ratio: the importer's CIF / var trade_cif_fob_ratio when declared, else the exporter's FOB.
-- value_reconciled is the method of var trade_reconciliation_method. Transit through the hub (var
-- trade_transit_hub, Hong Kong) is shown beside TOTAL flows with a country of var
-- trade_transit_countries; var trade_transit_shares adds a share of the exporter's exports to the
-- hub to its declaration (default: none). Missing is not zero: an undeclared side stays null.
{% set method = var('trade_reconciliation_method', 'estimated') %}
{% set floor = var('trade_reconcile_min_flow_usd', 1000) %}
{% set hub = var('trade_transit_hub', 'HKG') %}
{% set shares = var('trade_transit_shares', {}) %}
{% if method not in ['estimated', 'fixed_ratio'] %}
    {{ exceptions.raise_compiler_error("var trade_reconciliation_method must be estimated or fixed_ratio, got '" ~ method ~ "'") }}
{% endif %}
{% for k, v in shares.items() %}
    {% if not modules.re.match('^[A-Z]{3}-[A-Z]{3}$', k) or v is not number or v < 0 or v > 1 %}
        {{ exceptions.raise_compiler_error("var trade_transit_shares: keys are 'EXP-IMP' ISO3 pairs, values shares in [0, 1]; got " ~ k ~ ": " ~ v) }}
    {% endif %}
{% endfor %}
with pairs as (
    select * from {{ ref('int_trade__mirror_pairs') }}
),

margins as (
    select * from {{ ref('int_trade__cif_margins') }}
),

reliability as (
    select * from {{ ref('int_trade__reporter_reliability') }}
),

default_distance as (
    -- a country without observations: the mean reporting distance (1 = equal weights without any)
    select coalesce(max(mean_reporting_distance), 1.0) as distance from reliability
),

hub_flows as (
    select reporter_iso3, period_type, period_start, flow_code, value_usd, is_sample
    from {{ ref('int_trade__flows') }}
    where partner_iso3 = '{{ hub }}' and cmd_code = 'TOTAL' and flow_code in ('X', 'M')
),

transit_shares as (
    select * from (values ('', cast(0 as double)){% for k, v in shares.items() %}, ('{{ k }}', cast({{ v }} as double)){% endfor %}) as t(flow_key, share)
    where flow_key <> ''
),

declared as (
    select
        p.exporter_iso3, p.importer_iso3, p.period_type, p.period_start, p.year, p.month, p.cmd_code, p.hs_level,
        p.exporter_reported_fob_usd as value_exporter_fob,
        p.importer_reported_cif_usd as value_importer_cif,
        {{ trade_in_list('p.importer_iso3', var('trade_fas_importers', ['CAN'])) }} as is_fas_importer,
        m.cif_margin,
        m.margin_source,
        coalesce(ex.exporter_reporting_distance, d.distance) as exporter_reporting_distance,
        coalesce(im.importer_reporting_distance, d.distance) as importer_reporting_distance,
        p.is_sample
    from pairs as p
    left join margins as m using (exporter_iso3, importer_iso3, year, cmd_code)
    left join reliability as ex on ex.country_iso3 = p.exporter_iso3
    left join reliability as im on im.country_iso3 = p.importer_iso3
    cross join default_distance as d
),

fob_estimated as (
    select
        *,
        {{ trade_margin_rule('value_importer_cif', 'value_exporter_fob', 'cif_margin', 'is_fas_importer') }} as margin_rule
    from declared
),

converted as (
    select
        *,
        {{ trade_fob_estimate('margin_rule', 'value_importer_cif', 'cif_margin') }} as value_importer_fob_est
    from fob_estimated
),

sides as (
    select
        *,
        case
            when value_exporter_fob is not null and value_importer_cif is not null then 'both'
            when value_exporter_fob is not null then 'exporter_only'
            else 'importer_only'
        end as reported_sides,
        value_exporter_fob is not null and value_importer_fob_est is not null
            and value_exporter_fob >= {{ floor }} and value_importer_fob_est >= {{ floor }} as both_usable,
        {{ trade_exporter_weight('exporter_reporting_distance', 'importer_reporting_distance') }} as reliability_weight_exporter
    from converted
),

estimated as (
    select
        *,
        case
            when both_usable then 'reliability_weighted'
            when value_importer_fob_est is not null
                 and (value_exporter_fob is null or value_exporter_fob < {{ floor }} and value_importer_fob_est >= value_exporter_fob)
                then 'importer_only'
            else 'exporter_only'
        end as reconciliation_method_estimated
    from sides
),

weighted as (
    select
        *,
        case reconciliation_method_estimated
            when 'reliability_weighted' then reliability_weight_exporter
            when 'exporter_only' then 1.0
            else 0.0
        end as weight_exporter_estimated
    from estimated
),

both_methods as (
    select
        *,
        case reconciliation_method_estimated
            when 'reliability_weighted' then weight_exporter_estimated * value_exporter_fob
                                             + (1 - weight_exporter_estimated) * value_importer_fob_est
            when 'exporter_only' then value_exporter_fob
            else value_importer_fob_est
        end as value_reconciled_estimated,
        case when value_importer_cif is not null then value_importer_cif / {{ var('trade_cif_fob_ratio', 1.08) }}
             else value_exporter_fob end as value_reconciled_fixed_ratio,
        case when value_importer_cif is not null then 'fixed_ratio_importer_cif' else 'fixed_ratio_exporter_fob' end
            as reconciliation_method_fixed_ratio
    from weighted
),

chosen as (
    select
        *,
        {% if method == 'fixed_ratio' %}
        value_reconciled_fixed_ratio as value_reconciled,
        reconciliation_method_fixed_ratio as reconciliation_method,
        case when value_importer_cif is not null then 0.0 else 1.0 end as weight_exporter
        {% else %}
        value_reconciled_estimated as value_reconciled,
        reconciliation_method_estimated as reconciliation_method,
        weight_exporter_estimated as weight_exporter
        {% endif %}
    from both_methods
),

with_transit as (
    select
        c.*,
        case when c.cmd_code = 'TOTAL' and ({{ trade_in_list('c.exporter_iso3', var('trade_transit_countries', ['CHN'])) }}
                                           or {{ trade_in_list('c.importer_iso3', var('trade_transit_countries', ['CHN'])) }})
                  and c.exporter_iso3 <> '{{ hub }}' and c.importer_iso3 <> '{{ hub }}'
             then true else false end as has_transit,
        hx.value_usd as transit_exporter_to_hub_usd,
        hm.value_usd as transit_importer_from_hub_usd,
        coalesce(ts.share, 0) as transit_share
    from chosen as c
    left join hub_flows as hx
        on hx.reporter_iso3 = c.exporter_iso3 and hx.flow_code = 'X' and hx.period_type = c.period_type
       and hx.period_start = c.period_start and c.cmd_code = 'TOTAL'
    left join hub_flows as hm
        on hm.reporter_iso3 = c.importer_iso3 and hm.flow_code = 'M' and hm.period_type = c.period_type
       and hm.period_start = c.period_start and c.cmd_code = 'TOTAL'
    left join transit_shares as ts on ts.flow_key = c.exporter_iso3 || '-' || c.importer_iso3
),

transit_adjusted as (
    select
        *,
        case when has_transit then value_exporter_fob + transit_share * coalesce(transit_exporter_to_hub_usd, 0) end
            as value_exporter_fob_transit_adjusted
    from with_transit
),

final as (
    select
        *,
        case
            when not has_transit then null
            when reconciliation_method_estimated = 'reliability_weighted'
                then weight_exporter_estimated * value_exporter_fob_transit_adjusted
                     + (1 - weight_exporter_estimated) * value_importer_fob_est
            when reconciliation_method_estimated = 'importer_only' then value_importer_fob_est
            else value_exporter_fob_transit_adjusted
        end as value_reconciled_transit_adjusted
    from transit_adjusted
)

select
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(period_type as varchar) as period_type,
    cast(period_start as date) as period_start,
    cast(year as integer) as year,
    cast(month as integer) as month,
    cast(cmd_code as varchar) as cmd_code,
    cast(hs_level as varchar) as hs_level,
    cast(reported_sides as varchar) as reported_sides,
    cast(value_exporter_fob as double) as value_exporter_fob,
    cast(value_importer_cif as double) as value_importer_cif,
    cast(is_fas_importer as boolean) as is_fas_importer,
    cast(cif_margin as double) as cif_margin,
    cast(margin_source as varchar) as margin_source,
    cast(margin_rule as varchar) as margin_rule,
    cast(round(value_importer_fob_est, 2) as double) as value_importer_fob_est,
    -- the margin removed, from the unrounded FOB estimate (a ratio of rounded cents can pass the cap)
    cast(value_importer_cif / nullif(value_importer_fob_est, 0) - 1 as double) as margin_applied,
    cast(exporter_reporting_distance as double) as exporter_reporting_distance,
    cast(importer_reporting_distance as double) as importer_reporting_distance,
    cast(round(reliability_weight_exporter, 8) as double) as reliability_weight_exporter,
    cast(round(value_reconciled_estimated, 2) as double) as value_reconciled_estimated,
    cast(reconciliation_method_estimated as varchar) as reconciliation_method_estimated,
    cast(round(weight_exporter_estimated, 8) as double) as weight_exporter_estimated,
    cast(round(value_reconciled_fixed_ratio, 2) as double) as value_reconciled_fixed_ratio,
    cast(reconciliation_method_fixed_ratio as varchar) as reconciliation_method_fixed_ratio,
    cast(round(value_reconciled, 2) as double) as value_reconciled,
    cast(reconciliation_method as varchar) as reconciliation_method,
    cast(round(weight_exporter, 8) as double) as weight_exporter,
    cast(has_transit as boolean) as has_transit,
    cast(case when has_transit then '{{ hub }}' end as varchar) as transit_hub_iso3,
    cast(case when has_transit then transit_exporter_to_hub_usd end as double) as transit_exporter_to_hub_usd,
    cast(case when has_transit then transit_importer_from_hub_usd end as double) as transit_importer_from_hub_usd,
    cast(case when has_transit then transit_share end as double) as transit_share,
    cast(round(value_exporter_fob_transit_adjusted, 2) as double) as value_exporter_fob_transit_adjusted,
    cast(round(value_reconciled_transit_adjusted, 2) as double) as value_reconciled_transit_adjusted,
    cast(is_sample as boolean) as is_sample
from final
