-- One row per registry row (measure step): trimmed and typed. Values that do not parse stay
-- null beside their raw text, so int_tariffs__registry_problems can name the row and field.
with source as (
    select * from {{ ref('tariff_measures_registry') }}
),

trimmed as (
    select
        nullif(trim(row_id), '') as row_id,
        nullif(trim(measure_id), '') as measure_id,
        upper(nullif(trim(imposing_iso3), '')) as imposing_iso3,
        upper(nullif(trim(target_iso3), '')) as target_iso3,
        lower(nullif(trim(instrument), '')) as instrument,
        upper(replace(coalesce(trim(hs_codes), ''), ' ', '')) as hs_codes,
        upper(replace(coalesce(trim(hs_excluded), ''), ' ', '')) as hs_excluded,
        nullif(trim(rate_pct), '') as rate_pct_text,
        lower(nullif(trim(rate_type), '')) as rate_type,
        upper(replace(coalesce(trim(replaces_measures), ''), ' ', '')) as replaces_measures,
        lower(nullif(trim(exemption), '')) as exemption,
        nullif(trim(announced_date), '') as announced_date_text,
        nullif(trim(effective_date), '') as effective_date_text,
        nullif(trim(end_date), '') as end_date_text,
        upper(nullif(trim(confidence), '')) as confidence,
        nullif(trim(source_publisher), '') as source_publisher,
        nullif(trim(source_ref), '') as source_ref,
        nullif(trim(notes), '') as notes
    from source
),

typed as (
    select
        *,
        try_cast(rate_pct_text as double) as rate_pct,
        try_strptime(announced_date_text, '%Y-%m-%d')::date as announced_date,
        try_strptime(effective_date_text, '%Y-%m-%d')::date as effective_date,
        try_strptime(end_date_text, '%Y-%m-%d')::date as end_date
    from trimmed
)

select
    row_id, measure_id, imposing_iso3, target_iso3, instrument, hs_codes, hs_excluded,
    rate_pct, rate_pct_text, rate_type,
    case when replaces_measures = '' then [] else string_split(replaces_measures, ';') end as replaces_measures,
    exemption, announced_date, announced_date_text, effective_date, effective_date_text,
    end_date, end_date_text, confidence, source_publisher, source_ref, notes
from typed
