-- The HS6 nomenclature by vintage (seed tariff_hs6_universe): one row per subheading x vintage, with
-- the years the vintage is used for. H5 (HS2017) serves every year before 2022 (the schedule horizon
-- starts in 2015, when HS2012 was in force: no registry measure is in force before 2018), H6 (HS2022)
-- from 2022.
with source as (
    select * from {{ ref('tariff_hs6_universe') }}
)

select
    trim(hs6) as hs6,
    upper(trim(hs_vintage)) as hs_vintage,
    case upper(trim(hs_vintage)) when 'H5' then date '1900-01-01' when 'H6' then date '2022-01-01' end as vintage_from,
    case upper(trim(hs_vintage)) when 'H5' then date '2021-12-31' when 'H6' then date '9999-12-31' end as vintage_to,
    trim(source) as source
from source
