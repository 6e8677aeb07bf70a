-- Every pair x direction of relations_daily has one row for every day of the calendar (missing
-- days are zeros, not gaps). Returns the pair/direction combinations that do not.
with expected as (
    select count(*) as days from {{ ref('int_relations__calendar') }}
),

actual as (
    select pair, direction, count(*) as days, count(distinct day) as distinct_days
    from {{ ref('relations_daily') }}
    group by pair, direction
)

select a.*, e.days as expected_days
from actual as a
cross join expected as e
where a.days <> e.days or a.distinct_days <> e.days
