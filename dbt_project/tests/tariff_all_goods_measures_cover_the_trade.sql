-- An all-goods measure (hs_codes ALL, with or without carve-outs) in force must reach at least 99% of
-- the pair's trade in its scope: on its first day and on the first of every month it is in force, the
-- share of the pair's imports (previous-year chapter imports, spread evenly over the chapter's HS6 lines
-- of the vintage in force) on the lines where tariff_schedule carries the measure (applied or replaced
-- by another measure), over the imports on the lines the measure covers after its carve-outs. A
-- schedule built only from the importer's WITS lines fails here (China's sample WITS file covers 14
-- chapters). Expected (E) rows are checked only when tariff_include_expected_measures includes them.
{% set include_expected = var('tariff_include_expected_measures', false) %}
{% set start = var('tariff_schedule_start', none) or '2015-01-01' %}
{% set end = var('tariff_schedule_end', none) or (modules.datetime.date.today().year ~ '-12-31') %}
with all_goods_rows as (
    select r.row_id, r.imposing_iso3, r.effective_date, coalesce(r.end_date, date '9999-12-31') as end_date
    from {{ ref('int_tariffs__registry') }} as r
    where r.effective_date is not null
      {% if not include_expected %}and not r.is_expected{% endif %}
      and r.row_id in (select row_id from {{ ref('int_tariffs__registry_tokens') }}
                       where token_role = 'covered' and token_kind = 'all')
),

check_days as (
    select a.row_id, a.imposing_iso3, d.day
    from all_goods_rows as a
    cross join lateral (
        select greatest(a.effective_date, date '{{ start }}') as day
        union
        select unnest(generate_series(date_trunc('month', a.effective_date) + interval 1 month,
                                      least(a.end_date, date '{{ end }}'), interval 1 month))::date
    ) as d
    where d.day <= least(a.end_date, date '{{ end }}') and d.day >= date '{{ start }}'
),

universe as (
    select * from {{ ref('stg_tariffs__hs6_universe') }}
),

-- the lines the row covers after its carve-outs, in the vintage of the day, for every pair it applies to
scope as (
    select distinct m.importer_iso3, m.exporter_iso3, c.row_id, c.day, m.hs6
    from check_days as c
    join {{ ref('int_tariffs__pair_measure_products') }} as m on m.row_id = c.row_id
    join universe as u on u.hs6 = m.hs6 and c.day between u.vintage_from and u.vintage_to
),

reached as (
    select distinct s.importer_iso3, s.exporter_iso3, c.row_id, c.day, s.hs6
    from check_days as c
    join {{ ref('tariff_schedule') }} as s
        on s.importer_iso3 = c.imposing_iso3 and c.day between s.valid_from and s.valid_to
    where list_contains(string_split(coalesce(s.measure_row_ids, '') || ';' || coalesce(s.replaced_row_ids, ''), ';'), c.row_id)
),

chapter_lines as (
    select left(hs6, 2) as hs_chapter, hs_vintage, vintage_from, vintage_to, count(*) as n_lines
    from universe group by all
),

chapter_imports as (
    select importer_iso3, exporter_iso3, product_code as hs_chapter, year,
           max(imports_usd) filter (where period_kind = 'year') as imports_usd
    from {{ ref('int_tariffs__trade') }}
    where code_length = 2
    group by all
),

weighted as (
    select
        s.importer_iso3, s.exporter_iso3, s.row_id, s.day,
        sum(ci.imports_usd / cl.n_lines) as scope_usd,
        sum(ci.imports_usd / cl.n_lines) filter (where r.hs6 is not null) as reached_usd
    from scope as s
    join chapter_lines as cl on cl.hs_chapter = left(s.hs6, 2) and s.day between cl.vintage_from and cl.vintage_to
    join chapter_imports as ci
        on ci.importer_iso3 = s.importer_iso3 and ci.exporter_iso3 = s.exporter_iso3
       and ci.hs_chapter = left(s.hs6, 2) and ci.year = year(s.day) - 1
    left join reached as r
        on r.importer_iso3 = s.importer_iso3 and r.exporter_iso3 = s.exporter_iso3 and r.row_id = s.row_id
       and r.day = s.day and r.hs6 = s.hs6
    group by all
)

select importer_iso3, exporter_iso3, row_id, day, scope_usd, reached_usd,
       round(100.0 * coalesce(reached_usd, 0) / scope_usd, 3) as reached_pct
from weighted
where scope_usd > 0 and coalesce(reached_usd, 0) < 0.99 * scope_usd
