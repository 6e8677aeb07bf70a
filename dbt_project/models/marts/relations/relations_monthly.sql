{%- set stale_days = var('relations_news_stale_after_days', 1) | int -%}
-- Pair x direction x month: GDELT event counts by QuadClass, mention-weighted Goldstein and tone,
-- cooperation shares, volume normalised by GDELT's total events of the month, and DOC API news
-- volume and tone (on the 'both' rows). Zero-filled: every covered pair has a row for every
-- direction and every month of the calendar, with 0 events when nothing happened.
with events as (
    select * from {{ ref('int_relations__events') }}
),

exploded as (
    select pair, direction, month, quad_class, num_mentions, goldstein_scale, avg_tone from events
    union all
    select pair, 'both' as direction, month, quad_class, num_mentions, goldstein_scale, avg_tone from events
),

aggregated as (
    select
        pair,
        direction,
        month,
        count(*) as events,
        count(*) filter (where quad_class = 1) as verbal_cooperation_events,
        count(*) filter (where quad_class = 2) as material_cooperation_events,
        count(*) filter (where quad_class = 3) as verbal_conflict_events,
        count(*) filter (where quad_class = 4) as material_conflict_events,
        sum(num_mentions) as mentions,
        -- exact decimal sums: the result does not depend on the order parallel aggregation adds in
        sum(cast(goldstein_scale as decimal(18, 4)) * num_mentions)
            / nullif(sum(num_mentions) filter (where goldstein_scale is not null), 0) as goldstein_mention_weighted,
        sum(cast(avg_tone as decimal(18, 6)) * num_mentions)
            / nullif(sum(num_mentions) filter (where avg_tone is not null), 0) as tone_mention_weighted
    from exploded
    group by pair, direction, month
),

volume as (
    select cast(date_trunc('month', batch_day) as date) as month, sum(csv_rows) as gdelt_events_total
    from {{ ref('stg_gdelt_events__export_files') }}
    where status = 'loaded'
    group by 1
),

news as (
    select
        pair,
        cast(date_trunc('month', step_day) as date) as month,
        count(distinct step_day) filter (where mode = 'timelinevolraw') as news_days,
        sum(cast(value as decimal(38, 6))) filter (where mode = 'timelinevolraw') as news_articles,
        sum(cast(norm as decimal(38, 6))) filter (where mode = 'timelinevolraw') as news_articles_monitored,
        avg(cast(value as decimal(18, 6))) filter (where mode = 'timelinetone') as news_avg_tone
    from {{ ref('stg_gdelt_doc__timeline') }}
    group by 1, 2
),

news_last as (
    select pair, max(step_day) as last_news_day from {{ ref('stg_gdelt_doc__timeline') }} group by pair
),

calendar as (
    select month, count(*) as days_covered, min(day) as first_day, max(day) as last_day
    from {{ ref('int_relations__calendar') }}
    group by month
),

last_day as (
    select max(last_day) as last_day from calendar
),

pairs as (
    select * from {{ ref('int_relations__pairs') }}
),

directions as (
    select unnest(['a_to_b', 'b_to_a', 'both']) as direction
),

grid as (
    select p.pair, p.country_a, p.country_b, p.is_sample, d.direction, c.month, c.days_covered
    from pairs as p
    cross join directions as d
    cross join calendar as c
),

joined as (
    select
        g.*,
        coalesce(a.events, 0) as events,
        coalesce(a.verbal_cooperation_events, 0) as verbal_cooperation_events,
        coalesce(a.material_cooperation_events, 0) as material_cooperation_events,
        coalesce(a.verbal_conflict_events, 0) as verbal_conflict_events,
        coalesce(a.material_conflict_events, 0) as material_conflict_events,
        coalesce(a.mentions, 0) as mentions,
        a.goldstein_mention_weighted,
        a.tone_mention_weighted,
        v.gdelt_events_total,
        i.index_stories,
        i.monthly_score,
        i.relations_index,
        i.relations_index - lag(i.relations_index) over (partition by g.pair, g.direction order by g.month)
            as relations_index_change,
        case when g.direction = 'both' then coalesce(n.news_days, 0) end as news_days,
        case when g.direction = 'both' then n.news_articles end as news_articles,
        case when g.direction = 'both' then n.news_articles_monitored end as news_articles_monitored,
        case when g.direction = 'both' then n.news_avg_tone end as news_avg_tone,
        coalesce(nl.last_news_day < l.last_day - {{ stale_days }}, true) as news_is_stale
    from grid as g
    cross join last_day as l
    left join aggregated as a on a.pair = g.pair and a.direction = g.direction and a.month = g.month
    left join volume as v on v.month = g.month
    left join news as n on n.pair = g.pair and n.month = g.month
    left join {{ ref('int_relations__index_monthly') }} as i
        on i.pair = g.pair and i.direction = g.direction and i.month = g.month
    left join news_last as nl on nl.pair = g.pair
)

select
    cast(pair as varchar) as pair,
    cast(country_a as varchar) as country_a,
    cast(country_b as varchar) as country_b,
    cast(direction as varchar) as direction,
    cast(case direction when 'a_to_b' then country_a when 'b_to_a' then country_b end as varchar) as source_country,
    cast(case direction when 'a_to_b' then country_b when 'b_to_a' then country_a end as varchar) as target_country,
    cast(month as date) as month,
    cast(days_covered as integer) as days_covered,
    cast(events as bigint) as events,
    cast(verbal_cooperation_events as bigint) as verbal_cooperation_events,
    cast(material_cooperation_events as bigint) as material_cooperation_events,
    cast(verbal_conflict_events as bigint) as verbal_conflict_events,
    cast(material_conflict_events as bigint) as material_conflict_events,
    cast(mentions as bigint) as mentions,
    cast(round(goldstein_mention_weighted, 6) as double) as goldstein_mention_weighted,
    cast(round(tone_mention_weighted, 6) as double) as tone_mention_weighted,
    cast(round((verbal_cooperation_events + material_cooperation_events) / nullif(events, 0), 6) as double) as cooperation_share,
    cast(round((verbal_cooperation_events + material_cooperation_events - verbal_conflict_events - material_conflict_events)
         / nullif(events, 0), 6) as double) as net_cooperation_share,
    cast(gdelt_events_total as bigint) as gdelt_events_total,
    cast(round(100000.0 * events / nullif(gdelt_events_total, 0), 6) as double) as events_per_100k_gdelt_events,
    cast(index_stories as bigint) as index_stories,
    cast(round(monthly_score, 6) as double) as monthly_score,
    cast(round(relations_index, 6) as double) as relations_index,
    cast(round(relations_index_change, 6) as double) as relations_index_change,
    cast(news_days as integer) as news_days,
    cast(round(news_articles, 6) as double) as news_articles,
    cast(round(news_articles_monitored, 6) as double) as news_articles_monitored,
    cast(round(news_avg_tone, 6) as double) as news_avg_tone,
    cast(news_is_stale as boolean) as news_is_stale,
    cast(is_sample as boolean) as is_sample
from joined
