-- USMCA/CUSMA qualifying shares (seed tariff_usmca_shares): one row per importer x exporter x HS
-- chapter x period, typed; valid_to null = open-ended.
with source as (
    select * from {{ ref('tariff_usmca_shares') }}
)

select
    upper(trim(importer_iso3)) as importer_iso3,
    upper(trim(exporter_iso3)) as exporter_iso3,
    trim(hs_chapter) as hs_chapter,
    try_strptime(nullif(trim(valid_from), ''), '%Y-%m-%d')::date as valid_from,
    coalesce(try_strptime(nullif(trim(valid_to), ''), '%Y-%m-%d')::date, date '9999-12-31') as valid_to,
    try_cast(qualifying_share as double) as qualifying_share,
    upper(trim(confidence)) as confidence,
    nullif(trim(source_publisher), '') as source_publisher,
    nullif(trim(source_ref), '') as source_ref
from source
