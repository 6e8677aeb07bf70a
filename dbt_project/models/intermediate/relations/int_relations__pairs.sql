-- The undirected country pairs the relations marts cover: every pair with GDELT events or DOC API
-- news in the warehouse (the loaders keep only configured pairs). is_sample: any contributing row
-- of the pair comes from generated sample data.
with events as (
    select pair, country_a, country_b, is_sample from {{ ref('stg_gdelt__events') }}
),

news as (
    select pair, split_part(pair, '-', 1) as country_a, split_part(pair, '-', 2) as country_b, is_sample
    from {{ ref('stg_gdelt__doc_timeline') }}
),

unioned as (
    select * from events
    union all
    select * from news
)

select pair, min(country_a) as country_a, min(country_b) as country_b, bool_or(is_sample) as is_sample
from unioned
group by pair
