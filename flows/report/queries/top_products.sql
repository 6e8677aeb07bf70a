-- The products $a trades most with $b (HS chapters and tracked HS6 lines), every year, with year-on-year change.
-- Reads marts.trade_by_product (reporter $a, partner $b, annual rows). The top 12 are ranked by exports plus
-- imports in the latest year with data; trade_yoy_pct is the change of that total on the year before.
with annual as (
    select year, product_code, hs_level, product_name, exports_usd, imports_usd,
           coalesce(exports_usd, 0) + coalesce(imports_usd, 0) as trade_usd,
           exports_yoy_pct, imports_yoy_pct, is_sample
    from marts.trade_by_product
    where reporter_iso3 = $a and partner_iso3 = $b and period_type = 'annual'
      and hs_level in ('chapter', 'subheading')
),
latest as (
    select max(year) as year from annual
),
top_codes as (
    select product_code
    from annual join latest using (year)
    order by trade_usd desc, product_code
    limit 12
),
with_change as (
    select *, lag(trade_usd) over (partition by product_code order by year) as prev_trade_usd
    from annual semi join top_codes using (product_code)
)
select year, product_code, hs_level,
       product_code || ' ' || coalesce(left(product_name, 60), '') as product,
       exports_usd, imports_usd, trade_usd,
       exports_yoy_pct, imports_yoy_pct,
       round(100 * (trade_usd - prev_trade_usd) / nullif(prev_trade_usd, 0), 2) as trade_yoy_pct,
       is_sample
from with_change
order by product_code, year
