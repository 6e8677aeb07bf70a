-- Published World Bank country-level indicators: topic, US$ values (dbt bounds the percent values
-- and owns the keys), and the row count as a percentage of the rows this suite checked at its last
-- successful validation (pct_of_previous_rows; null on a first run).
with mart as (
    select
        topic,
        case when unit = 'current US$' then value end as usd_value
    from marts.country_indicators_annual
),

previous as (
    -- rows this suite checked at its last successful validation in an earlier run (none on a first run)
    select rows_checked
    from audit.validations
    where suite = '{suite}' and success and run_id <> '{run_id}'
    order by validated_at desc
    limit 1
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
