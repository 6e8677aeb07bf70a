-- The checked registry: one row per measure step. Refuses to build (the run fails before
-- publication) while int_tariffs__registry_problems has rows, naming every row and field.
with registry as (
    select * from {{ ref('stg_tariffs__measures_registry') }}
),

problems as (
    select
        count(*) as n_problems,
        string_agg('row ' || row_id || ', field ' || field || ': ' || problem, '; ' order by row_id, field) as message
    from {{ ref('int_tariffs__registry_problems') }}
),

unlisted as (
    select distinct row_id from {{ ref('int_tariffs__registry_tokens') }} where token_kind = 'unlisted'
),

checked as (
    select r.*
    from registry as r
    cross join problems as p
    where case
        when p.n_problems > 0 then error('tariff measures registry rejected (' || p.n_problems || ' problem(s)): ' || p.message)
        else true
    end
)

select
    c.row_id,
    c.measure_id,
    c.imposing_iso3,
    c.target_iso3,
    c.instrument,
    c.hs_codes,
    c.hs_excluded,
    c.rate_pct,
    c.rate_type,
    c.replaces_measures,
    c.exemption,
    c.announced_date,
    c.effective_date,
    c.end_date,
    c.confidence,
    c.confidence = 'E' as is_expected,
    c.row_id in (select row_id from unlisted) as has_unlisted_products,
    c.source_publisher,
    c.source_ref,
    c.notes
from checked as c
