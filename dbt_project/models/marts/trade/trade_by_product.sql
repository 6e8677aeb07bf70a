-- Reporter x partner x period x product: every HS chapter, plus the headings/subheadings of the
-- tariff-measure products (EVs, canola seed/oil/meal, peas, pork, lobster/crab). Reporter's own
-- figures, mirror figures, reconciled figures (trade_reconciled), shares of the pair's TOTAL,
-- year-on-year changes.
-- Missing is not zero: when the reporter reported no exports (imports) to the partner at all for the
-- period, the product's exports (imports) are null; when it did, a product without a line is 0
-- (Comtrade publishes no zero lines). reported_flows says which side the reporter reported.
with flows as (
    select * from {{ ref('int_trade__flows') }}
    where partner_iso3 <> 'W00'
),

mirror as (
    select * from {{ ref('int_trade__mirror_pairs') }}
    where cmd_code <> 'TOTAL'
),

reconciled as (
    select * from {{ ref('trade_reconciled') }}
    where product_code <> 'TOTAL'
),

products as (
    select * from {{ ref('dim_product') }}
),

pair_totals as (
    select
        reporter_iso3, partner_iso3, period_type, period_start,
        sum(value_usd) filter (where flow_code = 'X') as pair_exports_usd,
        sum(value_usd) filter (where flow_code = 'M') as pair_imports_usd
    from flows
    where cmd_code = 'TOTAL'
    group by all
),

product_lines as (
    select
        reporter_iso3, partner_iso3, period_type, period_start, year, month, cmd_code as product_code,
        sum(value_usd) filter (where flow_code = 'X') as line_exports_usd,
        sum(value_usd) filter (where flow_code = 'M') as line_imports_usd,
        bool_or(is_sample) as is_sample
    from flows
    where cmd_code <> 'TOTAL' and flow_code in ('X', 'M')
    group by all
),

reported as (
    select
        p.reporter_iso3, p.partner_iso3, p.period_type, p.period_start, p.year, p.month, p.product_code,
        case when t.pair_exports_usd is not null or p.line_exports_usd is not null
             then coalesce(p.line_exports_usd, 0) end as exports_usd,
        case when t.pair_imports_usd is not null or p.line_imports_usd is not null
             then coalesce(p.line_imports_usd, 0) end as imports_usd,
        p.is_sample
    from product_lines as p
    left join pair_totals as t
        on t.reporter_iso3 = p.reporter_iso3 and t.partner_iso3 = p.partner_iso3
       and t.period_type = p.period_type and t.period_start = p.period_start
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
        mx.importer_reported_cif_usd as mirror_exports_usd,
        mm.exporter_reported_fob_usd as mirror_imports_usd,
        rx.value_reconciled as reconciled_exports_usd,
        rm.value_reconciled as reconciled_imports_usd,
        100.0 * r.exports_usd / nullif(t.pair_exports_usd, 0) as exports_share_pct,
        100.0 * r.imports_usd / nullif(t.pair_imports_usd, 0) as imports_share_pct,
        r.is_sample or coalesce(mx.is_sample, false) or coalesce(mm.is_sample, false)
            or coalesce(rx.is_sample, false) or coalesce(rm.is_sample, false) as any_sample
    from reported as r
    left join mirror as mx
        on mx.exporter_iso3 = r.reporter_iso3 and mx.importer_iso3 = r.partner_iso3 and mx.period_type = r.period_type
       and mx.period_start = r.period_start and mx.cmd_code = r.product_code
    left join mirror as mm
        on mm.exporter_iso3 = r.partner_iso3 and mm.importer_iso3 = r.reporter_iso3 and mm.period_type = r.period_type
       and mm.period_start = r.period_start and mm.cmd_code = r.product_code
    left join reconciled as rx
        on rx.exporter_iso3 = r.reporter_iso3 and rx.importer_iso3 = r.partner_iso3 and rx.period_type = r.period_type
       and rx.period_start = r.period_start and rx.product_code = r.product_code
    left join reconciled as rm
        on rm.exporter_iso3 = r.partner_iso3 and rm.importer_iso3 = r.reporter_iso3 and rm.period_type = r.period_type
       and rm.period_start = r.period_start and rm.product_code = r.product_code
    left join pair_totals as t
        on t.reporter_iso3 = r.reporter_iso3 and t.partner_iso3 = r.partner_iso3
       and t.period_type = r.period_type and t.period_start = r.period_start
),

with_yoy as (
    select
        j.*,
        100.0 * (j.exports_usd / nullif(p.exports_usd, 0) - 1) as exports_yoy_pct,
        100.0 * (j.imports_usd / nullif(p.imports_usd, 0) - 1) as imports_yoy_pct
    from joined as j
    left join joined as p
        on p.reporter_iso3 = j.reporter_iso3 and p.partner_iso3 = j.partner_iso3 and p.period_type = j.period_type
       and p.period_start = j.period_start - interval 1 year and p.product_code = j.product_code
),

final as (
    select
        y.reporter_iso3, y.partner_iso3, y.period_type, y.period_start, y.year, y.month, y.product_code,
        coalesce(d.hs_level, case length(y.product_code) when 2 then 'chapter' when 4 then 'heading' else 'subheading' end) as hs_level,
        coalesce(d.hs_chapter, left(y.product_code, 2)) as hs_chapter,
        d.hs_section_code,
        d.product_name,
        y.exports_usd, y.imports_usd, y.reported_flows, y.balance_usd, y.mirror_exports_usd, y.mirror_imports_usd,
        y.reconciled_exports_usd, y.reconciled_imports_usd, y.exports_share_pct, y.imports_share_pct,
        y.exports_yoy_pct, y.imports_yoy_pct,
        coalesce(greatest(abs(y.exports_yoy_pct), abs(y.imports_yoy_pct)) > {{ var('trade_product_yoy_flag_pct', 75) }}, false) as is_yoy_outlier,
        y.any_sample as is_sample
    from with_yoy as y
    left join products as d on d.product_code = y.product_code
)

select
    cast(reporter_iso3 as varchar) as reporter_iso3,
    cast(partner_iso3 as varchar) as partner_iso3,
    cast(period_type as varchar) as period_type,
    cast(period_start as date) as period_start,
    cast(year as integer) as year,
    cast(month as integer) as month,
    cast(product_code as varchar) as product_code,
    cast(hs_level as varchar) as hs_level,
    cast(hs_chapter as varchar) as hs_chapter,
    cast(hs_section_code as varchar) as hs_section_code,
    cast(product_name as varchar) as product_name,
    cast(exports_usd as double) as exports_usd,
    cast(imports_usd as double) as imports_usd,
    cast(reported_flows as varchar) as reported_flows,
    cast(balance_usd as double) as balance_usd,
    cast(mirror_exports_usd as double) as mirror_exports_usd,
    cast(mirror_imports_usd as double) as mirror_imports_usd,
    cast(reconciled_exports_usd as double) as reconciled_exports_usd,
    cast(reconciled_imports_usd as double) as reconciled_imports_usd,
    cast(round(exports_share_pct, 4) as double) as exports_share_pct,
    cast(round(imports_share_pct, 4) as double) as imports_share_pct,
    cast(round(exports_yoy_pct, 4) as double) as exports_yoy_pct,
    cast(round(imports_yoy_pct, 4) as double) as imports_yoy_pct,
    cast(is_yoy_outlier as boolean) as is_yoy_outlier,
    cast(is_sample as boolean) as is_sample
from final
