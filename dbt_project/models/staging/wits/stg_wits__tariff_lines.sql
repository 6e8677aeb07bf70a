-- One row per reporter x partner x HS6 product x year: WITS TRAINS applied tariffs, typed, with
-- WITS numeric codes mapped to ISO3; re-fetches resolved to the latest load.
with source as (
    {{ accepted_records('wits', 'wits_trn_tariff') }}
),

countries as (
    select * from {{ ref('tariff_wits_countries') }}
),

renamed as (
    select
        s.reporter_code,
        r.iso3 as reporter_iso3,
        s.partner_code,
        case when s.partner_code = '000' then 'WLD' else p.iso3 end as partner_iso3,
        s.product_code as hs6,
        s.product_name,
        cast(s.year as integer) as year,
        cast(s.rate as double) as rate_pct,
        s.tariff_type,
        s.nomen_code,
        s.min_rate as min_rate_pct,
        s.max_rate as max_rate_pct,
        s.total_lines,
        lower(s.datatype) as datatype,
        s._synthetic as is_sample,
        s._origin as origin,
        s._run_id as loaded_run_id,
        s._loaded_at as loaded_at,
        s._observed_at as observed_at,
        s._landed_file as landed_file,
        s.record_no
    from source as s
    left join countries as r on r.wits_code = s.reporter_code
    left join countries as p on p.wits_code = s.partner_code
    where regexp_full_match(s.product_code, '[0-9]{6}')
),

latest as (
    select *
    from renamed
    qualify row_number() over (
        partition by reporter_code, partner_code, hs6, year, datatype
        order by observed_at desc, loaded_at desc, landed_file desc, record_no
    ) = 1
)

select
    reporter_iso3, reporter_code, partner_iso3, partner_code, hs6, product_name, year, rate_pct,
    tariff_type, nomen_code, min_rate_pct, max_rate_pct, total_lines, datatype, is_sample, origin,
    loaded_run_id, loaded_at
from latest
