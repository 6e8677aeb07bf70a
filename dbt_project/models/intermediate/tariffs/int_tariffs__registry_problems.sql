-- Every broken registry rule, one row per (row, field, problem). Empty when the registry is good.
-- int_tariffs__registry refuses to build while this has rows (the run stops before publication,
-- naming row and field); the singular test tariff_registry_rules and the GX suite
-- registry_tariff_measures report the same rows.
{% set instruments = ['mfn', 'surtax', 'retaliatory', 'counter_tariff', 'anti_dumping_deposit', 'safeguard',
                      'section_232', 'section_301', 'ieepa', 'tariff_rate_quota', 'negotiated_reduction'] %}
with registry as (
    select
        *,
        coalesce(row_id, '(row without row_id, measure ' || coalesce(measure_id, '?') || ')') as row_label
    from {{ ref('stg_tariffs__measures_registry') }}
),

tokens as (
    select * from {{ ref('int_tariffs__registry_tokens') }}
),

hs_codes as (
    select * from {{ ref('int_tariffs__hs_codes') }}
),

products as (
    select * from {{ ref('int_tariffs__registry_hs6') }}
),

lists as (
    select *, 'list ' || coalesce(list_id, '(empty)') || ' (' || coalesce(hs_vintage, '?') || ' ' || hs_code || ')' as list_label
    from {{ ref('stg_tariffs__product_lists') }}
),

field_checks as (
    select row_label, 'row_id' as field, 'missing' as problem from registry where row_id is null
    union all
    select row_label, 'row_id', 'duplicate row_id (' || count(*) || ' rows)' from registry
    where row_id is not null group by row_label having count(*) > 1
    union all
    select row_label, 'measure_id', 'missing' from registry where measure_id is null
    union all
    select row_label, 'imposing_iso3', 'not an ISO3 code: ' || coalesce(imposing_iso3, '(empty)') from registry
    where not regexp_full_match(coalesce(imposing_iso3, ''), '[A-Z]{3}') or imposing_iso3 = 'ALL'
    union all
    select row_label, 'target_iso3', 'not an ISO3 code or ALL: ' || coalesce(target_iso3, '(empty)') from registry
    where not regexp_full_match(coalesce(target_iso3, ''), '[A-Z]{3}')
    union all
    select row_label, 'target_iso3', 'same country as imposing_iso3' from registry where target_iso3 = imposing_iso3
    union all
    select row_label, 'instrument', 'unknown instrument: ' || coalesce(instrument, '(empty)') from registry
    where instrument is null or instrument not in ('{{ instruments | join("', '") }}')
    union all
    select row_label, 'hs_codes', 'missing (use ALL or UNLISTED when the source gives no codes)' from registry
    where hs_codes = ''
    union all
    select row_label, 'rate_pct', 'missing or not a number: ' || coalesce(rate_pct_text, '(empty)') from registry
    where rate_pct is null
    union all
    select row_label, 'rate_pct', 'out of range [0, 200]: ' || rate_pct_text from registry
    where rate_pct < 0 or rate_pct > 200 or isnan(rate_pct)
    union all
    select row_label, 'rate_type', 'unknown rate type: ' || coalesce(rate_type, '(empty)') from registry
    where rate_type is null or rate_type not in ('ad_valorem_additional', 'total', 'in_quota')
    union all
    select row_label, 'rate_type', 'in_quota rates belong to tariff_rate_quota rows' from registry
    where (rate_type = 'in_quota') <> (coalesce(instrument, '') = 'tariff_rate_quota')
    union all
    select row_label, 'exemption', 'unknown exemption: ' || exemption from registry
    where exemption is not null and exemption not in ('usmca_qualifying')
    union all
    select row_label, 'announced_date', 'not a date (YYYY-MM-DD): ' || announced_date_text from registry
    where announced_date_text is not null and announced_date is null
    union all
    select row_label, 'effective_date', 'not a date (YYYY-MM-DD): ' || effective_date_text from registry
    where effective_date_text is not null and effective_date is null
    union all
    select row_label, 'end_date', 'not a date (YYYY-MM-DD): ' || end_date_text from registry
    where end_date_text is not null and end_date is null
    union all
    select row_label, 'effective_date', 'missing (only expected [E] rows may leave it open)' from registry
    where effective_date_text is null and coalesce(confidence, '') <> 'E'
    union all
    select row_label, 'end_date', 'end_date without effective_date' from registry
    where end_date_text is not null and effective_date_text is null
    union all
    select row_label, 'announced_date', 'after effective_date (' || announced_date || ' > ' || effective_date || ')'
    from registry where announced_date > effective_date
    union all
    select row_label, 'end_date', 'before effective_date (' || end_date || ' < ' || effective_date || ')'
    from registry where end_date < effective_date
    union all
    select row_label, 'confidence', 'must be S, 1 or E: ' || coalesce(confidence, '(empty)') from registry
    where confidence is null or confidence not in ('S', '1', 'E')
    union all
    select row_label, 'source_publisher', 'missing: every row needs a source' from registry where source_publisher is null
    union all
    select row_label, 'source_ref', 'missing: every row needs a source document or URL' from registry where source_ref is null
),

token_checks as (
    select r.row_label, case t.token_role when 'covered' then 'hs_codes' else 'hs_excluded' end as field,
           'malformed HS token ' || t.token || ' (expected 2/4/6 digits, a range like 7206-7229, ALL or UNLISTED)' as problem
    from tokens as t join registry as r using (row_id)
    where t.token_kind = 'malformed'
    union all
    select r.row_label, 'hs_excluded', 'ALL/UNLISTED/LIST cannot be excluded: ' || t.token
    from tokens as t join registry as r using (row_id)
    where t.token_role = 'excluded' and t.token_kind in ('all', 'unlisted', 'list')
    union all
    select r.row_label, 'hs_codes', 'unknown product list ' || t.list_id || ' (not in tariff_product_lists)'
    from tokens as t join registry as r using (row_id)
    where t.token_kind = 'list' and t.list_id not in (select list_id from lists where list_id is not null)
    union all
    select r.row_label, 'hs_codes', 'product lists (LIST:) belong to ad_valorem_additional rows'
    from tokens as t join registry as r using (row_id)
    where t.token_kind = 'list' and coalesce(r.rate_type, '') <> 'ad_valorem_additional'
    union all
    select r.row_label, case t.token_role when 'covered' then 'hs_codes' else 'hs_excluded' end,
           'reversed HS range ' || t.token
    from tokens as t join registry as r using (row_id)
    where t.token_kind = 'range' and t.code_from > t.code_to
    union all
    select r.row_label, case t.token_role when 'covered' then 'hs_codes' else 'hs_excluded' end,
           'unknown HS code ' || e.code || ' (not in the HS reference)'
    from tokens as t
    join registry as r using (row_id)
    cross join lateral (select unnest([t.code_from, t.code_to]) as code) as e
    where t.token_kind in ('code', 'range')
      and e.code not in (select hs_code from hs_codes)
    group by all
    union all
    select r.row_label, 'hs_codes', 'covers no HS6 product after exclusions'
    from registry as r
    where r.row_id not in (select row_id from products)
      and r.row_id not in (select row_id from tokens where token_kind in ('unlisted', 'malformed'))
      and r.row_id not in (select t.row_id from tokens as t where t.token_kind = 'list'
                           and t.list_id not in (select list_id from lists where list_id is not null))
      and r.row_id in (select row_id from tokens where token_role = 'covered')
),

-- the product lists' own rules (reported as 'list <id> (<vintage> <code>)', field = the list column)
list_checks as (
    select list_label as row_label, 'list_id' as field, 'missing' as problem from lists where list_id is null
    union all
    select list_label, 'hs_vintage', 'must be H5 or H6: ' || coalesce(hs_vintage, '(empty)') from lists
    where hs_vintage is null or hs_vintage not in ('H5', 'H6')
    union all
    select list_label, 'hs_code', 'malformed HS code (expected 2/4/6 digits, a range like 7208-7229 or ALL)' from lists
    where code_kind = 'malformed'
    union all
    select list_label, 'hs_code', 'unknown HS code ' || e.code || ' (not in the HS reference)'
    from lists as l
    cross join lateral (select unnest([l.code_from, l.code_to]) as code) as e
    where l.code_kind in ('code', 'range') and e.code not in (select hs_code from hs_codes)
    group by all
    union all
    select list_label, 'share_of_parent', 'missing or outside [0, 1]: ' || coalesce(share_of_parent_text, '(empty)') from lists
    where share_of_parent is null or share_of_parent < 0 or share_of_parent > 1
    union all
    select list_label, 'confidence', 'must be S or 1: ' || coalesce(confidence, '(empty)') from lists
    where confidence is null or confidence not in ('S', '1')
    union all
    select list_label, 'source_ref', 'missing: every list row needs a publisher and a document' from lists
    where source_publisher is null or source_ref is null
),

steps as (
    select r.row_id, r.measure_id, r.effective_date, coalesce(r.end_date, date '9999-12-31') as end_date
    from registry as r
    where r.effective_date is not null and r.row_id is not null
),

step_products as (
    select distinct row_id, hs6 from products
    union all
    select row_id, 'UNLISTED' from tokens where token_kind = 'unlisted'
),

step_overlaps as (
    select
        b.row_id,
        a.row_id as other_row_id,
        count(*) as n_products,
        min(pa.hs6) as example_product
    from steps as a
    join steps as b  -- reported on the later step (later effective date, then row id)
        on a.measure_id = b.measure_id
       and (a.effective_date, a.row_id) < (b.effective_date, b.row_id)
       and a.effective_date <= b.end_date
       and b.effective_date <= a.end_date
    join step_products as pa on pa.row_id = a.row_id
    join step_products as pb on pb.row_id = b.row_id and pb.hs6 = pa.hs6
    group by all
),

overlap_checks as (
    select
        r.row_label,
        'effective_date' as field,
        'overlaps row ' || o.other_row_id || ' of the same measure in time on ' || o.n_products
            || ' product(s), e.g. ' || o.example_product as problem
    from step_overlaps as o join registry as r using (row_id)
),

replace_checks as (
    select r.row_label, 'replaces_measures' as field, 'unknown measure id ' || m.replaced as problem
    from registry as r
    cross join lateral (select unnest(r.replaces_measures) as replaced) as m
    where m.replaced not in (select measure_id from registry where measure_id is not null)
)

select row_label as row_id, field, problem from field_checks
union all
select row_label, field, problem from list_checks
union all
select row_label, field, problem from token_checks
union all
select row_label, field, problem from overlap_checks
union all
select row_label, field, problem from replace_checks
