-- Importer x exporter x HS6 x validity interval: the base rate (WITS MFN, and preferential where an
-- agreement exists), every registry measure in force, and the effective rate after the stacking
-- rules (docs/sources/tariffs.md). Intervals are cut at 1 January of every year with WITS data and
-- at every effective date and day after an end date, so a measure is either in force for a whole
-- interval or not at all. Query any date with: where d between valid_from and valid_to.
{% set start = var('tariff_schedule_start', none) or '2015-01-01' %}
{% set end = var('tariff_schedule_end', none) or (modules.datetime.date.today().year ~ '-12-31') %}
with pairs as (
    select * from {{ ref('int_tariffs__pairs') }}
),

base as (
    select * from {{ ref('int_tariffs__base_rates') }}
),

measures as (
    select * from {{ ref('int_tariffs__pair_measure_products') }}
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

-- products per pair: the importer's WITS lines, plus every product a measure names explicitly
-- (measures on ALL products only add products when the importer has no WITS lines at all)
importers_with_lines as (
    select distinct importer_iso3 from base
),

pair_products as (
    select distinct p.importer_iso3, p.exporter_iso3, b.hs6
    from pairs as p join base as b on b.importer_iso3 = p.importer_iso3
    union
    select distinct m.importer_iso3, m.exporter_iso3, m.hs6
    from measures as m
    left join {{ ref('int_tariffs__registry_tokens') }} as t
        on t.row_id = m.row_id and t.token_role = 'covered' and t.token_kind = 'all'
    where t.row_id is null
       or m.importer_iso3 not in (select importer_iso3 from importers_with_lines)
),

boundaries as (
    select importer_iso3, exporter_iso3, hs6, date '{{ start }}' as boundary from pair_products
    union
    select pp.importer_iso3, pp.exporter_iso3, pp.hs6, make_date(b.year, 1, 1)
    from pair_products as pp
    join base as b
        on b.importer_iso3 = pp.importer_iso3 and b.hs6 = pp.hs6
       and b.partner_iso3 in ('WLD', pp.exporter_iso3)
    where make_date(b.year, 1, 1) > date '{{ start }}' and make_date(b.year, 1, 1) <= date '{{ end }}'
    union
    select m.importer_iso3, m.exporter_iso3, m.hs6, m.effective_date from measures as m
    semi join pair_products as pp using (importer_iso3, exporter_iso3, hs6)
    where m.effective_date > date '{{ start }}'
    union
    select m.importer_iso3, m.exporter_iso3, m.hs6, m.end_date + 1 from measures as m
    semi join pair_products as pp using (importer_iso3, exporter_iso3, hs6)
    where m.end_date + 1 > date '{{ start }}' and m.end_date + 1 <= date '{{ end }}'
),

intervals as (
    select
        importer_iso3,
        exporter_iso3,
        hs6,
        boundary as valid_from,
        coalesce(lead(boundary) over (partition by importer_iso3, exporter_iso3, hs6 order by boundary) - 1,
                 date '{{ end }}') as valid_to
    from boundaries
),

in_force as (
    select
        i.importer_iso3,
        i.exporter_iso3,
        i.hs6,
        i.valid_from,
        i.valid_to,
        list(struct_pack(
            row_id := m.row_id, measure_id := m.measure_id, rate := m.rate_pct, rate_type := m.rate_type,
            replaces := m.replaces_measures, usmca_exempt := coalesce(m.exemption = 'usmca_qualifying', false),
            is_expected := m.is_expected
        ) order by m.row_id) filter (where m.row_id is not null) as active
    from intervals as i
    left join measures as m
        on m.importer_iso3 = i.importer_iso3
       and m.exporter_iso3 = i.exporter_iso3
       and m.hs6 = i.hs6
       and m.effective_date <= i.valid_from
       and coalesce(m.end_date, date '9999-12-31') >= i.valid_from
    group by all
),

-- stacking step 1: measures replaced by another measure in force on the same product
replaced as (
    select
        *,
        coalesce(active, []) as rows_,
        flatten(list_transform(list_filter(coalesce(active, []), lambda r: r.rate_type <> 'in_quota'),
                               lambda r: r.replaces)) as replaced_ids,
        list_filter(coalesce(active, []), lambda r: r.rate_type = 'in_quota') as quota_rows
    from in_force
),

-- stacking step 2: what remains applies; ad valorem additional rates add up, a total rate replaces the base
remaining as (
    select
        *,
        list_filter(rows_, lambda r: r.rate_type <> 'in_quota' and not list_contains(replaced_ids, r.measure_id)) as applied,
        list_filter(rows_, lambda r: r.rate_type <> 'in_quota' and list_contains(replaced_ids, r.measure_id)) as replaced_rows,
        case when len(quota_rows) > 0 then list_filter(rows_, lambda r: r.rate_type <> 'in_quota'
            and not list_contains(list_concat(replaced_ids, flatten(list_transform(quota_rows, lambda q: q.replaces))), r.measure_id))
        end as applied_in_quota
    from replaced
),

rates as (
    select
        r.*,
        coalesce(list_sum(list_transform(list_filter(applied, lambda x: x.rate_type = 'ad_valorem_additional'), lambda x: x.rate)), 0) as additional_rate_pct,
        coalesce(list_sum(list_transform(list_filter(applied, lambda x: x.rate_type = 'ad_valorem_additional' and not x.usmca_exempt), lambda x: x.rate)), 0) as additional_rate_usmca_pct,
        list_max(list_transform(list_filter(applied, lambda x: x.rate_type = 'total'), lambda x: x.rate)) as total_rate_pct,
        list_max(list_transform(quota_rows, lambda x: x.rate)) as quota_rate_pct,
        coalesce(list_sum(list_transform(list_filter(applied_in_quota, lambda x: x.rate_type = 'ad_valorem_additional'), lambda x: x.rate)), 0) as additional_in_quota_pct,
        mfn.rate_pct as mfn_rate_pct,
        mfn.year as mfn_year,
        mfn.is_sample as mfn_is_sample,
        pref.rate_pct as preferential_rate_pct,
        pref.year as preferential_year,
        pref.is_sample as pref_is_sample
    from remaining as r
    asof left join mfn
        on mfn.importer_iso3 = r.importer_iso3 and mfn.hs6 = r.hs6 and mfn.year <= year(r.valid_from)
    asof left join preferential as pref
        on pref.importer_iso3 = r.importer_iso3 and pref.exporter_iso3 = r.exporter_iso3
       and pref.hs6 = r.hs6 and pref.year <= year(r.valid_from)
),

final as (
    select
        importer_iso3,
        exporter_iso3,
        hs6,
        left(hs6, 2) as hs_chapter,
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
        additional_rate_pct,
        total_rate_pct,
        coalesce(total_rate_pct, mfn_rate_pct) + additional_rate_pct as effective_rate_pct,
        coalesce(total_rate_pct, preferential_rate_pct, mfn_rate_pct) + additional_rate_usmca_pct as effective_rate_usmca_qualifying_pct,
        case when quota_rate_pct is not null then quota_rate_pct + additional_in_quota_pct end as in_quota_rate_pct,
        list_bool_or(list_transform(list_concat(applied, quota_rows), lambda x: x.is_expected)) as has_expected_measure,
        coalesce(mfn_is_sample, false) or coalesce(pref_is_sample, false) as is_sample
    from rates
)

select
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(hs6 as varchar) as hs6,
    cast(hs_chapter as varchar) as hs_chapter,
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
    cast(additional_rate_pct as double) as additional_rate_pct,
    cast(total_rate_pct as double) as total_rate_pct,
    cast(effective_rate_pct as double) as effective_rate_pct,
    cast(effective_rate_usmca_qualifying_pct as double) as effective_rate_usmca_qualifying_pct,
    cast(in_quota_rate_pct as double) as in_quota_rate_pct,
    cast(coalesce(has_expected_measure, false) as boolean) as has_expected_measure,
    cast(is_sample as boolean) as is_sample
from final
