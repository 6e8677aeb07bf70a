-- Monthly counts are the sums of the daily ones (same events, same calendar).
with daily as (
    select pair, direction, month, sum(events) as events, sum(material_conflict_events) as material_conflict_events,
           sum(mentions) as mentions
    from {{ ref('relations_daily') }}
    group by pair, direction, month
)

select m.pair, m.direction, m.month, m.events, d.events as daily_events
from {{ ref('relations_monthly') }} as m
full outer join daily as d on d.pair = m.pair and d.direction = m.direction and d.month = m.month
where m.events is distinct from d.events
   or m.material_conflict_events is distinct from d.material_conflict_events
   or m.mentions is distinct from d.mentions
