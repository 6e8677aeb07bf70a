-- The HS code list registry rows are checked against and expanded over: code and level (2, 4, 6),
-- from the trade domain's dim_product (UN Comtrade's HS reference list, every HS vintage).
with products as (
    select * from {{ ref('dim_product') }}
)

select
    cast(product_code as varchar) as hs_code,
    cast(case hs_level when 'chapter' then 2 when 'heading' then 4 when 'subheading' then 6 end as integer) as hs_level
from products
where hs_level in ('chapter', 'heading', 'subheading')
