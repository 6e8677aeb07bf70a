-- One row per registry row x HS6 subheading it covers: chapters, headings and ranges expanded
-- over the HS reference, minus the row's carve-outs. UNLISTED rows have no products here.
with tokens as (
    select * from {{ ref('int_tariffs__registry_tokens') }}
    where token_kind in ('all', 'code', 'range')
),

hs6 as (
    select hs_code from {{ ref('int_tariffs__hs_codes') }} where hs_level = 6
),

matched as (
    select t.row_id, t.token_role, h.hs_code as hs6
    from tokens as t
    join hs6 as h
        on t.token_kind = 'all'
        or left(h.hs_code, t.code_length) between t.code_from and t.code_to
),

covered as (
    select distinct row_id, hs6 from matched where token_role = 'covered'
),

excluded as (
    select distinct row_id, hs6 from matched where token_role = 'excluded'
)

select c.row_id, c.hs6
from covered as c
anti join excluded as e on e.row_id = c.row_id and e.hs6 = c.hs6
