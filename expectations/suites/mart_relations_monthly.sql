-- Published relations_monthly, with the months per pair and direction (pair_periods) next to the
-- months of the whole mart (all_periods): every pair is present for every month of the range.
with mart as (
    select * from marts.relations_monthly
)

select
    *,
    count(distinct month) over (partition by pair, direction) as pair_periods,
    (select count(distinct month) from mart) as all_periods
from mart
