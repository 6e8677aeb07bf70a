-- The undirected country pairs the relations marts cover: the latest run's configured pairs
-- (a configured pair without events yet gets zero rows); before any run has recorded its
-- configuration, every pair with GDELT events or DOC API news. is_sample: any contributing row of
-- the pair comes from generated sample data.
with configured as (
    select pair, country_a, country_b from {{ ref('stg_gdelt_events__configured_pairs') }}
),

events as (
    select pair, country_a, country_b, is_sample from {{ ref('stg_gdelt_events__events') }}
),

news as (
    select pair, split_part(pair, '-', 1) as country_a, split_part(pair, '-', 2) as country_b, is_sample
    from {{ ref('stg_gdelt_doc__timeline') }}
),

with_data as (
    select * from events
    union all
    select * from news
),

seen as (
    select pair, min(country_a) as country_a, min(country_b) as country_b, bool_or(is_sample) as is_sample
    from with_data
    group by pair
),

covered as (
    select pair, country_a, country_b from configured
    union all
    select pair, country_a, country_b from seen
    where not exists (select 1 from configured)
)

select c.pair, c.country_a, c.country_b, coalesce(s.is_sample, false) as is_sample
from covered as c
left join seen as s on s.pair = c.pair
