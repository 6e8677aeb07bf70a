-- HS hierarchy from Comtrade's HS reference list: section -> chapter -> heading -> subheading,
-- one row per code (TOTAL included), each with the names of all its levels.
with codes as (
    select product_code, nullif(parent_code, '') as parent_code, aggr_level, is_leaf = 1 as is_leaf, product_name
    from {{ ref('comtrade_hs_codes') }}
),

sections as (
    select section_code, section_name, first_chapter, last_chapter from {{ ref('comtrade_hs_sections') }}
),

levels as (
    select
        c.*,
        case c.aggr_level when 0 then 'total' when 2 then 'chapter' when 4 then 'heading' else 'subheading' end as hs_level,
        case when c.aggr_level >= 2 then left(c.product_code, 2) end as hs_chapter,
        case when c.aggr_level >= 4 then left(c.product_code, 4) end as hs_heading,
        case when c.aggr_level = 6 then c.product_code end as hs_subheading
    from codes as c
),

named as (
    select
        l.*,
        s.section_code as hs_section_code,
        s.section_name as hs_section_name,
        ch.product_name as hs_chapter_name,
        hd.product_name as hs_heading_name
    from levels as l
    left join sections as s on l.hs_chapter between s.first_chapter and s.last_chapter
    left join codes as ch on ch.product_code = l.hs_chapter
    left join codes as hd on hd.product_code = l.hs_heading
)

select
    cast(product_code as varchar) as product_code,
    cast(hs_level as varchar) as hs_level,
    cast(product_name as varchar) as product_name,
    cast(parent_code as varchar) as parent_code,
    cast(hs_section_code as varchar) as hs_section_code,
    cast(hs_section_name as varchar) as hs_section_name,
    cast(hs_chapter as varchar) as hs_chapter,
    cast(hs_chapter_name as varchar) as hs_chapter_name,
    cast(hs_heading as varchar) as hs_heading,
    cast(hs_heading_name as varchar) as hs_heading_name,
    cast(hs_subheading as varchar) as hs_subheading,
    cast(is_leaf as boolean) as is_leaf
from named
