-- Published country_pair_monthly, with the counts that show every configured pair (the latest
-- run's countries.pairs) present (mart_pairs = configured_pairs) for every month of the range
-- (pair_periods = all_periods).
with mart as (
    select * from marts.country_pair_monthly
),

mart_totals as (
    select
        count(distinct month) as all_periods,
        count(distinct pair) as mart_pairs
    from mart
),

configured as (
    -- no configured pairs recorded (e.g. gdelt_events never ran): compare with the mart itself
    select coalesce(
        nullif((select count(*) from staging.stg_gdelt__configured_pairs), 0),
        (select mart_pairs from mart_totals)
    ) as configured_pairs
)

select
    mart.*,
    count(distinct mart.month) over (partition by mart.pair) as pair_periods,
    mart_totals.all_periods,
    mart_totals.mart_pairs,
    configured.configured_pairs
from mart
cross join mart_totals
cross join configured
