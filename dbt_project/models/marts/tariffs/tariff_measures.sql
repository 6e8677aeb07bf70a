-- The measures registry, conformed: one row per registry row (measure step) x HS code as the source
-- gives it (chapter, heading, subheading, range, ALL or UNLISTED), with its status on the as-of date
-- (dbt var tariff_as_of_date, default: the day the models are built). A product list (LIST:<id>) shows
-- how many HS6 products and national lines it covers, and how it was derived.
{% set as_of = var('tariff_as_of_date', none) %}
with registry as (
    select * from {{ ref('int_tariffs__registry') }}
),

tokens as (
    select * from {{ ref('int_tariffs__registry_tokens') }} where token_role = 'covered'
),

products as (
    select * from {{ ref('int_tariffs__registry_hs6') }}
),

excluded as (
    select * from {{ ref('int_tariffs__registry_tokens') }} where token_role = 'excluded'
),

lists as (
    select
        list_id,
        sum(listed_lines) as n_national_lines,
        string_agg(distinct list_level, ';' order by list_level) as list_levels,
        min(confidence) as list_confidence
    from {{ ref('stg_tariffs__product_lists') }}
    where hs_vintage = 'H6' or list_id not in (select list_id from {{ ref('stg_tariffs__product_lists') }} where hs_vintage = 'H6')
    group by all
),

as_of as (
    select {% if as_of %}date '{{ as_of }}'{% else %}current_date{% endif %} as as_of_date
),

token_products as (
    select t.row_id, t.token, count(distinct p.hs6) as n_hs6
    from tokens as t
    left join products as p
        on p.row_id = t.row_id
       and (t.token_kind = 'all' or left(p.hs6, t.code_length) between t.code_from and t.code_to
            or (t.token_kind = 'list' and p.hs_vintage is not null))
    group by all
),

joined as (
    select
        r.*,
        t.token as hs_code,
        case t.token_kind
            when 'all' then 'all'
            when 'unlisted' then 'unlisted'
            when 'range' then 'range'
            when 'list' then 'list'
            else case t.code_length when 2 then 'chapter' when 4 then 'heading' else 'subheading' end
        end as hs_level,
        tp.n_hs6 as n_hs6_covered,
        t.list_id as product_list_id,
        l.n_national_lines,
        l.list_levels,
        case when t.token_kind = 'list' then l.list_confidence end as list_confidence,
        a.as_of_date
    from registry as r
    join tokens as t on t.row_id = r.row_id
    left join token_products as tp on tp.row_id = t.row_id and tp.token = t.token
    left join lists as l on l.list_id = t.list_id
    cross join as_of as a
),

with_status as (
    select
        *,
        case
            when effective_date is null then 'expected_undated'
            when effective_date > as_of_date and coalesce(announced_date, as_of_date) <= as_of_date then 'announced'
            when effective_date > as_of_date then 'future'
            when end_date < as_of_date then 'ended'
            else 'in_force'
        end as status_as_of
    from joined
)

select
    cast(row_id as varchar) as row_id,
    cast(measure_id as varchar) as measure_id,
    cast(imposing_iso3 as varchar) as imposing_iso3,
    cast(target_iso3 as varchar) as target_iso3,
    cast(instrument as varchar) as instrument,
    cast(hs_code as varchar) as hs_code,
    cast(hs_level as varchar) as hs_level,
    cast(nullif(hs_excluded, '') as varchar) as hs_excluded,
    cast(n_hs6_covered as integer) as n_hs6_covered,
    cast(product_list_id as varchar) as product_list_id,
    cast(n_national_lines as integer) as n_national_lines_listed,
    cast(list_levels as varchar) as list_level,
    cast(list_confidence as varchar) as list_confidence,
    cast(rate_pct as double) as rate_pct,
    cast(rate_type as varchar) as rate_type,
    cast(nullif(array_to_string(replaces_measures, ';'), '') as varchar) as replaces_measures,
    cast(exemption as varchar) as exemption,
    cast(announced_date as date) as announced_date,
    cast(effective_date as date) as effective_date,
    cast(end_date as date) as end_date,
    cast(confidence as varchar) as confidence,
    cast(is_expected as boolean) as is_expected,
    cast(status_as_of as varchar) as status_as_of,
    cast(as_of_date as date) as as_of_date,
    cast(source_publisher as varchar) as source_publisher,
    cast(source_ref as varchar) as source_ref,
    cast(notes as varchar) as notes,
    cast(false as boolean) as is_sample
from with_status
