{%- set per_week = var('relations_key_events_per_week', 5) | int -%}
-- The stories behind the numbers: per pair and ISO week, the {{ per_week }} stories with the most
-- mentions (syndicated copies of one report already collapsed into one story), with their CAMEO
-- description, actors, tone and source URL, so a spike in relations_daily can be explained.
with stories as (
    select * from {{ ref('int_relations__stories') }}
),

ranked as (
    select
        *,
        cast(date_trunc('week', event_date) as date) as week_start,
        row_number() over (
            partition by pair, date_trunc('week', event_date)
            order by mentions desc, copies desc, story_id
        ) as rank_in_week
    from stories
)

select
    cast(pair as varchar) as pair,
    cast(week_start as date) as week_start,
    cast(rank_in_week as integer) as rank_in_week,
    cast(event_date as date) as event_date,
    cast(direction as varchar) as direction,
    cast(actor1_country as varchar) as actor1_country,
    cast(actor1_name as varchar) as actor1_name,
    cast(actor2_country as varchar) as actor2_country,
    cast(actor2_name as varchar) as actor2_name,
    cast(event_code as varchar) as event_code,
    cast(event_description as varchar) as event_description,
    cast(quad_class as integer) as quad_class,
    cast(round(goldstein_scale, 6) as double) as goldstein_scale,
    cast(round(avg_tone, 6) as double) as avg_tone,
    cast(mentions as bigint) as mentions,
    cast(copies as bigint) as copies,
    cast(nullif(source_url, '') as varchar) as source_url,
    cast(story_id as bigint) as global_event_id,
    cast(is_sample as boolean) as is_sample
from ranked
where rank_in_week <= {{ per_week }}
