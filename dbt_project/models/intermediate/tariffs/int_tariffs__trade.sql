-- The trade interface of the tariff models: imports by importer x exporter x period x product code,
-- read from the trade domain's mart trade_by_product by its documented columns (reporter =
-- importer, partner = exporter, imports_usd = the importer's reported imports, CIF). Product codes
-- are HS chapters plus the headings/subheadings the trade domain lists for the tariff measures.
with trade as (
    select * from {{ ref('trade_by_product') }}
)

select
    reporter_iso3 as importer_iso3,
    partner_iso3 as exporter_iso3,
    case when lower(period_type) in ('m', 'month', 'monthly') then 'month' else 'year' end as period_kind,
    cast(period_start as date) as period_start,
    cast(year as integer) as year,
    cast(month as integer) as month,
    product_code,
    length(product_code) as code_length,
    left(product_code, 2) as hs_chapter,
    cast(imports_usd as double) as imports_usd,
    is_sample
from trade
where imports_usd is not null
  and regexp_full_match(product_code, '[0-9]{2}|[0-9]{4}|[0-9]{6}')
