-- Events collapsed to stories: syndicated copies of one report (same day, same directed dyad,
-- same CAMEO code, same source URL) become one row with summed mentions (the Argus dedup rule; method in
-- docs/sources/gdelt.md, "Relations index: method and the public work it follows"). The relations index and the key events read stories, so one story repeated a
-- hundred times counts once.
with events as (
    select * from {{ ref('int_relations__events') }}
),

stories as (
    select
        pair,
        country_a,
        country_b,
        direction,
        event_date,
        month,
        actor1_country,
        actor2_country,
        event_code,
        coalesce(source_url, '') as source_url,
        min(global_event_id) as story_id,
        count(*) as copies,
        sum(num_mentions) as mentions,
        sum(num_articles) as articles,
        max(quad_class) as quad_class,
        cast(avg(cast(goldstein_scale as decimal(18, 4))) as double) as goldstein_scale,
        cast(round(sum(cast(avg_tone as decimal(18, 6)) * greatest(num_mentions, 1)) / sum(greatest(num_mentions, 1)), 6)
             as double) as avg_tone,
        arg_max(actor1_name, num_mentions) as actor1_name,
        arg_max(actor2_name, num_mentions) as actor2_name,
        any_value(event_description) as event_description,
        bool_or(is_sample) as is_sample
    from events
    group by pair, country_a, country_b, direction, event_date, month, actor1_country, actor2_country, event_code,
             coalesce(source_url, '')
)

select * from stories
