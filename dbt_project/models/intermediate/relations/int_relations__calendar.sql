-- One row per day the relations marts cover: from the earliest event date reported by the
-- loaded batches (back-references dated more than 31 days before the first batch are left out)
-- to the day of the newest batch. Days without events inside this range are real zeros.
with events as (
    select event_date, date_added_day from {{ ref('stg_gdelt_events__events') }}
),

bounds as (
    select min(date_added_day) as first_added, max(date_added_day) as last_added from events
),

first_day as (
    select min(e.event_date) as first_day, any_value(b.last_added) as last_day
    from events as e
    cross join bounds as b
    where e.event_date >= b.first_added - interval 31 day and e.event_date <= b.last_added
),

days as (
    select cast(unnest(generate_series(first_day, last_day, interval 1 day)) as date) as day
    from first_day
    where first_day is not null
)

select day, cast(date_trunc('month', day) as date) as month from days
