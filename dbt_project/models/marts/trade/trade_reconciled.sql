-- Reconciled mirror flows, one row per exporter -> importer x period (month and year) x product
-- (TOTAL, every HS chapter, the tracked headings/subheadings): both declarations, the estimated
-- CIF/FOB margin and the rule that applied it, the FOB estimate of the importer's declaration, the
-- reliability weights, the reconciled value by both methods and the relative discrepancy
-- (docs/sources/comtrade.md#reconciliation-method-mirror-flows; int_trade__reconciled_flows).
-- Monthly and annual agree: an annual row is the sum of its twelve monthly rows whenever each side
-- that declared the year declared all twelve months (annual_basis sum_of_months; the annual
-- declarations stay beside it, their difference is revision); otherwise it reconciles the annual
-- declarations and annual_basis_reason says which side lacks months.
with flows as (
    select * from {{ ref('int_trade__reconciled_flows') }}
),

products as (
    select product_code, hs_chapter from {{ ref('dim_product') }}
),

monthly as (
    select * from flows where period_type = 'monthly'
),

annual as (
    select * from flows where period_type = 'annual'
),

month_sums as (
    select
        exporter_iso3, importer_iso3, year, cmd_code,
        count(value_exporter_fob) as months_exporter,
        count(value_importer_cif) as months_importer,
        {{ trade_exact_sum('value_exporter_fob', 2) }} as value_exporter_fob,
        {{ trade_exact_sum('value_importer_cif', 2) }} as value_importer_cif,
        {{ trade_exact_sum('value_importer_fob_est', 2) }} as value_importer_fob_est,
        {{ trade_exact_sum('value_reconciled', 2) }} as value_reconciled,
        {{ trade_exact_sum('value_reconciled_estimated', 2) }} as value_reconciled_estimated,
        {{ trade_exact_sum('value_reconciled_fixed_ratio', 2) }} as value_reconciled_fixed_ratio,
        {{ trade_exact_sum('transit_exporter_to_hub_usd', 2) }} as transit_exporter_to_hub_usd,
        {{ trade_exact_sum('transit_importer_from_hub_usd', 2) }} as transit_importer_from_hub_usd,
        {{ trade_exact_sum('value_exporter_fob_transit_adjusted', 2) }} as value_exporter_fob_transit_adjusted,
        {{ trade_exact_sum('value_reconciled_transit_adjusted', 2) }} as value_reconciled_transit_adjusted,
        {{ trade_exact_sum('weight_exporter * value_reconciled', 8) }}
            / nullif({{ trade_exact_sum('value_reconciled', 2) }}, 0) as weight_exporter,
        -- one value when every month agrees (min = max is cheaper than count(distinct) on millions of rows)
        case when min(margin_rule) = max(margin_rule) then min(margin_rule) else 'mixed_by_month' end as margin_rule,
        case when min(reconciliation_method) = max(reconciliation_method) then min(reconciliation_method)
             else 'mixed_by_month' end as reconciliation_method,
        case when min(reconciliation_method_estimated) = max(reconciliation_method_estimated)
             then min(reconciliation_method_estimated) else 'mixed_by_month' end as reconciliation_method_estimated,
        case when min(reconciliation_method_fixed_ratio) = max(reconciliation_method_fixed_ratio)
             then min(reconciliation_method_fixed_ratio) else 'mixed_by_month' end as reconciliation_method_fixed_ratio,
        bool_or(is_sample) as is_sample
    from monthly
    group by exporter_iso3, importer_iso3, year, cmd_code
),

coverage as (
    select
        a.*,
        coalesce(s.months_exporter, 0) as months_exporter,
        coalesce(s.months_importer, 0) as months_importer,
        (coalesce(s.months_exporter, 0) = 12 or (a.value_exporter_fob is null and coalesce(s.months_exporter, 0) = 0))
        and (coalesce(s.months_importer, 0) = 12 or (a.value_importer_cif is null and coalesce(s.months_importer, 0) = 0))
            as months_complete
    from annual as a
    left join month_sums as s using (exporter_iso3, importer_iso3, year, cmd_code)
),

annual_rows as (
    select
        c.exporter_iso3, c.importer_iso3, c.period_type, c.period_start, c.year, c.month, c.cmd_code, c.hs_level,
        c.is_fas_importer, c.cif_margin, c.margin_source,
        c.exporter_reporting_distance, c.importer_reporting_distance, c.reliability_weight_exporter,
        c.has_transit, c.transit_hub_iso3, c.transit_share,
        case when c.months_complete then 'sum_of_months' else 'annual_declarations' end as annual_basis,
        case
            when c.months_complete then null
            when c.value_exporter_fob is not null and c.months_exporter < 12
                then 'exporter ' || c.exporter_iso3 || ' declared ' || c.months_exporter || ' of 12 months'
                     || case when c.months_exporter = 0 then ' (annual data only)' else '' end
            when c.value_importer_cif is not null and c.months_importer < 12
                then 'importer ' || c.importer_iso3 || ' declared ' || c.months_importer || ' of 12 months'
                     || case when c.months_importer = 0 then ' (annual data only)' else '' end
            when c.value_exporter_fob is null and c.months_exporter > 0
                then 'exporter ' || c.exporter_iso3 || ' declared ' || c.months_exporter || ' months but no annual value'
            else 'importer ' || c.importer_iso3 || ' declared ' || c.months_importer || ' months but no annual value'
        end as annual_basis_reason,
        c.months_exporter, c.months_importer,
        c.value_exporter_fob as annual_declared_exporter_fob,
        c.value_importer_cif as annual_declared_importer_cif,
        case when c.months_complete then s.value_exporter_fob else c.value_exporter_fob end as value_exporter_fob,
        case when c.months_complete then s.value_importer_cif else c.value_importer_cif end as value_importer_cif,
        case when c.months_complete then s.value_importer_fob_est else c.value_importer_fob_est end as value_importer_fob_est,
        case when c.months_complete then s.margin_rule else c.margin_rule end as margin_rule,
        case when c.months_complete then null else c.margin_applied end as margin_applied,  -- sums: below
        case when c.months_complete then s.value_reconciled else c.value_reconciled end as value_reconciled,
        case when c.months_complete then s.reconciliation_method else c.reconciliation_method end as reconciliation_method,
        case when c.months_complete then coalesce(s.weight_exporter, c.weight_exporter) else c.weight_exporter end
            as weight_exporter,
        case when c.months_complete then s.value_reconciled_estimated else c.value_reconciled_estimated end
            as value_reconciled_estimated,
        case when c.months_complete then s.reconciliation_method_estimated else c.reconciliation_method_estimated end
            as reconciliation_method_estimated,
        case when c.months_complete then s.value_reconciled_fixed_ratio else c.value_reconciled_fixed_ratio end
            as value_reconciled_fixed_ratio,
        case when c.months_complete then s.reconciliation_method_fixed_ratio else c.reconciliation_method_fixed_ratio end
            as reconciliation_method_fixed_ratio,
        case when c.months_complete then s.transit_exporter_to_hub_usd else c.transit_exporter_to_hub_usd end
            as transit_exporter_to_hub_usd,
        case when c.months_complete then s.transit_importer_from_hub_usd else c.transit_importer_from_hub_usd end
            as transit_importer_from_hub_usd,
        case when c.months_complete then s.value_exporter_fob_transit_adjusted else c.value_exporter_fob_transit_adjusted end
            as value_exporter_fob_transit_adjusted,
        case when c.months_complete then s.value_reconciled_transit_adjusted else c.value_reconciled_transit_adjusted end
            as value_reconciled_transit_adjusted,
        c.is_sample or coalesce(s.is_sample, false) as is_sample
    from coverage as c
    left join month_sums as s using (exporter_iso3, importer_iso3, year, cmd_code)
),

monthly_rows as (
    select
        exporter_iso3, importer_iso3, period_type, period_start, year, month, cmd_code, hs_level,
        is_fas_importer, cif_margin, margin_source,
        exporter_reporting_distance, importer_reporting_distance, reliability_weight_exporter,
        has_transit, transit_hub_iso3, transit_share,
        cast(null as varchar) as annual_basis, cast(null as varchar) as annual_basis_reason,
        cast(null as bigint) as months_exporter, cast(null as bigint) as months_importer,
        cast(null as double) as annual_declared_exporter_fob, cast(null as double) as annual_declared_importer_cif,
        value_exporter_fob, value_importer_cif, value_importer_fob_est, margin_applied, margin_rule,
        value_reconciled, reconciliation_method, weight_exporter,
        value_reconciled_estimated, reconciliation_method_estimated,
        value_reconciled_fixed_ratio, reconciliation_method_fixed_ratio,
        transit_exporter_to_hub_usd, transit_importer_from_hub_usd,
        value_exporter_fob_transit_adjusted, value_reconciled_transit_adjusted,
        is_sample
    from monthly
),

unioned as (
    select * from monthly_rows
    union all by name
    select * from annual_rows
),

measured as (
    select
        u.* exclude (margin_applied),
        case
            when u.value_exporter_fob is not null and u.value_importer_cif is not null then 'both'
            when u.value_exporter_fob is not null then 'exporter_only'
            else 'importer_only'
        end as reported_sides,
        abs(u.value_exporter_fob - u.value_importer_cif) / nullif(u.value_exporter_fob + u.value_importer_cif, 0)
            as relative_discrepancy,
        abs(u.value_exporter_fob - u.value_importer_fob_est) / nullif(u.value_exporter_fob + u.value_importer_fob_est, 0)
            as relative_discrepancy_fob,
        coalesce(u.margin_applied, u.value_importer_cif / nullif(u.value_importer_fob_est, 0) - 1) as margin_applied,
        100.0 * (u.value_importer_fob_est - u.value_exporter_fob) / nullif(u.transit_exporter_to_hub_usd, 0)
            as transit_gap_share_of_hub_pct
    from unioned as u
),

explained as (
    -- the row says why when value_reconciled is not between the two declarations (after the margin)
    select
        m.*,
        case
            when m.value_exporter_fob is null or m.value_importer_fob_est is null then null
            when m.reconciliation_method like 'fixed_ratio%'
                 and not m.value_reconciled between least(m.value_exporter_fob, m.value_importer_fob_est) - 0.1
                                                and greatest(m.value_exporter_fob, m.value_importer_fob_est) + 0.1
                then 'fixed-ratio method: importer CIF / {{ var("trade_cif_fob_ratio", 1.08) }}, not the estimated margin'
            when not m.value_reconciled between least(m.value_exporter_fob, m.value_importer_fob_est) - 0.1
                                            and greatest(m.value_exporter_fob, m.value_importer_fob_est) + 0.1
                then 'sum of months reconciled by different methods (a side missing or below the floor in some months)'
        end as reconciliation_note
    from measured as m
),

final as (
    select
        e.*,
        coalesce(p.hs_chapter, case when e.cmd_code <> 'TOTAL' then left(e.cmd_code, 2) end) as hs_chapter
    from explained as e
    left join products as p on p.product_code = e.cmd_code
)

select
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(period_type as varchar) as period_type,
    cast(period_start as date) as period_start,
    cast(year as integer) as year,
    cast(month as integer) as month,
    cast(cmd_code as varchar) as product_code,
    cast(hs_level as varchar) as hs_level,
    cast(hs_chapter as varchar) as hs_chapter,
    cast(reported_sides as varchar) as reported_sides,
    cast(round(value_exporter_fob, 2) as double) as value_exporter_fob,
    cast(round(value_importer_cif, 2) as double) as value_importer_cif,
    cast(is_fas_importer as boolean) as importer_values_fas,
    cast(round(cif_margin, 6) as double) as cif_margin,
    cast(margin_source as varchar) as cif_margin_source,
    cast(margin_rule as varchar) as margin_rule,
    cast(round(margin_applied, 6) as double) as margin_applied,
    cast(round(value_importer_fob_est, 2) as double) as value_importer_fob_est,
    cast(round(exporter_reporting_distance, 6) as double) as exporter_reporting_distance,
    cast(round(importer_reporting_distance, 6) as double) as importer_reporting_distance,
    cast(round(weight_exporter, 8) as double) as weight_exporter,
    cast(round(1 - weight_exporter, 8) as double) as weight_importer,
    cast(round(value_reconciled, 2) as double) as value_reconciled,
    cast(reconciliation_method as varchar) as reconciliation_method,
    cast(round(value_reconciled_estimated, 2) as double) as value_reconciled_estimated,
    cast(reconciliation_method_estimated as varchar) as reconciliation_method_estimated,
    cast(round(value_reconciled_fixed_ratio, 2) as double) as value_reconciled_fixed_ratio,
    cast(reconciliation_method_fixed_ratio as varchar) as reconciliation_method_fixed_ratio,
    cast(round(relative_discrepancy, 6) as double) as relative_discrepancy,
    cast(round(relative_discrepancy_fob, 6) as double) as relative_discrepancy_fob,
    cast(reconciliation_note as varchar) as reconciliation_note,
    cast(annual_basis as varchar) as annual_basis,
    cast(annual_basis_reason as varchar) as annual_basis_reason,
    cast(months_exporter as integer) as months_exporter,
    cast(months_importer as integer) as months_importer,
    cast(round(annual_declared_exporter_fob, 2) as double) as annual_declared_exporter_fob,
    cast(round(annual_declared_importer_cif, 2) as double) as annual_declared_importer_cif,
    cast(transit_hub_iso3 as varchar) as transit_hub_iso3,
    cast(round(transit_exporter_to_hub_usd, 2) as double) as transit_exporter_to_hub_usd,
    cast(round(transit_importer_from_hub_usd, 2) as double) as transit_importer_from_hub_usd,
    cast(transit_share as double) as transit_share,
    cast(round(value_exporter_fob_transit_adjusted, 2) as double) as value_exporter_fob_transit_adjusted,
    cast(round(value_reconciled_transit_adjusted, 2) as double) as value_reconciled_transit_adjusted,
    cast(round(transit_gap_share_of_hub_pct, 4) as double) as transit_gap_share_of_hub_pct,
    cast(is_sample as boolean) as is_sample
from final
