-- One row per ISO3 code (the join key everywhere): Comtrade's reporter code for current reporters,
-- else the current partner code; M49 where Comtrade deviates from it; name, region, group flag.
with partners as (
    select
        cast(id as integer) as comtrade_code,
        case when cast(id as integer) = 0 then 'W00' else trim(iso_3) end as iso3,
        nullif(trim(iso_2), '') as iso2,
        trim(country) as name,
        nullif(trim(note), '') as note,
        nullif(trim(exit_year), '') is not null as is_historical,
        lower(trim("group")) = 'true' as is_group
    from {{ ref('comtrade_partners') }}
),

reporters as (
    select reporter_code, iso3, nullif(iso2, '') as iso2, reporter_desc, reporter_note
    from {{ ref('comtrade_reporters') }}
    where not is_group and coalesce(entry_expired_date, '') = '' and length(iso3) = 3
),

partner_pick as (
    -- one Comtrade partner row per ISO3: current before historical, a reporter code first, then the highest code
    select p.*
    from partners as p
    left join reporters as r on r.reporter_code = p.comtrade_code
    qualify row_number() over (
        partition by p.iso3
        order by p.is_historical, (r.reporter_code is null), p.comtrade_code desc
    ) = 1
),

regions as (
    select iso3, region from {{ ref('country_regions') }}
),

joined as (
    select
        p.iso3 as country_iso3,
        coalesce(r.iso2, p.iso2) as country_iso2,
        coalesce(r.reporter_code, p.comtrade_code) as comtrade_code,
        -- Comtrade's own codes that are not M49 (docs/reference/country-codes.md); 490 has no M49 code
        case coalesce(r.reporter_code, p.comtrade_code)
            when 842 then 840 when 251 then 250 when 699 then 356 when 757 then 756
            when 579 then 578 when 381 then 380 when 490 then null when 0 then 1
            else coalesce(r.reporter_code, p.comtrade_code)
        end as m49_code,
        coalesce(r.reporter_desc, p.name) as country_name,
        coalesce(r.reporter_note, p.note) as comtrade_note,
        case when p.iso3 = 'W00' then 'World' else g.region end as region,
        p.is_group or p.iso3 = 'W00' or not regexp_full_match(p.iso3, '[A-Z]{3}') as is_group,
        r.reporter_code is not null as is_comtrade_reporter
    from partner_pick as p
    left join reporters as r on r.iso3 = p.iso3
    left join regions as g on g.iso3 = p.iso3
)

select
    cast(country_iso3 as varchar) as country_iso3,
    cast(country_iso2 as varchar) as country_iso2,
    cast(comtrade_code as integer) as comtrade_code,
    cast(m49_code as integer) as m49_code,
    cast(country_name as varchar) as country_name,
    cast(region as varchar) as region,
    cast(is_group as boolean) as is_group,
    cast(is_comtrade_reporter as boolean) as is_comtrade_reporter,
    cast(comtrade_note as varchar) as comtrade_note
from joined
