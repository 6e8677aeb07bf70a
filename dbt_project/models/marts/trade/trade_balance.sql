-- Reporter x partner x period (year and month) at TOTAL level: the reporter's own figures
-- (exports FOB, imports CIF), the partner's mirror figures, reconciled figures (trade_reconciled:
-- the method of var trade_reconciliation_method, and the fixed ratio beside it), the balance, total
-- trade, year-on-year changes and the partner's share of the reporter's trade with the World.
-- Missing is not zero: a flow the reporter did not report for the period is null (reported_flows
-- says which side it reported), and so is every balance, total, change or share built on it.
with flows as (
    select * from {{ ref('int_trade__flows') }}
    where cmd_code = 'TOTAL'
),

mirror as (
    select * from {{ ref('int_trade__mirror_pairs') }}
    where cmd_code = 'TOTAL'
),

reconciled as (
    select * from {{ ref('trade_reconciled') }}
    where product_code = 'TOTAL'
),

reported as (
    select
        reporter_iso3, partner_iso3, period_type, period_start, year, month,
        sum(value_usd) filter (where flow_code = 'X') as exports_usd,
        sum(value_usd) filter (where flow_code = 'M') as imports_usd,
        sum(value_usd) filter (where flow_code = 'RX') as re_exports_usd,
        sum(value_usd) filter (where flow_code = 'RM') as re_imports_usd,
        bool_or(is_sample) as is_sample
    from flows
    where partner_iso3 <> 'W00'
    group by all
    having count(*) filter (where flow_code in ('X', 'M')) > 0
),

world as (
    select
        reporter_iso3, period_type, period_start,
        sum(value_usd) filter (where flow_code in ('X', 'M')) as reporter_world_trade_usd,
        bool_or(is_sample) as is_sample
    from flows
    where partner_iso3 = 'W00'
    group by all
),

joined as (
    select
        r.*,
        case
            when r.exports_usd is not null and r.imports_usd is not null then 'both'
            when r.exports_usd is not null then 'exports_only'
            else 'imports_only'
        end as reported_flows,
        r.exports_usd - r.imports_usd as balance_usd,
        r.exports_usd + r.imports_usd as total_trade_usd,
        mx.importer_reported_cif_usd as mirror_exports_usd,
        mm.exporter_reported_fob_usd as mirror_imports_usd,
        rx.value_reconciled as reconciled_exports_usd,
        rm.value_reconciled as reconciled_imports_usd,
        rx.reconciliation_method as reconciled_exports_method,
        rm.reconciliation_method as reconciled_imports_method,
        rx.value_reconciled_fixed_ratio as reconciled_exports_fixed_ratio_usd,
        rm.value_reconciled_fixed_ratio as reconciled_imports_fixed_ratio_usd,
        rx.relative_discrepancy as exports_relative_discrepancy,
        rm.relative_discrepancy as imports_relative_discrepancy,
        w.reporter_world_trade_usd,
        r.is_sample or coalesce(mx.is_sample, false) or coalesce(mm.is_sample, false) or coalesce(w.is_sample, false)
            or coalesce(rx.is_sample, false) or coalesce(rm.is_sample, false) as any_sample
    from reported as r
    left join mirror as mx
        on mx.exporter_iso3 = r.reporter_iso3 and mx.importer_iso3 = r.partner_iso3
       and mx.period_type = r.period_type and mx.period_start = r.period_start
    left join mirror as mm
        on mm.exporter_iso3 = r.partner_iso3 and mm.importer_iso3 = r.reporter_iso3
       and mm.period_type = r.period_type and mm.period_start = r.period_start
    left join reconciled as rx
        on rx.exporter_iso3 = r.reporter_iso3 and rx.importer_iso3 = r.partner_iso3
       and rx.period_type = r.period_type and rx.period_start = r.period_start
    left join reconciled as rm
        on rm.exporter_iso3 = r.partner_iso3 and rm.importer_iso3 = r.reporter_iso3
       and rm.period_type = r.period_type and rm.period_start = r.period_start
    left join world as w
        on w.reporter_iso3 = r.reporter_iso3 and w.period_type = r.period_type and w.period_start = r.period_start
),

with_yoy as (
    select
        j.*,
        100.0 * (j.exports_usd / nullif(p.exports_usd, 0) - 1) as exports_yoy_pct,
        100.0 * (j.imports_usd / nullif(p.imports_usd, 0) - 1) as imports_yoy_pct,
        100.0 * (j.total_trade_usd / nullif(p.total_trade_usd, 0) - 1) as total_trade_yoy_pct,
        j.balance_usd - p.balance_usd as balance_yoy_change_usd,
        100.0 * ((j.reconciled_exports_usd + j.reconciled_imports_usd)
                 / nullif(p.reconciled_exports_usd + p.reconciled_imports_usd, 0) - 1) as reconciled_total_trade_yoy_pct
    from joined as j
    left join joined as p
        on p.reporter_iso3 = j.reporter_iso3 and p.partner_iso3 = j.partner_iso3
       and p.period_type = j.period_type and p.period_start = j.period_start - interval 1 year
),

final as (
    select
        reporter_iso3, partner_iso3, period_type, period_start, year, month,
        exports_usd, imports_usd, reported_flows, balance_usd, total_trade_usd, re_exports_usd, re_imports_usd,
        mirror_exports_usd, mirror_imports_usd,
        mirror_exports_usd - exports_usd as exports_mirror_gap_usd,
        100.0 * (mirror_exports_usd - exports_usd) / nullif(exports_usd, 0) as exports_mirror_gap_pct,
        imports_usd - mirror_imports_usd as imports_mirror_gap_usd,
        100.0 * (imports_usd - mirror_imports_usd) / nullif(mirror_imports_usd, 0) as imports_mirror_gap_pct,
        reconciled_exports_usd, reconciled_imports_usd,
        reconciled_exports_usd - reconciled_imports_usd as reconciled_balance_usd,
        reconciled_exports_usd + reconciled_imports_usd as reconciled_total_trade_usd,
        reconciled_total_trade_yoy_pct,
        reconciled_exports_method, reconciled_imports_method,
        reconciled_exports_fixed_ratio_usd, reconciled_imports_fixed_ratio_usd,
        exports_relative_discrepancy, imports_relative_discrepancy,
        reporter_world_trade_usd,
        100.0 * total_trade_usd / nullif(reporter_world_trade_usd, 0) as partner_share_pct,
        exports_yoy_pct, imports_yoy_pct, total_trade_yoy_pct, balance_yoy_change_usd,
        coalesce(greatest(abs(exports_yoy_pct), abs(imports_yoy_pct)) > {{ var('trade_yoy_flag_pct', 50) }}, false) as is_yoy_outlier,
        any_sample as is_sample
    from with_yoy
)

select
    cast(reporter_iso3 as varchar) as reporter_iso3,
    cast(partner_iso3 as varchar) as partner_iso3,
    cast(period_type as varchar) as period_type,
    cast(period_start as date) as period_start,
    cast(year as integer) as year,
    cast(month as integer) as month,
    cast(exports_usd as double) as exports_usd,
    cast(imports_usd as double) as imports_usd,
    cast(reported_flows as varchar) as reported_flows,
    cast(balance_usd as double) as balance_usd,
    cast(total_trade_usd as double) as total_trade_usd,
    cast(re_exports_usd as double) as re_exports_usd,
    cast(re_imports_usd as double) as re_imports_usd,
    cast(mirror_exports_usd as double) as mirror_exports_usd,
    cast(mirror_imports_usd as double) as mirror_imports_usd,
    cast(exports_mirror_gap_usd as double) as exports_mirror_gap_usd,
    cast(round(exports_mirror_gap_pct, 4) as double) as exports_mirror_gap_pct,
    cast(imports_mirror_gap_usd as double) as imports_mirror_gap_usd,
    cast(round(imports_mirror_gap_pct, 4) as double) as imports_mirror_gap_pct,
    cast(reconciled_exports_usd as double) as reconciled_exports_usd,
    cast(reconciled_imports_usd as double) as reconciled_imports_usd,
    cast(reconciled_balance_usd as double) as reconciled_balance_usd,
    cast(reconciled_total_trade_usd as double) as reconciled_total_trade_usd,
    cast(round(reconciled_total_trade_yoy_pct, 4) as double) as reconciled_total_trade_yoy_pct,
    cast(reconciled_exports_method as varchar) as reconciled_exports_method,
    cast(reconciled_imports_method as varchar) as reconciled_imports_method,
    cast(reconciled_exports_fixed_ratio_usd as double) as reconciled_exports_fixed_ratio_usd,
    cast(reconciled_imports_fixed_ratio_usd as double) as reconciled_imports_fixed_ratio_usd,
    cast(exports_relative_discrepancy as double) as exports_relative_discrepancy,
    cast(imports_relative_discrepancy as double) as imports_relative_discrepancy,
    cast(reporter_world_trade_usd as double) as reporter_world_trade_usd,
    cast(round(partner_share_pct, 4) as double) as partner_share_pct,
    cast(round(exports_yoy_pct, 4) as double) as exports_yoy_pct,
    cast(round(imports_yoy_pct, 4) as double) as imports_yoy_pct,
    cast(round(total_trade_yoy_pct, 4) as double) as total_trade_yoy_pct,
    cast(balance_yoy_change_usd as double) as balance_yoy_change_usd,
    cast(is_yoy_outlier as boolean) as is_yoy_outlier,
    cast(is_sample as boolean) as is_sample
from final
