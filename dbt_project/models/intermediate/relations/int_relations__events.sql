-- Events of the covered pairs (int_relations__pairs) inside the calendar, with their direction within the pair
-- (a_to_b: actor 1 is the alphabetically first country) and their CAMEO description.
with events as (
    select * from {{ ref('stg_gdelt_events__events') }}
),

calendar as (
    select min(day) as first_day, max(day) as last_day from {{ ref('int_relations__calendar') }}
),

cameo as (
    select * from {{ ref('cameo_event_codes') }}
),

pairs as (
    select pair from {{ ref('int_relations__pairs') }}
),

in_range as (
    select e.*
    from events as e
    cross join calendar as c
    where e.event_date between c.first_day and c.last_day
      and e.pair in (select pair from pairs)
),

described as (
    select
        e.*,
        case when e.actor1_country = e.country_a then 'a_to_b' else 'b_to_a' end as direction,
        cast(date_trunc('month', e.event_date) as date) as month,
        coalesce(c.event_description, 'unknown CAMEO code ' || e.event_code) as event_description,
        c.root_description
    from in_range as e
    left join cameo as c on c.event_code = e.event_code
)

select * from described
