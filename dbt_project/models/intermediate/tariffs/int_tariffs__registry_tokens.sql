-- One row per registry row x HS token (from hs_codes: role 'covered'; from hs_excluded: role
-- 'excluded'), parsed: ALL, UNLISTED, LIST:<list_id> (a product list of the seed tariff_product_lists),
-- a 2/4/6-digit code, a range of equal-length codes, or malformed.
with registry as (
    select * from {{ ref('stg_tariffs__measures_registry') }}
),

raw_tokens as (
    select row_id, 'covered' as token_role, unnest(string_split(hs_codes, ';')) as token
    from registry
    where hs_codes <> ''
    union all
    select row_id, 'excluded' as token_role, unnest(string_split(hs_excluded, ';')) as token
    from registry
    where hs_excluded <> ''
),

parsed as (
    select
        row_id,
        token_role,
        token,
        case
            when token = 'ALL' then 'all'
            when token = 'UNLISTED' then 'unlisted'
            when regexp_full_match(token, 'LIST:[A-Z0-9][A-Z0-9._-]*') then 'list'
            when regexp_full_match(token, '[0-9]{2}|[0-9]{4}|[0-9]{6}') then 'code'
            when regexp_full_match(token, '([0-9]{2}|[0-9]{4}|[0-9]{6})-([0-9]{2}|[0-9]{4}|[0-9]{6})')
                 and length(split_part(token, '-', 1)) = length(split_part(token, '-', 2)) then 'range'
            else 'malformed'
        end as token_kind
    from raw_tokens
)

select
    row_id,
    token_role,
    token,
    token_kind,
    case when token_kind = 'code' then token when token_kind = 'range' then split_part(token, '-', 1) end as code_from,
    case when token_kind = 'code' then token when token_kind = 'range' then split_part(token, '-', 2) end as code_to,
    case when token_kind in ('code', 'range') then length(split_part(token, '-', 1)) end as code_length,
    case when token_kind = 'list' then substr(token, 6) end as list_id
from parsed
