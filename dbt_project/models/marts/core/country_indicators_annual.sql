-- Country x year x indicator, with indicator name and unit: the World Bank country-level series
-- (tariff averages against all partners, trade totals, GDP). Not bilateral figures.
with values_ as (
    select * from {{ ref('stg_worldbank__indicator_values') }}
),

indicators as (
    select * from {{ ref('worldbank_indicators') }}
),

joined as (
    select
        v.country_iso3,
        v.country_name,
        v.year,
        v.indicator_code,
        coalesce(i.indicator_name, v.indicator_label) as indicator_name,
        coalesce(i.unit, 'unknown') as unit,
        coalesce(i.topic, 'other') as topic,
        v.value,
        v.value is not null as is_reported,
        v.is_sample,
        'World Bank Indicators API v2' as source
    from values_ as v
    left join indicators as i on i.indicator_code = v.indicator_code
)

select
    cast(country_iso3 as varchar) as country_iso3,
    cast(country_name as varchar) as country_name,
    cast(year as integer) as year,
    cast(indicator_code as varchar) as indicator_code,
    cast(indicator_name as varchar) as indicator_name,
    cast(unit as varchar) as unit,
    cast(topic as varchar) as topic,
    cast(value as double) as value,
    cast(is_reported as boolean) as is_reported,
    cast(is_sample as boolean) as is_sample,
    cast(source as varchar) as source
from joined
