-- Covered trade never exceeds total trade, and the product rows never exceed their chapter row.
with exposure as (
    select * from {{ ref('tariff_exposure') }}
),

products as (
    select importer_iso3, exporter_iso3, month, left(hs_code, 2) as hs_chapter,
           sum(base_trade_usd) filter (where hs_level = 'subheading' and hs_code not in (
               select hs_code from exposure where hs_level = 'heading')) as product_base_usd
    from exposure
    where hs_level in ('heading', 'subheading')
    group by all
)

select e.importer_iso3, e.exporter_iso3, e.month, e.hs_code, 'covered base trade above total' as problem
from exposure as e
where e.covered_base_trade_usd > e.base_trade_usd * (1 + 1e-9) + 1e-6
union all
select p.importer_iso3, p.exporter_iso3, p.month, p.hs_chapter, 'listed products above their chapter'
from products as p
join exposure as c
    on c.importer_iso3 = p.importer_iso3 and c.exporter_iso3 = p.exporter_iso3 and c.month = p.month
   and c.hs_level = 'chapter' and c.hs_code = p.hs_chapter
where p.product_base_usd > c.base_trade_usd * (1 + 1e-9) + 1e-6
