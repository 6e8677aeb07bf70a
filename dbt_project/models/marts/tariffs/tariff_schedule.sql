-- Importer x exporter x HS6 x validity interval: the base rate (WITS MFN, and preferential where an
-- agreement exists), every registry measure in force, and the effective rate after the stacking
-- rules (docs/sources/tariffs.md). Products: every HS6 line of the nomenclature in force (seed
-- tariff_hs6_universe: HS2017 lines before 2022, HS2022 lines from 2022), whether or not the importer's
-- WITS file lists it (no WITS rate: mfn_rate_pct null). Intervals are cut at the vintage change, at
-- 1 January of every year with WITS data and at every effective date and day after an end date, so a
-- measure is either in force for a whole interval or not at all. Query any date with:
-- where d between valid_from and valid_to. A product-list measure covering part of an HS6's national
-- lines adds rate x share (the line average). Expected (E) measures are applied only with the dbt var
-- tariff_include_expected_measures (default false); they are always listed in expected_measure_ids.
{% set start = var('tariff_schedule_start', none) or '2015-01-01' %}
{% set end = var('tariff_schedule_end', none) or (modules.datetime.date.today().year ~ '-12-31') %}
{% set include_expected = var('tariff_include_expected_measures', false) %}
with pairs as (
    select * from {{ ref('int_tariffs__pairs') }}
),

base as (
    select * from {{ ref('int_tariffs__base_rates') }}
),

measures as (
    select * from (
        select * from {{ ref('int_tariffs__pair_measure_products') }}
        {% if not include_expected %}
        union all by name
        select * from {{ ref('int_tariffs__pair_expected_products') }}
        {% endif %}
    )
    where effective_date <= date '{{ end }}'
      and coalesce(end_date, date '9999-12-31') >= date '{{ start }}'
),

mfn as (
    select importer_iso3, hs6, year, rate_pct, is_sample from base where partner_iso3 = 'WLD'
),

preferential as (
    select importer_iso3, partner_iso3 as exporter_iso3, hs6, year, rate_pct, is_sample
    from base where partner_iso3 <> 'WLD'
),

-- the rates of every horizon year, carried forward from the latest year with a WITS rate (macro
-- tariff_rates_by_year: the same rows an ASOF join on the year picks, for a hash join)
mfn_by_year as (
    {{ tariff_rates_by_year('mfn', ['importer_iso3', 'hs6'], start, end) }}
),

preferential_by_year as (
    {{ tariff_rates_by_year('preferential', ['importer_iso3', 'exporter_iso3', 'hs6'], start, end) }}
),

-- products per pair: every HS6 line of the vintage in force, over the part of the horizon it covers
universe as (
    select hs6, hs_vintage,
           greatest(vintage_from, date '{{ start }}') as span_from,
           least(vintage_to, date '{{ end }}') as span_to
    from {{ ref('stg_tariffs__hs6_universe') }}
    where vintage_from <= date '{{ end }}' and vintage_to >= date '{{ start }}'
),

pair_lines as (
    select p.importer_iso3, p.exporter_iso3, u.hs6, u.hs_vintage, u.span_from, u.span_to
    from pairs as p cross join universe as u
),

line_measures as (
    select pl.importer_iso3, pl.exporter_iso3, pl.hs6, pl.hs_vintage, pl.span_from, pl.span_to,
           m.effective_date, m.end_date
    from measures as m
    join pair_lines as pl
        on pl.importer_iso3 = m.importer_iso3 and pl.exporter_iso3 = m.exporter_iso3 and pl.hs6 = m.hs6
       and (m.hs_vintage is null or m.hs_vintage = pl.hs_vintage)
),

boundaries as (
    select importer_iso3, exporter_iso3, hs6, hs_vintage, span_to, span_from as boundary from pair_lines
    union
    select pl.importer_iso3, pl.exporter_iso3, pl.hs6, pl.hs_vintage, pl.span_to, make_date(b.year, 1, 1)
    from pair_lines as pl
    join base as b
        on b.importer_iso3 = pl.importer_iso3 and b.hs6 = pl.hs6
       and b.partner_iso3 in ('WLD', pl.exporter_iso3)
    where make_date(b.year, 1, 1) > pl.span_from and make_date(b.year, 1, 1) <= pl.span_to
    union
    select importer_iso3, exporter_iso3, hs6, hs_vintage, span_to, effective_date from line_measures
    where effective_date > span_from and effective_date <= span_to
    union
    select importer_iso3, exporter_iso3, hs6, hs_vintage, span_to, end_date + 1 from line_measures
    where end_date + 1 > span_from and end_date + 1 <= span_to
),

intervals as (
    select
        importer_iso3,
        exporter_iso3,
        hs6,
        hs_vintage,
        boundary as valid_from,
        coalesce(lead(boundary) over (partition by importer_iso3, exporter_iso3, hs6, hs_vintage order by boundary) - 1,
                 span_to) as valid_to
    from boundaries
),

in_force as (
    select
        i.importer_iso3,
        i.exporter_iso3,
        i.hs6,
        i.hs_vintage,
        i.valid_from,
        i.valid_to,
        -- ordered by row_id, the struct's first field (ties by the next ones): list_sort of the list gives the
        -- order of an ordered aggregate (list(... order by row_id)) in about half its time
        list_sort(list(struct_pack(
            row_id := m.row_id, measure_id := m.measure_id, rate := m.rate_pct, rate_type := m.rate_type,
            replaces := m.replaces_measures, usmca_exempt := coalesce(m.exemption = 'usmca_qualifying', false),
            is_expected := m.is_expected, share := m.coverage_share
        )) filter (where m.row_id is not null)) as active
    from intervals as i
    left join measures as m
        on m.importer_iso3 = i.importer_iso3
       and m.exporter_iso3 = i.exporter_iso3
       and m.hs6 = i.hs6
       and (m.hs_vintage is null or m.hs_vintage = i.hs_vintage)
       and m.effective_date <= i.valid_from
       and coalesce(m.end_date, date '9999-12-31') >= i.valid_from
    group by all
),

-- expected (E) measures take part in the stacking only when the dbt var says so
considered as (
    select
        *,
        coalesce(active, []) as all_rows,
        list_filter(coalesce(active, []), lambda r: {{ 'true' if include_expected else 'not r.is_expected' }}) as rows_
    from in_force
),

-- stacking step 1: a measure in force replaces the measures it names on the share of the product's
-- lines it covers (full replacement when it covers the whole HS6, e.g. Section 232 on chapter 72)
replaced as (
    select
        *,
        list_transform(list_filter(rows_, lambda r: r.rate_type <> 'in_quota'), lambda r: struct_pack(
            row_id := r.row_id, measure_id := r.measure_id, rate := r.rate, rate_type := r.rate_type,
            usmca_exempt := r.usmca_exempt, is_expected := r.is_expected, replaces := r.replaces,
            share := greatest(r.share - coalesce(list_max(list_transform(
                list_filter(rows_, lambda x: x.rate_type <> 'in_quota' and list_contains(x.replaces, r.measure_id)),
                lambda x: x.share)), 0), 0),
            is_replaced := len(list_filter(rows_, lambda x: x.rate_type <> 'in_quota' and list_contains(x.replaces, r.measure_id))) > 0
        )) as stacked,
        flatten(list_transform(list_filter(rows_, lambda r: r.rate_type <> 'in_quota'), lambda r: r.replaces)) as replaced_ids,
        list_filter(rows_, lambda r: r.rate_type = 'in_quota') as quota_rows
    from considered
),

-- stacking step 2: what remains applies; ad valorem additional rates add up (x the share of the lines
-- they cover), a total rate replaces the base
remaining as (
    select
        *,
        list_filter(stacked, lambda r: r.share > 0) as applied,
        list_filter(stacked, lambda r: r.is_replaced) as replaced_rows,
        case when len(quota_rows) > 0 then list_filter(stacked, lambda r: r.share > 0
            and not list_contains(flatten(list_transform(quota_rows, lambda q: q.replaces)), r.measure_id))
        end as applied_in_quota,
        list_filter(all_rows, lambda r: r.is_expected) as expected_rows
    from replaced
),

rates as (
    select
        r.*,
        coalesce(list_sum(list_transform(list_filter(applied, lambda x: x.rate_type = 'ad_valorem_additional'), lambda x: x.rate * x.share)), 0) as additional_rate_pct,
        coalesce(list_sum(list_transform(list_filter(applied, lambda x: x.rate_type = 'ad_valorem_additional' and not x.usmca_exempt), lambda x: x.rate * x.share)), 0) as additional_rate_usmca_pct,
        list_max(list_transform(list_filter(applied, lambda x: x.rate_type = 'total'), lambda x: x.rate)) as total_rate_pct,
        list_max(list_transform(quota_rows, lambda x: x.rate)) as quota_rate_pct,
        coalesce(list_sum(list_transform(list_filter(applied_in_quota, lambda x: x.rate_type = 'ad_valorem_additional'), lambda x: x.rate * x.share)), 0) as additional_in_quota_pct,
        mfn.rate_pct as mfn_rate_pct,
        mfn.year as mfn_year,
        mfn.is_sample as mfn_is_sample,
        pref.rate_pct as preferential_rate_pct,
        pref.year as preferential_year,
        pref.is_sample as pref_is_sample
    from remaining as r
    left join mfn_by_year as mfn
        on mfn.importer_iso3 = r.importer_iso3 and mfn.hs6 = r.hs6 and mfn.horizon_year = year(r.valid_from)
    left join preferential_by_year as pref
        on pref.importer_iso3 = r.importer_iso3 and pref.exporter_iso3 = r.exporter_iso3
       and pref.hs6 = r.hs6 and pref.horizon_year = year(r.valid_from)
),

final as (
    select
        importer_iso3,
        exporter_iso3,
        hs6,
        left(hs6, 2) as hs_chapter,
        hs_vintage,
        valid_from,
        valid_to,
        mfn_rate_pct,
        mfn_year,
        preferential_rate_pct,
        preferential_year,
        array_to_string(list_transform(applied, lambda x: x.row_id), ';') as measure_row_ids,
        array_to_string(list_sort(list_distinct(list_transform(applied, lambda x: x.measure_id))), ';') as measure_ids,
        array_to_string(list_transform(replaced_rows, lambda x: x.row_id), ';') as replaced_row_ids,
        len(applied) as n_measures,
        -- after replacement the shares of the applied rows are disjoint parts of the HS6 (lists 1-4A are
        -- disjoint HTS8 sets; a replacing list takes its share out of the replaced one): their sum, capped at 1
        least(coalesce(list_sum(list_transform(list_filter(applied, lambda x: (x.rate_type = 'ad_valorem_additional' and x.rate > 0)
                                                           or x.rate_type = 'total'), lambda x: x.share)), 0), 1) as measure_coverage_share,
        additional_rate_pct,
        additional_rate_usmca_pct,
        total_rate_pct,
        coalesce(total_rate_pct, mfn_rate_pct) + additional_rate_pct as effective_rate_pct,
        coalesce(total_rate_pct, preferential_rate_pct, mfn_rate_pct) + additional_rate_usmca_pct as effective_rate_usmca_qualifying_pct,
        case when quota_rate_pct is not null then quota_rate_pct + additional_in_quota_pct end as in_quota_rate_pct,
        array_to_string(list_sort(list_distinct(list_transform(expected_rows, lambda x: x.measure_id))), ';') as expected_measure_ids,
        len(list_distinct(list_transform(expected_rows, lambda x: x.measure_id))) as n_expected_measures,
        len(expected_rows) > 0 as has_expected_measure,
        coalesce(mfn_is_sample, false) or coalesce(pref_is_sample, false) as is_sample
    from rates
)

select
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(hs6 as varchar) as hs6,
    cast(hs_chapter as varchar) as hs_chapter,
    cast(hs_vintage as varchar) as hs_vintage,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    cast(mfn_rate_pct as double) as mfn_rate_pct,
    cast(mfn_year as integer) as mfn_year,
    cast(preferential_rate_pct as double) as preferential_rate_pct,
    cast(preferential_year as integer) as preferential_year,
    cast(nullif(measure_row_ids, '') as varchar) as measure_row_ids,
    cast(nullif(measure_ids, '') as varchar) as measure_ids,
    cast(nullif(replaced_row_ids, '') as varchar) as replaced_row_ids,
    cast(n_measures as integer) as n_measures,
    cast(round(measure_coverage_share, 6) as double) as measure_coverage_share,
    cast(additional_rate_pct as double) as additional_rate_pct,
    cast(additional_rate_usmca_pct as double) as additional_rate_usmca_qualifying_pct,
    cast(total_rate_pct as double) as total_rate_pct,
    cast(effective_rate_pct as double) as effective_rate_pct,
    cast(effective_rate_usmca_qualifying_pct as double) as effective_rate_usmca_qualifying_pct,
    cast(in_quota_rate_pct as double) as in_quota_rate_pct,
    cast(coalesce(has_expected_measure, false) as boolean) as has_expected_measure,
    cast(nullif(expected_measure_ids, '') as varchar) as expected_measure_ids,
    cast(n_expected_measures as integer) as n_expected_measures,
    cast(is_sample as boolean) as is_sample
from final
