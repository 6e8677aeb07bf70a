-- The HS code list registry rows are checked against and expanded over: code and level.
-- Interface on purpose (two columns): it reads the HS reference seed (UN Comtrade HS.json,
-- all vintages) so the tariff models do not wait for the trade domain's dim_product.
with hs as (
    select * from {{ ref('tariff_hs_reference') }}
)

select
    cast(hs_code as varchar) as hs_code,
    cast(hs_level as integer) as hs_level
from hs
where hs_level in (2, 4, 6)
