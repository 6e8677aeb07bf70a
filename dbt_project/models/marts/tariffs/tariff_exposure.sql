-- Tariff exposure by importer x exporter x month, for the pair (hs_level 'all'), each HS chapter,
-- and each product the trade data lists separately (headings/subheadings of the measured products).
-- Two weightings for every month of the horizon: fixed base-year imports (default: the year before
-- the pair's first measure with a product list; dbt var tariff_exposure_base_year overrides; from
-- January of the base year on) and previous-year imports (the year before the month, from annual
-- totals). USMCA pairs get a central estimate (qualifying shares of the seed tariff_usmca_shares, or
-- the dbt var tariff_usmca_qualifying_share) beside the upper bound (share 0). Method and definitions:
-- docs/sources/tariffs.md and the column descriptions. Sums run in DECIMAL (exact, so the order of
-- parallel summation never changes the published bits: a re-run publishes nothing new); money is
-- rounded to 1/100 cent, percentages to 6 decimals.
{% set base_year_var = var('tariff_exposure_base_year', none) %}
{% set usmca_share = var('tariff_usmca_qualifying_share', none) %}
{% set start = var('tariff_schedule_start', none) or '2015-01-01' %}
{% set end = var('tariff_schedule_end', none) or (modules.datetime.date.today().year ~ '-12-31') %}
with trade as (
    select * from {{ ref('int_tariffs__trade') }}
),

schedule as (
    select * from {{ ref('tariff_schedule') }}
),

pair_measures as (
    select * from {{ ref('int_tariffs__pair_measure_products') }}
),

universe as (
    select * from {{ ref('stg_tariffs__hs6_universe') }}
),

usmca_shares as (
    select * from {{ ref('stg_tariffs__usmca_shares') }}
),

mfn_rates as (
    select importer_iso3, hs6, year, rate_pct from {{ ref('int_tariffs__base_rates') }} where partner_iso3 = 'WLD'
),

pairs as (
    select distinct importer_iso3, exporter_iso3 from trade
    where (importer_iso3, exporter_iso3) in (select (importer_iso3, exporter_iso3) from {{ ref('int_tariffs__pairs') }})
),

base_years as (
    select
        p.importer_iso3,
        p.exporter_iso3,
        {% if base_year_var %}{{ base_year_var }}{% else %}coalesce(year(min(m.effective_date)) - 1, {{ end[:4] }} - 1){% endif %} as base_year
    from pairs as p
    left join pair_measures as m using (importer_iso3, exporter_iso3)
    group by all
),

months as (
    select b.importer_iso3, b.exporter_iso3, b.base_year, cast(m.month_start as date) as month_start,
           cast(m.month_start + interval 1 month - interval 1 day as date) as month_end,
           day(cast(m.month_start + interval 1 month - interval 1 day as date)) as days_in_month,
           year(m.month_start) as year,
           case when m.month_start < date '2022-01-01' then 'H5' else 'H6' end as hs_vintage
    from base_years as b
    cross join lateral (
        select unnest(generate_series(date_trunc('month', date '{{ start }}'), date '{{ end }}', interval 1 month)) as month_start
    ) as m
),

-- product codes of the trade data form a tree per pair: each code's parent is its longest listed
-- prefix. Only codes the importer reports imports of are units (a code reported only as exports would
-- be a zero-weight unit that pulls its lines out of its chapter's average).
codes as (
    select importer_iso3, exporter_iso3, product_code, any_value(code_length) as code_length
    from trade
    group by all
    having sum(imports_usd) > 0
),

code_parents as (
    select c.*, p.product_code as parent_code
    from codes as c
    left join codes as p
        on p.importer_iso3 = c.importer_iso3 and p.exporter_iso3 = c.exporter_iso3
       and p.code_length < c.code_length and starts_with(c.product_code, p.product_code)
    qualify row_number() over (partition by c.importer_iso3, c.exporter_iso3, c.product_code
                               order by p.code_length desc nulls last) = 1
),

-- trade units: each code's value minus its listed children (the residual), so units never double count
values_by_code as (
    select t.importer_iso3, t.exporter_iso3, t.period_kind, t.period_start, t.year, t.month, t.product_code,
           cast(sum(cast(t.imports_usd as decimal(38, 10))) as double) as imports_usd, bool_or(t.is_sample) as is_sample
    from trade as t
    semi join codes as c using (importer_iso3, exporter_iso3, product_code)
    group by all
),

unit_values as (
    select
        v.importer_iso3, v.exporter_iso3, v.period_kind, v.period_start, v.year, v.month, v.product_code,
        greatest(v.imports_usd - coalesce(cast(sum(cast(ch.imports_usd as decimal(38, 10))) as double), 0), 0) as unit_usd,
        v.is_sample
    from values_by_code as v
    left join code_parents as cp
        on cp.importer_iso3 = v.importer_iso3 and cp.exporter_iso3 = v.exporter_iso3 and cp.parent_code = v.product_code
    left join values_by_code as ch
        on ch.importer_iso3 = v.importer_iso3 and ch.exporter_iso3 = v.exporter_iso3 and ch.product_code = cp.product_code
       and ch.period_kind = v.period_kind and ch.period_start = v.period_start
    group by v.importer_iso3, v.exporter_iso3, v.period_kind, v.period_start, v.year, v.month, v.product_code,
             v.imports_usd, v.is_sample
),

-- a unit's imports in a year: the annual figure, else its months scaled to twelve
unit_years as (
    select
        importer_iso3, exporter_iso3, product_code, year,
        coalesce(max(unit_usd) filter (where period_kind = 'year'),
                 cast(sum(cast(unit_usd as decimal(38, 10))) filter (where period_kind = 'month') as double)
                     * 12.0 / count(*) filter (where period_kind = 'month')) as year_usd,
        bool_or(is_sample) as is_sample
    from unit_values
    group by all
),

-- every HS6 line of a vintage belongs to the unit of its longest listed prefix
-- (a code is a prefix of the line when it equals one of the line's prefixes: a hash join on them, not a
-- nested-loop join on starts_with)
hs6_prefixes as (
    select hs6, hs_vintage, left(hs6, n) as prefix
    from universe
    cross join lateral (select unnest(range(0, length(hs6) + 1)) as n)
),

hs6_units as (
    select c.importer_iso3, c.exporter_iso3, u.hs6, u.hs_vintage, c.product_code
    from hs6_prefixes as u
    join codes as c on c.product_code = u.prefix
    qualify row_number() over (partition by c.importer_iso3, c.exporter_iso3, u.hs6, u.hs_vintage order by c.code_length desc) = 1
),

unit_lines as (
    select importer_iso3, exporter_iso3, product_code, hs_vintage, count(*) as n_lines
    from hs6_units group by all
),

-- MFN base rates known per unit and year: the WITS rate of the latest year <= the year (as the schedule
-- carries it, macro tariff_rates_by_year); lines without one count as unknown, never as 0. Only the lines
-- with a rate are joined (an importer without WITS data has none); every line counts in n_lines.
-- A year has one vintage (CTE months: H5 before 2022, H6 from 2022), so n_lines is that vintage's line count.
vintage_years as (
    select distinct year, hs_vintage from months
),

-- materialized: so that the optimizer joins the lines to these rates first and does not expand every
-- line to every year before it (4.7M rows on the sample, where only 0.6M lines have a rate)
mfn_by_year as materialized (
    select r.*, y.hs_vintage
    from ({{ tariff_rates_by_year('mfn_rates', ['importer_iso3', 'hs6'], start, end) }}) as r
    join vintage_years as y on y.year = r.horizon_year
),

line_mfn as (
    select h.importer_iso3, h.exporter_iso3, h.product_code, h.hs_vintage, r.horizon_year as year, r.rate_pct
    from hs6_units as h
    join mfn_by_year as r on r.importer_iso3 = h.importer_iso3 and r.hs6 = h.hs6 and r.hs_vintage = h.hs_vintage
),

unit_mfn as (
    select l.importer_iso3, l.exporter_iso3, l.product_code, l.year,
           count(l.rate_pct) as n_known, any_value(u.n_lines) as n_lines,
           cast(sum(cast(l.rate_pct as decimal(38, 10))) as double) / nullif(count(l.rate_pct), 0) as avg_mfn_known_pct
    from line_mfn as l
    join unit_lines as u using (importer_iso3, exporter_iso3, product_code, hs_vintage)
    group by l.importer_iso3, l.exporter_iso3, l.product_code, l.year
),

-- additional duty per HS6 and month, day-weighted over the schedule intervals in the month; only
-- intervals carrying a measure (applied, replaced or expected) are expanded (every other line-day adds
-- 0 duty and only counts in the denominator: the schedule covers every line on every day)
line_months as (
    select
        s.importer_iso3, s.exporter_iso3, s.hs6, s.hs_chapter, s.hs_vintage, m.month_start, m.days_in_month,
        least(s.valid_to, m.month_end) - greatest(s.valid_from, m.month_start) + 1 as days,
        coalesce(s.effective_rate_pct - s.mfn_rate_pct, s.additional_rate_pct) as extra_general_pct,
        coalesce(s.effective_rate_usmca_qualifying_pct - coalesce(s.preferential_rate_pct, s.mfn_rate_pct),
                 s.additional_rate_usmca_qualifying_pct) as extra_qualifying_pct,
        s.measure_coverage_share,
        s.measure_ids,
        s.expected_measure_ids
    from schedule as s
    join months as m
        on m.importer_iso3 = s.importer_iso3 and m.exporter_iso3 = s.exporter_iso3
       and s.valid_from <= m.month_end and s.valid_to >= m.month_start
    where s.measure_ids is not null or s.replaced_row_ids is not null or s.total_rate_pct is not null
       or s.has_expected_measure
),

-- USMCA pairs: central estimate = (1 - qualifying share) x the statutory extra + share x the qualifying
-- extra; the upper bound takes share 0 (every good pays the statutory rate)
line_rates as (
    select
        l.*,
        case when l.importer_iso3 in ('USA', 'CAN', 'MEX') and l.exporter_iso3 in ('USA', 'CAN', 'MEX')
             then {% if usmca_share is not none %}{{ usmca_share }}{% else %}coalesce(u.qualifying_share, 0){% endif %}
             else 0 end as usmca_share
    from line_months as l
    left join usmca_shares as u
        on u.importer_iso3 = l.importer_iso3 and u.exporter_iso3 = l.exporter_iso3 and u.hs_chapter = l.hs_chapter
       and l.month_start between u.valid_from and u.valid_to
),

unit_months as (
    -- simple average over the unit's HS6 lines of the month's vintage (exact for a subheading unit), day-weighted
    select
        h.importer_iso3, h.exporter_iso3, h.product_code, r.month_start,
        cast(sum(cast(((1 - r.usmca_share) * r.extra_general_pct + r.usmca_share * r.extra_qualifying_pct) * r.days
                       as decimal(38, 10))) as double) / (any_value(u.n_lines) * any_value(r.days_in_month)) as extra_pct,
        cast(sum(cast(r.extra_general_pct * r.days as decimal(38, 10))) as double)
            / (any_value(u.n_lines) * any_value(r.days_in_month)) as extra_upper_pct,
        cast(sum(cast(case when r.extra_general_pct > 0 then r.days * r.measure_coverage_share else 0 end as decimal(38, 10))) as double)
            / (any_value(u.n_lines) * any_value(r.days_in_month)) as covered_share,
        -- the distinct measure-id strings first, split after: the same sets as splitting every line-month's
        -- string, without building a list per row (the slowest operator of the model)
        list_sort(list_distinct(flatten(list_transform(list(distinct coalesce(r.measure_ids, '')), lambda x: string_split(x, ';'))))) as measure_list,
        list_sort(list_distinct(flatten(list_transform(list(distinct coalesce(r.expected_measure_ids, '')), lambda x: string_split(x, ';'))))) as expected_list
    from line_rates as r
    join hs6_units as h using (importer_iso3, exporter_iso3, hs6, hs_vintage)
    join unit_lines as u using (importer_iso3, exporter_iso3, product_code, hs_vintage)
    group by all
),

unit_grid as (
    select
        m.importer_iso3, m.exporter_iso3, m.base_year, m.month_start, c.product_code, c.code_length,
        left(c.product_code, 2) as hs_chapter,
        case when m.year >= m.base_year then coalesce(b.year_usd, 0) / 12.0 end as base_month_usd,
        coalesce(py.year_usd, 0) / 12.0 as prev_month_usd,
        py.year_usd is not null as has_prev,
        coalesce(um.extra_pct, 0) as extra_pct,
        coalesce(um.extra_upper_pct, 0) as extra_upper_pct,
        coalesce(um.covered_share, 0) as covered_share,
        coalesce(mf.n_known::double / nullif(mf.n_lines, 0), 0) as known_share,
        coalesce(mf.avg_mfn_known_pct, 0) as avg_mfn_known_pct,
        coalesce(um.measure_list, []) as measure_list,
        coalesce(um.expected_list, []) as expected_list,
        mv.unit_usd as actual_month_usd,
        av.unit_usd / 12.0 as actual_year_avg_usd,
        (m.year >= m.base_year and coalesce(b.is_sample, false)) or coalesce(py.is_sample, false)
            or coalesce(mv.is_sample, false) or coalesce(av.is_sample, false) as is_sample
    from months as m
    join codes as c using (importer_iso3, exporter_iso3)
    left join unit_years as b
        on b.importer_iso3 = m.importer_iso3 and b.exporter_iso3 = m.exporter_iso3
       and b.product_code = c.product_code and b.year = m.base_year
    left join unit_years as py
        on py.importer_iso3 = m.importer_iso3 and py.exporter_iso3 = m.exporter_iso3
       and py.product_code = c.product_code and py.year = m.year - 1
    left join unit_months as um
        on um.importer_iso3 = m.importer_iso3 and um.exporter_iso3 = m.exporter_iso3
       and um.product_code = c.product_code and um.month_start = m.month_start
    left join unit_mfn as mf
        on mf.importer_iso3 = m.importer_iso3 and mf.exporter_iso3 = m.exporter_iso3
       and mf.product_code = c.product_code and mf.year = m.year
    left join unit_values as mv
        on mv.importer_iso3 = m.importer_iso3 and mv.exporter_iso3 = m.exporter_iso3
       and mv.product_code = c.product_code and mv.period_kind = 'month' and mv.period_start = m.month_start
    left join unit_values as av
        on av.importer_iso3 = m.importer_iso3 and av.exporter_iso3 = m.exporter_iso3
       and av.product_code = c.product_code and av.period_kind = 'year' and av.year = m.year
),

-- the same month aggregated three ways: pair total, HS chapter, and each listed product with its subtree
levels as (
    select g.*, 'ALL' as hs_code, 'all' as hs_level from unit_grid as g
    union all
    select g.*, g.hs_chapter, 'chapter' from unit_grid as g
    union all
    select g.*, c.product_code, case c.code_length when 4 then 'heading' else 'subheading' end
    from unit_grid as g
    join codes as c
        on c.importer_iso3 = g.importer_iso3 and c.exporter_iso3 = g.exporter_iso3
       and c.code_length > 2 and starts_with(g.product_code, c.product_code)
),

monthly_basis as (
    -- actual trade: the month's figure where the trade data has months, else the year's monthly average
    select importer_iso3, exporter_iso3, month_start,
           bool_or(actual_month_usd is not null) as has_monthly
    from unit_grid group by all
),

aggregated as (
    select
        l.importer_iso3, l.exporter_iso3, l.month_start, l.hs_code, l.hs_level, mb.has_monthly,
        case when year(l.month_start) >= l.base_year then l.base_year end as base_year,
        sum(cast(l.base_month_usd as decimal(38, 10))) as base_trade_usd,
        sum(cast(l.base_month_usd * l.covered_share as decimal(38, 10))) as covered_base_trade_usd,
        sum(cast(l.base_month_usd * l.extra_pct / 100.0 as decimal(38, 10))) as estimated_duty_usd,
        sum(cast(l.base_month_usd * l.extra_upper_pct / 100.0 as decimal(38, 10))) as estimated_duty_upper_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd as decimal(38, 10))) end as prev_trade_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd * l.covered_share as decimal(38, 10))) end as prev_covered_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd * l.extra_pct / 100.0 as decimal(38, 10))) end as prev_duty_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd * l.extra_upper_pct / 100.0 as decimal(38, 10))) end as prev_duty_upper_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd * l.known_share as decimal(38, 10))) end as prev_known_usd,
        case when bool_or(l.has_prev) then sum(cast(l.prev_month_usd * l.known_share * l.avg_mfn_known_pct / 100.0 as decimal(38, 10))) end as prev_mfn_duty_usd,
        case when mb.has_monthly then sum(cast(coalesce(l.actual_month_usd, 0) as decimal(38, 10)))
             else sum(cast(l.actual_year_avg_usd as decimal(38, 10))) end as actual_trade_usd,
        case when mb.has_monthly then sum(cast(coalesce(l.actual_month_usd, 0) * l.covered_share as decimal(38, 10)))
             else sum(cast(l.actual_year_avg_usd * l.covered_share as decimal(38, 10))) end as actual_covered_trade_usd,
        case when mb.has_monthly then 'month' when count(l.actual_year_avg_usd) > 0 then 'year_average' end as actual_trade_basis,
        list_sort(list_distinct(flatten(list(l.measure_list) filter (where l.covered_share > 0)))) as measures,
        list_sort(list_distinct(flatten(list(l.expected_list)))) as expected_measures,
        bool_or(l.is_sample) as is_sample
    from levels as l
    join monthly_basis as mb using (importer_iso3, exporter_iso3, month_start)
    group by l.importer_iso3, l.exporter_iso3, l.month_start, l.hs_code, l.hs_level, l.base_year, mb.has_monthly
),

final as (
    select
        *,
        list_filter(expected_measures, lambda x: x <> '') as expected_list,
        100.0 * estimated_duty_usd / nullif(base_trade_usd, 0) as avg_pct,
        100.0 * prev_duty_usd / nullif(prev_trade_usd, 0) as prev_avg_pct,
        100.0 * prev_mfn_duty_usd / nullif(prev_known_usd, 0) as prev_mfn_pct
    from aggregated
)

select
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(month_start as date) as month,
    cast(hs_code as varchar) as hs_code,
    cast(hs_level as varchar) as hs_level,
    cast(base_year as integer) as base_year,
    cast(round(base_trade_usd, 4) as double) as base_trade_usd,
    cast(round(covered_base_trade_usd, 4) as double) as covered_base_trade_usd,
    cast(round(100.0 * covered_base_trade_usd / nullif(base_trade_usd, 0), 6) as double) as covered_share_pct,
    cast(round(avg_pct, 6) as double) as avg_additional_tariff_pct,
    cast(round(100.0 * estimated_duty_usd / nullif(covered_base_trade_usd, 0), 6) as double) as avg_additional_tariff_covered_pct,
    cast(round(estimated_duty_usd, 4) as double) as estimated_duty_usd,
    cast(round(actual_trade_usd, 4) as double) as actual_trade_usd,
    cast(round(actual_covered_trade_usd, 4) as double) as actual_covered_trade_usd,
    cast(actual_trade_basis as varchar) as actual_trade_basis,
    cast(nullif(array_to_string(list_filter(measures, lambda x: x <> ''), ';'), '') as varchar) as measure_ids,
    cast(len(expected_list) > 0 as boolean) as has_expected_measure,
    cast(len(expected_list) as integer) as expected_measure_count,
    cast(nullif(array_to_string(expected_list, ';'), '') as varchar) as expected_measure_ids,
    cast(round(estimated_duty_upper_usd, 4) as double) as estimated_duty_upper_bound_usd,
    cast(round(100.0 * estimated_duty_upper_usd / nullif(base_trade_usd, 0), 6) as double) as avg_additional_tariff_upper_bound_pct,
    cast(case when prev_trade_usd is not null then year(month_start) - 1 end as integer) as prev_year,
    cast(round(prev_trade_usd, 4) as double) as prev_year_trade_usd,
    cast(round(prev_covered_usd, 4) as double) as prev_year_covered_trade_usd,
    cast(round(100.0 * prev_covered_usd / nullif(prev_trade_usd, 0), 6) as double) as prev_year_covered_share_pct,
    cast(round(prev_duty_usd, 4) as double) as prev_year_estimated_duty_usd,
    cast(round(prev_avg_pct, 6) as double) as avg_additional_tariff_prev_year_pct,
    cast(round(100.0 * prev_duty_upper_usd / nullif(prev_trade_usd, 0), 6) as double) as avg_additional_tariff_prev_year_upper_bound_pct,
    cast(round(100.0 * prev_known_usd / nullif(prev_trade_usd, 0), 6) as double) as base_rate_known_share_pct,
    cast(round(prev_mfn_pct, 6) as double) as avg_mfn_tariff_prev_year_pct,
    cast(round(prev_mfn_pct + prev_avg_pct, 6) as double) as avg_total_tariff_prev_year_pct,
    cast(coalesce(is_sample, false) as boolean) as is_sample
from final
