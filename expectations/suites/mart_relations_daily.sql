-- Published relations_daily, with the days per pair and direction (pair_periods) next to the days
-- of the whole mart (all_periods): every pair is present for every day of the range.
with mart as (
    select * from marts.relations_daily
)

select
    *,
    count(distinct day) over (partition by pair, direction) as pair_periods,
    (select count(distinct day) from mart) as all_periods
from mart
