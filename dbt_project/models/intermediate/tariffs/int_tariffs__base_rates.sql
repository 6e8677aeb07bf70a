-- Applied base rates by importer x partner x HS6 x year from WITS TRAINS: partner WLD = MFN,
-- a country = preferential (only where an agreement exists). One row per key.
with lines as (
    select * from {{ ref('stg_wits__tariff_lines') }}
    where datatype = '{{ var("tariff_wits_datatype", "reported") }}'
      and reporter_iso3 is not null and partner_iso3 is not null
)

select
    reporter_iso3 as importer_iso3,
    partner_iso3,
    hs6,
    year,
    rate_pct,
    tariff_type,
    nomen_code,
    is_sample
from lines
