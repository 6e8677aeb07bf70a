-- The undirected 'both' row of a pair-month holds exactly the events of its two directions.
select pair, month,
       sum(events) filter (where direction = 'both') as both_events,
       sum(events) filter (where direction <> 'both') as directed_events
from {{ ref('relations_monthly') }}
group by pair, month
having sum(events) filter (where direction = 'both') <> sum(events) filter (where direction <> 'both')
