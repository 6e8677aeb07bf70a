-- One row per registry row x HS6 subheading it covers (x HS vintage for product lists), after
-- carve-outs. Codes, chapters, headings, ranges and ALL expand over the HS reference (every vintage;
-- hs_vintage null, coverage_share 1); a LIST:<id> token expands the list's codes over the HS6 lines of
-- each vintage the list gives, with the share of the parent's national lines the list covers
-- (coverage_share). UNLISTED rows have no products here.
with tokens as (
    select * from {{ ref('int_tariffs__registry_tokens') }}
    where token_kind in ('all', 'code', 'range', 'list')
),

hs6 as (
    select hs_code from {{ ref('int_tariffs__hs_codes') }} where hs_level = 6
),

universe as (
    select hs6, hs_vintage from {{ ref('stg_tariffs__hs6_universe') }}
),

lists as (
    select * from {{ ref('stg_tariffs__product_lists') }} where code_kind <> 'malformed'
),

matched_codes as (
    select t.row_id, t.token_role, h.hs_code as hs6, cast(null as varchar) as hs_vintage, 1.0::double as coverage_share
    from tokens as t
    join hs6 as h
        on t.token_kind = 'all'
        or (t.token_kind in ('code', 'range') and left(h.hs_code, t.code_length) between t.code_from and t.code_to)
),

list_codes as (
    select t.row_id, t.token_role, l.*
    from tokens as t
    join lists as l on l.list_id = t.list_id
    where t.token_kind = 'list'
),

-- each line under its 2-, 4- and 6-digit prefixes, so single codes join by equality (a hash join)
prefixes as (
    select u.hs6, u.hs_vintage, n.code_length, left(u.hs6, n.code_length) as prefix
    from universe as u
    cross join (values (2), (4), (6)) as n(code_length)
),

matched_lists as (
    select c.row_id, c.token_role, p.hs6, p.hs_vintage, c.share_of_parent as coverage_share
    from list_codes as c
    join prefixes as p on p.hs_vintage = c.hs_vintage and p.code_length = c.code_length and p.prefix = c.code_from
    where c.code_kind = 'code'
    union all
    select c.row_id, c.token_role, u.hs6, u.hs_vintage, c.share_of_parent
    from list_codes as c
    join universe as u on u.hs_vintage = c.hs_vintage and left(u.hs6, c.code_length) between c.code_from and c.code_to
    where c.code_kind = 'range'
    union all
    select c.row_id, c.token_role, u.hs6, u.hs_vintage, c.share_of_parent
    from list_codes as c
    join universe as u on u.hs_vintage = c.hs_vintage
    where c.code_kind = 'all'
),

matched as (
    select * from matched_codes
    union all
    select * from matched_lists
),

covered as (
    -- a product named twice by one row (a list and a code, or two lists) counts once, at its largest share
    select row_id, hs6, hs_vintage, max(coverage_share) as coverage_share
    from matched where token_role = 'covered'
    group by all
),

excluded as (
    select distinct row_id, hs6 from matched where token_role = 'excluded'
)

select c.row_id, c.hs6, c.hs_vintage, least(greatest(c.coverage_share, 0), 1) as coverage_share
from covered as c
anti join excluded as e on e.row_id = c.row_id and e.hs6 = c.hs6
