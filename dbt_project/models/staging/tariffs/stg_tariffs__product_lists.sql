-- One row per product list x HS vintage x code of the seed tariff_product_lists, trimmed and typed;
-- the code parsed like a registry token (2/4/6-digit code, a range of equal-length codes or ALL).
with source as (
    select * from {{ ref('tariff_product_lists') }}
),

trimmed as (
    select
        upper(nullif(trim(list_id), '')) as list_id,
        upper(nullif(trim(hs_vintage), '')) as hs_vintage,
        upper(replace(coalesce(trim(hs_code), ''), ' ', '')) as hs_code,
        try_cast(nullif(trim(share_of_parent), '') as double) as share_of_parent,
        nullif(trim(share_of_parent), '') as share_of_parent_text,
        try_cast(nullif(trim(listed_lines), '') as integer) as listed_lines,
        try_cast(nullif(trim(parent_lines), '') as integer) as parent_lines,
        lower(nullif(trim(list_level), '')) as list_level,
        upper(nullif(trim(confidence), '')) as confidence,
        nullif(trim(source_publisher), '') as source_publisher,
        nullif(trim(source_ref), '') as source_ref
    from source
)

select
    *,
    case
        when hs_code = 'ALL' then 'all'
        when regexp_full_match(hs_code, '[0-9]{2}|[0-9]{4}|[0-9]{6}') then 'code'
        when regexp_full_match(hs_code, '([0-9]{2}|[0-9]{4}|[0-9]{6})-([0-9]{2}|[0-9]{4}|[0-9]{6})')
             and length(split_part(hs_code, '-', 1)) = length(split_part(hs_code, '-', 2)) then 'range'
        else 'malformed'
    end as code_kind,
    split_part(hs_code, '-', 1) as code_from,
    coalesce(nullif(split_part(hs_code, '-', 2), ''), hs_code) as code_to,
    length(split_part(hs_code, '-', 1)) as code_length
from trimmed
