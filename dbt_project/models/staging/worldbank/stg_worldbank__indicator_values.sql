-- One row per country x indicator x year: typed and renamed; re-fetches resolved to the latest load.
with source as (
    {{ accepted_records('worldbank', 'worldbank_indicator') }}
),

renamed as (
    select
        upper(countryiso3code) as country_iso3,
        upper(country_id) as country_iso2,
        country_value as country_name,
        indicator_id as indicator_code,
        indicator_value as indicator_label,
        cast(date as integer) as year,
        cast(value as double) as value,
        nullif(obs_status, '') as obs_status,
        _synthetic as is_sample,
        _run_id as loaded_run_id,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file,
        record_no
    from source
    where countryiso3code is not null and countryiso3code <> ''
),

latest as (
    select *
    from renamed
    qualify row_number() over (
        partition by country_iso3, indicator_code, year
        order by observed_at desc, loaded_at desc, landed_file desc, record_no
    ) = 1
)

select
    country_iso3, country_iso2, country_name, indicator_code, indicator_label, year, value, obs_status,
    is_sample, loaded_run_id, loaded_at
from latest
